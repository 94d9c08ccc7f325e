"""How much of each prompt a decoding step reads: steps short, the model's time shared.

Reading a prompt is the costly part of a reply on a CPU. A step that feeds every running
reply one token reads the weights once and takes about as long whatever the number of
replies (about 18 ms for the default model on two cores), but every prompt token in it
is a token's worth of arithmetic on its own (about 9 ms each there): a step holding 128
tokens of prompt takes over a second, and an 8,000-token prompt takes more than a
minute of the whole machine. So what a step reads is decided by time, not by tokens:

- **A step reads at most `STEP_S` of prompt**, counted at the measured cost of a prompt
  token. A reply that arrives while a long prompt is being read waits at most about
  that for its first step.
- **Ordinary turns go first.** A prompt with at most `SHORT_TOKENS` left (the new
  tokens of a turn, the rest of the conversation being cached) is read before any
  longer one, a whole step's worth.
- **A long prompt is read in the time the others leave.** While a reply generates or
  an ordinary turn waits, a long prompt reads a trickle: `DEFERRED_SHARE` of a step's
  time, so that the others' answers slow by about a quarter, not several times. It
  reads whole steps when nobody else needs the model. The exception is the long
  prompt of whoever has used the model least lately (a new session's long system
  instruction, say): it reads about as long as the step's generated tokens take.
- **Use is counted by tenant**, the key a session was opened with (`Conversation.
  tenant`), so that reconnecting or opening more sessions gains nothing: the time of
  the prompt tokens read for it and its part of each step it generated in, halving
  every `HALF_LIFE_S`. Among long prompts, and among ordinary turns, the least used
  tenant reads first.

A client that sends long prompts back to back is served, at the pace the model's spare
time allows; the others' answers are not held up behind it.

Pure bookkeeping, no I/O: `BatchDecoder` calls it from its thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFERRED_SHARE", "HALF_LIFE_S", "SHORT_TOKENS", "STEP_S", "PromptShare"]

STEP_S: Final = 0.1
"""The most time one step spends reading prompts."""
DEFERRED_SHARE: Final = 0.25
"""What a conversation past its share may add to a generating step's time, as a share
of the step's own time."""
HALF_LIFE_S: Final = 10.0
"""How fast a conversation's past use of the model is forgotten."""
MAX_OWNERS: Final = 4096
"""Owners whose use is kept; past it, those whose use has decayed to nothing go."""
SHORT_TOKENS: Final = 128
"""A prompt with at most this many tokens left to read is an ordinary turn (the new
tokens of a conversation whose cache is kept): it is read before any longer one."""


@dataclass(slots=True)
class _Use:
    seconds: float
    at: float


class PromptShare:
    """The measured cost of a step and of a prompt token, and each owner's recent use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.step_s = 0.02
        """A step of generated tokens alone (a running average)."""
        self.token_s = 0.002
        """A prompt token, beyond the step it is read in (a running average)."""
        self._use: dict[object, _Use] = {}
        self._credit: dict[object, float] = {}
        """Tokens a deferred owner has been allowed and not yet read."""

    # --- what a step reads -----------------------------------------------------------

    def plan(
        self, pending: Sequence[tuple[object, int]], generating: Sequence[object]
    ) -> list[int]:
        """How many tokens of each pending prompt (its owner, the tokens it has left) the
        next step reads, in the order given; `generating` are the owners of the replies
        that feed a token in that step."""
        room = max(1, int(STEP_S / self.token_s))
        if not pending:
            return []
        busy = bool(generating) or any(left <= SHORT_TOKENS for _, left in pending)
        used = {o: self.use(o) for o in [owner for owner, _ in pending] + list(generating)}
        order = sorted(
            range(len(pending)), key=lambda i: (pending[i][1] > SHORT_TOKENS, used[pending[i][0]])
        )
        least = min(used.values())
        equal = max(1, round(self.step_s / self.token_s))
        takes = [0] * len(pending)
        for i in order:
            owner, left = pending[i]
            if left <= SHORT_TOKENS or not busy:
                allowance = room  # an ordinary turn, or nobody waits on this step
            elif used[owner] <= least:
                allowance = equal  # the least used: as long as the step's own tokens
            else:
                allowance = self._trickle(owner)
            if allowance == room:
                self._credit.pop(owner, None)
            takes[i] = min(left, allowance, room)
            room -= takes[i]
            if room <= 0:
                break
        for i, take in enumerate(takes):
            if take and pending[i][0] in self._credit:
                self._credit[pending[i][0]] -= take
        return takes

    def _trickle(self, owner: object) -> int:
        """The whole tokens a deferred owner may read this step: its credit grows by
        `DEFERRED_SHARE` of a step's time at each step."""
        credit = self._credit.get(owner, 0.0) + DEFERRED_SHARE * self.step_s / self.token_s
        self._credit[owner] = credit
        return math.floor(credit)

    # --- what a step cost ------------------------------------------------------------

    def measured(
        self, seconds: float, prompt: Sequence[tuple[object, int]], generated: Sequence[object]
    ) -> None:
        """A step took `seconds`, reading `prompt` (owner, tokens) and feeding one token
        of each of `generated`: the averages learn from it and each owner is charged."""
        tokens = sum(n for _, n in prompt)
        if tokens == 0:
            self.step_s += 0.1 * (seconds - self.step_s)
        else:  # a step of a few tokens says less of their cost than one of many
            per_token = max(seconds - self.step_s, 0.0) / tokens
            self.token_s += min(0.5, 0.02 * tokens) * (max(per_token, 1e-5) - self.token_s)
        base = seconds - tokens * self.token_s
        for owner, n in prompt:
            self._charge(owner, n * self.token_s)
        for owner in generated:
            self._charge(owner, max(base, 0.0) / max(len(generated), 1))

    def use(self, owner: object) -> float:
        """`owner`'s use of the model, in seconds, decayed to now."""
        use = self._use.get(owner)
        if use is None:
            return 0.0
        now = self._clock()
        use.seconds *= 0.5 ** ((now - use.at) / HALF_LIFE_S)
        use.at = now
        return use.seconds

    def forget(self, owner: object) -> None:
        self._use.pop(owner, None)
        self._credit.pop(owner, None)

    def _charge(self, owner: object, seconds: float) -> None:
        self.use(owner)
        use = self._use.setdefault(owner, _Use(0.0, self._clock()))
        use.seconds += seconds
        if len(self._use) > MAX_OWNERS:  # owners never forgotten: keep those that count
            for other in [o for o in self._use if self.use(o) < 1e-3]:
                self.forget(other)
