"""The sequences of one llama.cpp context, each holding one conversation's KV cache.

A context with a unified KV cache holds up to `n_seq_max` sequences; every cell belongs
to one. `Sequences` says which conversation's cache sits in which sequence, and what it
holds, position by position, so that a reply reads only what its sequence does not hold
yet. A conversation keeps its sequence while it lives; one that needs a sequence when
none is free takes the least recently used idle one, whose conversation re-reads its
history next time; when the cells run out mid-step, the least recently used idle cache
is dropped (`evict`). Like the decoder, it runs on one thread and has no locks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KVSequence", "Sequences"]

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class KVSequence:
    id: int
    tokens: list[int] = field(default_factory=list)
    """What the KV cache holds for this sequence, position by position."""
    owner: object | None = None
    used: int = 0
    """The step it was last used in (least recently used sequences are reused first)."""
    busy: bool = False


class Sequences:
    """The `count` sequences of a context whose KV memory is `memory` (llama.cpp's
    `llama_memory_t`)."""

    def __init__(self, llama_cpp: Any, memory: Any, count: int) -> None:
        self._llama_cpp = llama_cpp
        self._memory = memory
        self._all = [KVSequence(i) for i in range(count)]

    def of(self, owner: object) -> KVSequence | None:
        """`owner`'s sequence; else a free one; else the least recently used idle one,
        whose cache is dropped (that conversation re-reads its history next time)."""
        for seq in self._all:
            if seq.owner is owner:
                return seq
        idle = [s for s in self._all if not s.busy]
        if not idle:
            return None
        seq = min(idle, key=lambda s: (s.owner is not None, s.used))
        self.forget(seq, 0)
        seq.owner = owner
        return seq

    def release(self, owner: object) -> None:
        """Forget `owner`'s cache, and its claim on a sequence."""
        for seq in self._all:
            if seq.owner is owner:
                self.forget(seq, 0)
                seq.owner = None

    def clear(self) -> None:
        """Drop every cache (the sequences keep their owners)."""
        for seq in self._all:
            self.forget(seq, 0)

    def evict(self) -> bool:
        """Drop the least recently used idle cache; False if there is none."""
        idle = [s for s in self._all if not s.busy and s.tokens]
        if not idle:
            return False
        seq = min(idle, key=lambda s: s.used)
        log.info("KV cache full: dropping an idle session's cache (%d tokens)", len(seq.tokens))
        self.forget(seq, 0)
        return True

    def forget(self, seq: KVSequence, keep: int) -> None:
        """Remove the cells of `seq` from position `keep` on."""
        if len(seq.tokens) > keep:
            self._llama_cpp.llama_memory_seq_rm(self._memory, seq.id, keep, -1)
            del seq.tokens[keep:]
