"""Admission control: how many sessions this node holds at once.

A node on the embedded models has a capacity: past a number of concurrent voice
sessions, two cores no longer keep every answer's latency (benchmarks/capacity.py). A
session takes a slot when its connection is accepted, before anything is awaited, so
that connections arriving together cannot overshoot it, and gives it back when it ends.
A connection that finds no slot is refused with the hosted service's close for a
concurrent-session limit (1011, `CAPACITY_REASON`); the sessions already admitted keep
their latency, and `/healthz` answers 503 while the node is full, so that a load
balancer sends new sessions elsewhere.

A node shared by several keys can also hold each key to a number of sessions
(`per_key`), so that one client cannot take every slot: the hosted service's
concurrent-session limit is per project, and it closes the same way.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["Admission"]


class Admission:
    def __init__(self, capacity: int | None, per_key: int | None = None) -> None:
        """`capacity`: the most sessions at once; `per_key`: the most for one key (its
        fingerprint); None: no limit."""
        for limit in (capacity, per_key):
            if limit is not None and limit < 1:
                raise ValueError(f"a capacity is at least one session, not {limit}")
        self.capacity = capacity
        self.per_key = per_key
        self.by_key: Counter[str] = Counter()
        """Sessions admitted and not yet ended, by key, once their key is known."""
        self.held = 0
        """Sessions admitted and not yet ended (including those still authenticating)."""
        self.refused = 0

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.held >= self.capacity

    def take(self) -> bool:
        """Take a slot for a new session; False (and counted) if there is none."""
        if self.full:
            self.refused += 1
            return False
        self.held += 1
        return True

    def give_back(self) -> None:
        assert self.held > 0, "a slot given back that was never taken"
        self.held -= 1

    def take_for(self, key: str) -> bool:
        """Count a session admitted on `key` (a slot already taken); False (and counted
        as refused) if that key holds `per_key` sessions already."""
        if self.per_key is not None and self.by_key[key] >= self.per_key:
            self.refused += 1
            return False
        self.by_key[key] += 1
        return True

    def give_back_for(self, key: str) -> None:
        assert self.by_key[key] > 0, "a key's session given back that was never taken"
        self.by_key[key] -= 1
        if not self.by_key[key]:
            del self.by_key[key]
