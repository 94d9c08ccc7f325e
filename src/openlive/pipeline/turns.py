"""Turn-taking from voice-activity probabilities: when the user starts and stops speaking.

A pure state machine, fed one VAD probability per 32 ms frame; it never awaits, so
every rule can be tested with plain lists of numbers::

    QUIET --speech for prefixPaddingMs--> SPEAKING --silence begins--> PAUSING
    PAUSING --speech again--> SPEAKING
    PAUSING --silence for silenceDurationMs--> QUIET (the turn ends)

The silence is counted to the millisecond: audio that arrived after the last whole
frame, too short to score, counts as silence once the frames before it are silent
(`unscored`), so a pause of 500 ms ends the turn at 500 ms, not at 512.

With a learned end of turn (`TurnSettings.learned`: the client set no
`silenceDurationMs`), a pause of `check_ms` also asks whether the turn is finished
(`PauseCheck`): how it was said (the turn model's probability, from the audio) and what
was said (the pause's speculative transcript, when there is one): `turn_end.py`.
The answer, given to `verdict`, ends the turn at once if it is finished, and otherwise
leaves the pause to run to `silence_duration_ms`, the limit::

    PAUSING --check_ms of silence--> PauseCheck --verdict: finished--> QUIET

`SpeechStarted` is only announced once the speech has lasted `prefix_padding_ms`, so a
click or a short cough neither starts a turn nor interrupts the model. The speech it
reports starts where the frames rose above the end threshold before it (the same
hysteresis as its end: a soft onset the VAD is not yet sure of is speech). The pause,
likewise, starts where the frames fell below the start threshold before they fell below
the end one: the silence is counted from the end of the last frame the VAD was sure was
speech, not from the first it is sure is silence (Silero's score lags the voice by a
frame about half the time, which would otherwise add 32 ms to every pause).
`PauseStarted` is announced on that first silent frame, and names the pause's start:
the moment speculative work may start. `SpeechEnded` closes the turn; `PauseEnded` says
the speculation was wrong.

Thresholds follow the Live API's sensitivities (`START_SENSITIVITY_HIGH` detects speech
more readily, `END_SENSITIVITY_HIGH` ends it more readily); the defaults are documented
in docs/voice.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

__all__ = [
    "DEFAULT_SILENCE_MS",
    "FRAME_MS",
    "LEARNED_CHECK_MS",
    "LEARNED_LIMIT_MS",
    "PauseCheck",
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
DEFAULT_SILENCE_MS = 500
"""silenceDurationMs when the client sets none and no turn model decides."""
LEARNED_CHECK_MS = 160
"""A learned end of turn: the silence after which it is asked whether the turn is
finished (the turn model, and the pause's transcript)."""
LEARNED_LIMIT_MS = 1600
"""A learned end of turn: the longest pause of a turn not judged finished."""


@dataclass(frozen=True, slots=True)
class TurnSettings:
    start_threshold: float = 0.5
    """Probability above which a frame counts as speech while quiet."""
    end_threshold: float = 0.35
    """Probability below which a frame counts as silence while speaking."""
    prefix_padding_ms: int = 160
    """Speech needed before the start of speech is committed."""
    silence_duration_ms: int = DEFAULT_SILENCE_MS
    """Silence needed before the end of speech is committed (with `learned`: whatever
    the turn model says)."""
    learned: bool = False
    """Ask after `check_ms` of silence whether the turn is finished (`finished`), and
    end it then if it is."""
    check_ms: int = LEARNED_CHECK_MS

    @classmethod
    def from_live(
        cls,
        start_high: bool | None = None,
        end_high: bool | None = None,
        prefix_padding_ms: int | None = None,
        silence_duration_ms: int | None = None,
    ) -> TurnSettings:
        """From the setup's automaticActivityDetection (None keeps the default). Without
        `silence_duration_ms`, the end of a turn is learned (`learned`), up to
        `LEARNED_LIMIT_MS` of silence; `without_model` undoes that where no turn model
        is loaded."""
        default = cls()
        return cls(
            start_threshold=default.start_threshold if start_high in (None, True) else 0.7,
            end_threshold=default.end_threshold if end_high in (None, True) else 0.15,
            prefix_padding_ms=default.prefix_padding_ms
            if prefix_padding_ms is None
            else max(0, prefix_padding_ms),
            silence_duration_ms=LEARNED_LIMIT_MS
            if silence_duration_ms is None
            else max(0, silence_duration_ms),
            learned=silence_duration_ms is None,
        )

    def without_model(self) -> TurnSettings:
        """The settings where no turn model is at hand: a learned end of turn becomes
        the default silence."""
        if not self.learned:
            return self
        return replace(self, learned=False, silence_duration_ms=DEFAULT_SILENCE_MS)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    frame: int
    """The first frame of the speech: of the frames at or above the end threshold that
    led, without a break, to the run that started it (before the prefix padding was
    confirmed)."""


@dataclass(frozen=True, slots=True)
class PauseStarted:
    frame: int
    """The pause's first frame (the first below the start threshold, of the frames that
    led to the first silent one): the speech so far may be the whole turn."""


@dataclass(frozen=True, slots=True)
class PauseCheck:
    """A learned end of turn: the pause has lasted `check_ms`. Ask the turn model
    whether the speech from `start` to `end` (frames; `end` exclusive, the pause's
    silence so far included) is a finished turn, and give its answer to `verdict`."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PauseEnded:
    frame: int
    """The user went on speaking after a pause that was not long enough."""


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    start: int
    end: int
    """The pause's first frame (`PauseStarted`): the exclusive end of the turn's speech."""


TurnEvent = SpeechStarted | PauseStarted | PauseCheck | PauseEnded | SpeechEnded


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
        self._fall: int | None = None
        """SPEAKING: first frame of the current stretch below the start threshold."""
        self._speech_start = 0
        self._pause_start = 0
        self._asked: int | None = None
        """The pause (its first frame) the turn model was last asked about."""

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
            self._fall = None
            return [SpeechStarted(self._speech_start)]
        if self._state is _State.SPEAKING:
            if probability >= s.start_threshold:
                self._fall = None
            elif self._fall is None:
                self._fall = frame
            if probability >= s.end_threshold:
                return []
            self._state = _State.PAUSING
            self._pause_start = frame if self._fall is None else self._fall
            if (frame - self._pause_start + 1) * FRAME_MS >= s.silence_duration_ms:
                return self._end()
            return [PauseStarted(self._pause_start)]
        # PAUSING
        if probability >= s.end_threshold:
            self._state = _State.SPEAKING
            self._fall = frame if probability < s.start_threshold else None
            return [PauseEnded(frame)]
        silent_ms = (frame - self._pause_start + 1) * FRAME_MS
        if silent_ms >= s.silence_duration_ms:
            return self._end()
        if s.learned and silent_ms >= s.check_ms and self._asked != self._pause_start:
            self._asked = self._pause_start
            return [PauseCheck(self._speech_start, frame + 1)]
        return []

    def unscored(self, ms: float) -> list[TurnEvent]:
        """`ms` of audio (less than a frame) came after the last frame pushed, too little
        to score yet. Counted as silence, it may make the pause `silence_duration_ms`
        long: then the turn ends now, not at the end of the frame (up to 31 ms later).
        A frame or more is audio waiting to be scored, not silence, and counts for
        nothing (audio that came faster than the VAD scored it must not end a turn at
        a short pause)."""
        if self._state is not _State.PAUSING or ms >= FRAME_MS:
            return []
        silent_ms = (self._frame - self._pause_start + 1) * FRAME_MS + ms
        if silent_ms >= self.settings.silence_duration_ms:
            return self._end()
        return []

    def verdict(self, done: bool) -> list[TurnEvent]:
        """The answer to the latest `PauseCheck` (`finished`): if the turn is finished
        and that pause still goes on, the turn ends now; otherwise nothing changes (a
        late answer, after the user went on, is ignored)."""
        if done and self._state is _State.PAUSING and self._asked == self._pause_start:
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
