"""Turn-taking from voice-activity probabilities: when the user starts and stops speaking.

A pure state machine, fed one VAD probability per 32 ms frame; it never awaits, so
every rule can be tested with plain lists of numbers::

    QUIET --speech for prefixPaddingMs--> SPEAKING --silence begins--> PAUSING
    PAUSING --speech again--> SPEAKING
    PAUSING --silence for silenceDurationMs--> QUIET (the turn ends)

`SpeechStarted` is only announced once the speech has lasted `prefix_padding_ms`, so a
click or a short cough neither starts a turn nor interrupts the model. The speech it
reports starts where the frames rose above the end threshold before it (the same
hysteresis as its end: a soft onset the VAD is not yet sure of is speech). `PauseStarted`
marks the first silent frame: the moment speculative work may start. `SpeechEnded`
closes the turn; `PauseEnded` says the speculation was wrong.

Thresholds follow the Live API's sensitivities (`START_SENSITIVITY_HIGH` detects speech
more readily, `END_SENSITIVITY_HIGH` ends it more readily); the defaults are documented
in docs/voice.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "FRAME_MS",
    "PauseEnded",
    "PauseStarted",
    "SpeechEnded",
    "SpeechStarted",
    "TurnDetector",
    "TurnEvent",
    "TurnSettings",
]

FRAME_MS = 32
"""One Silero VAD frame: 512 samples at 16 kHz."""


@dataclass(frozen=True, slots=True)
class TurnSettings:
    start_threshold: float = 0.5
    """Probability above which a frame counts as speech while quiet."""
    end_threshold: float = 0.35
    """Probability below which a frame counts as silence while speaking."""
    prefix_padding_ms: int = 160
    """Speech needed before the start of speech is committed."""
    silence_duration_ms: int = 500
    """Silence needed before the end of speech is committed."""

    @classmethod
    def from_live(
        cls,
        start_high: bool | None = None,
        end_high: bool | None = None,
        prefix_padding_ms: int | None = None,
        silence_duration_ms: int | None = None,
    ) -> TurnSettings:
        """From the setup's automaticActivityDetection (None keeps the default)."""
        default = cls()
        return cls(
            start_threshold=default.start_threshold if start_high in (None, True) else 0.7,
            end_threshold=default.end_threshold if end_high in (None, True) else 0.15,
            prefix_padding_ms=default.prefix_padding_ms
            if prefix_padding_ms is None
            else max(0, prefix_padding_ms),
            silence_duration_ms=default.silence_duration_ms
            if silence_duration_ms is None
            else max(0, silence_duration_ms),
        )


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    frame: int
    """The first frame of the speech: of the frames at or above the end threshold that
    led, without a break, to the run that started it (before the prefix padding was
    confirmed)."""


@dataclass(frozen=True, slots=True)
class PauseStarted:
    frame: int
    """The first silent frame: the speech so far may be the whole turn."""


@dataclass(frozen=True, slots=True)
class PauseEnded:
    frame: int
    """The user went on speaking after a pause that was not long enough."""


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    start: int
    end: int
    """The first silent frame after the speech (exclusive end of the turn's speech)."""


TurnEvent = SpeechStarted | PauseStarted | PauseEnded | SpeechEnded


class _State(enum.Enum):
    QUIET = "quiet"
    SPEAKING = "speaking"
    PAUSING = "pausing"


class TurnDetector:
    """Feed `push(probability)` once per frame; act on the events it returns."""

    def __init__(self, settings: TurnSettings | None = None) -> None:
        self.settings = settings or TurnSettings()
        self._state = _State.QUIET
        self._frame = -1
        self._run_start = 0
        """QUIET: first frame of the current run of speech-like frames."""
        self._rise: int | None = None
        """QUIET: first frame of the current stretch at or above the end threshold."""
        self._run = 0
        self._speech_start = 0
        self._pause_start = 0

    @property
    def speaking(self) -> bool:
        """True from the committed start of speech until its committed end."""
        return self._state is not _State.QUIET

    def push(self, probability: float) -> list[TurnEvent]:
        self._frame += 1
        frame = self._frame
        s = self.settings
        if self._state is _State.QUIET:
            if probability < s.end_threshold:
                self._rise = None
            elif self._rise is None:
                self._rise = frame
            if probability < s.start_threshold:
                self._run = 0
                return []
            if self._run == 0:
                self._run_start = frame if self._rise is None else self._rise
            self._run += 1
            if self._run * FRAME_MS < max(s.prefix_padding_ms, FRAME_MS):
                return []
            self._state = _State.SPEAKING
            self._speech_start = self._run_start
            self._run = 0
            return [SpeechStarted(self._speech_start)]
        if self._state is _State.SPEAKING:
            if probability >= s.end_threshold:
                return []
            self._state = _State.PAUSING
            self._pause_start = frame
            if s.silence_duration_ms <= FRAME_MS:
                return self._end()
            return [PauseStarted(frame)]
        # PAUSING
        if probability >= s.end_threshold:
            self._state = _State.SPEAKING
            return [PauseEnded(frame)]
        if (frame - self._pause_start + 1) * FRAME_MS >= s.silence_duration_ms:
            return self._end()
        return []

    def flush(self) -> list[TurnEvent]:
        """The audio stream ended: a turn in progress ends where the audio stops."""
        if self._state is _State.QUIET:
            self._run = 0
            self._rise = None
            return []
        if self._state is _State.SPEAKING:
            self._pause_start = self._frame + 1
        return self._end()

    def _end(self) -> list[TurnEvent]:
        self._state = _State.QUIET
        self._run = 0
        self._rise = None
        return [SpeechEnded(self._speech_start, self._pause_start)]
