"""Admission control: how many sessions this node holds at once.

A node on the embedded models has a capacity: past a number of concurrent voice
sessions, two cores no longer keep every answer's latency (benchmarks/capacity.py). A
session takes a slot when its connection is accepted, before anything is awaited, so
that connections arriving together cannot overshoot it, and gives it back when it ends.
A connection that finds no slot is refused with the hosted service's close for a
concurrent-session limit (1011, `CAPACITY_REASON`); the sessions already admitted keep
their latency, and `/healthz` answers 503 while the node is full, so that a load
balancer sends new sessions elsewhere.
"""

from __future__ import annotations

__all__ = ["Admission"]


class Admission:
    def __init__(self, capacity: int | None) -> None:
        """`capacity`: the most sessions at once; None: no limit."""
        if capacity is not None and capacity < 1:
            raise ValueError(f"a capacity is at least one session, not {capacity}")
        self.capacity = capacity
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
