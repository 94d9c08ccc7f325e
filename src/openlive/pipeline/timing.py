"""Where a spoken turn's latency goes, stage by stage, for `/metrics` and the benchmarks.

Voice-to-voice latency runs from the last voiced sample of the user's speech to the
first audio of the answer. On the server it splits into four stages, each measured on
the monotonic clock:

- ``end_of_speech``: the arrival of the last voiced sample → the end of the turn
  decided (mostly the silence window, `silenceDurationMs`);
- ``recognition``: decided → transcript ready (near zero when the transcript was made
  speculatively during the pause, and the user did not go on);
- ``first_token``: transcript ready → the LLM's first token;
- ``first_audio``: first token → the first audio chunk handed to the socket (the first
  clause written and synthesized).

`VoiceStats` sums them per stage, as Prometheus summaries; a client that reads
`/metrics` before and after a turn gets that turn's figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["STAGES", "TurnTiming", "VoiceStats"]

STAGES = ("end_of_speech", "recognition", "first_token", "first_audio", "total")


@dataclass(slots=True)
class TurnTiming:
    """The moments of one spoken turn (`time.monotonic()` seconds)."""

    speech_end: float
    """When the audio holding the last voiced sample arrived."""
    decided: float
    """When the end of the turn was decided."""
    recognized: float
    """When its transcript was ready."""
    speculative: bool
    """Whether the transcript was made during the pause, before the decision."""
    first_token: float | None = None
    first_audio: float | None = None

    def token(self) -> None:
        if self.first_token is None:
            self.first_token = time.monotonic()

    def audio(self) -> None:
        if self.first_audio is None:
            self.first_audio = time.monotonic()

    def stages(self) -> dict[str, float]:
        """Each stage's length in seconds, once the first audio has been sent."""
        if self.first_token is None or self.first_audio is None:
            return {}
        # A transcript made before the decision waits for it: recognition costs nothing.
        recognized = max(self.recognized, self.decided)
        return {
            "end_of_speech": self.decided - self.speech_end,
            "recognition": recognized - self.decided,
            "first_token": max(0.0, self.first_token - recognized),
            "first_audio": self.first_audio - max(self.first_token, recognized),
            "total": self.first_audio - self.speech_end,
        }


@dataclass(slots=True)
class VoiceStats:
    """Counters shared by every session of a process."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    turns: int = 0
    """Spoken turns answered with audio, whose stages are counted in `seconds`."""
    speculations: int = 0
    """Transcripts started during a pause."""
    speculations_used: int = 0
    """Of those, the ones that became the turn's transcript."""
    answers_speculated: int = 0
    """Answers started during a pause, on its transcript (`speculation.py`)."""
    answers_used: int = 0
    """Of those, the ones that became the turn's answer."""
    answers_ready: int = 0
    """Of those, the ones whose first clause was synthesized when the turn was decided:
    their first audio left at once."""
    answers_discarded: int = 0
    """Of those, the ones thrown away (the user went on, or the turn was another)."""

    def record(self, timing: TurnTiming) -> None:
        stages = timing.stages()
        if not stages:
            return
        for stage, seconds in stages.items():
            self.seconds[stage] += seconds
        self.turns += 1
