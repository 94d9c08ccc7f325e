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
was said (the pause's speculative transcript, when there is one: `reading`).
The answer, given to `verdict`, ends the turn at once if it is finished, and otherwise
leaves the pause to run to `silence_duration_ms`, the limit::

    PAUSING --check_ms of silence--> PauseCheck --verdict: finished--> QUIET

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
import re
from dataclasses import dataclass, replace

__all__ = [
    "DEFAULT_SILENCE_MS",
    "FRAME_MS",
    "LEARNED_CHECK_MS",
    "LEARNED_LIMIT_MS",
    "PauseCheck",
    "PauseEnded",
    "PauseStarted",
    "Reading",
    "SpeechEnded",
    "SpeechStarted",
    "TurnDetector",
    "TurnEvent",
    "TurnSettings",
    "finished",
    "reading",
    "said_finished",
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
    """The first silent frame: the speech so far may be the whole turn."""


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
    """The first silent frame after the speech (exclusive end of the turn's speech)."""


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
        long: then the turn ends now, not at the end of the frame (up to 31 ms later)."""
        if self._state is not _State.PAUSING:
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


# --- whether a turn is finished: how, and what, it was said -----------------------------

FINISHED = 0.5
"""The turn model's probability from which audio alone counts as a finished turn."""
OPEN_FINISHED = 0.7
"""The same, for a transcript that ends on one of `OPEN`."""
_ENDS = (".", "?", "!", "。", "？", "！")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TRAILING_OFF = ("...", "…", "-", "—", ",", ";", ":")
HANGING = _words(
    """a an the and or but nor because if although though unless whose my your his her its
    our their every each very of to for at by about from into onto with without between
    during through than i we they he she um uh er erm hmm ah mm"""
)
"""English words that a finished utterance rarely ends with, and unfinished speech
often does (a speaker stops to think after them): articles, conjunctions, possessives,
prepositions that are not particles, subject pronouns, fillers. "Who are you talking
to?" waits."""
OPEN = _words(
    """that which who whom where when while until so like as in on after before over
    under is are was were be been being am will would could should can may might must
    shall do does did have has had this these those some any no"""
)
"""English words that an utterance may end with, though more often it goes on ("I know
who you are." "...and then we were"): the audio decides."""
SUBORDINATING = _words("if when whenever unless although though")
"""English words that open a clause which a main clause usually follows ("If it rains
tomorrow, we will stay in."). Whisper puts a full stop where the speaker draws breath
before the main clause ("If it rains tomorrow."), and the turn model hears that breath
as the end of a turn, so such a clause alone holds the turn. ("Because" and "before"
are left out: "Because it's late." and "Before lunch." are common answers.)"""
SUBORDINATE_WORDS = 4
"""The fewest words of a clause alone that hold the turn: "If possible." and "When you
can." are whole answers, and the audio decides them."""
ECHO_WORDS = 2
"""A transcript whose last phrase ends on this many of its own words said again holds
the turn (`_echoes`)."""
_WORD = re.compile(r"[\w']+")
_SENTENCE = re.compile(r"[^.!?。？！]+[.!?。？！]*")


class Reading(enum.Enum):
    """What a transcript says of whether its speech is finished."""

    UNFINISHED = "unfinished"
    OPEN = "open"
    FINISHED = "finished"


def reading(text: str) -> Reading:
    """How a transcript reads, by the recognizer's own punctuation (learned from how it
    was said: Whisper ends a sentence with a full stop or a question mark, and
    trailing-off speech with an ellipsis or a dash) and its last word:

    - `UNFINISHED`: it trails off, or ends with one of `HANGING`, or has no final
      punctuation and ends with one of `OPEN`, or its last sentence is a clause opened
      by one of `SUBORDINATING`, alone ("If it rains tomorrow."), or its last phrase
      ends by saying again words it said before (`_echoes`: "...to the station to the
      station?");
    - `OPEN` (the audio decides): it ends with one of `OPEN`, or has no final
      punctuation (Whisper leaves it off many a short phrase: "Ever tried"), or its
      last sentence is a short clause opened by one of `SUBORDINATING` ("If
      possible.");
    - `FINISHED`: a sentence that ends with any other word."""
    text = text.strip()
    if not text or text.endswith(_TRAILING_OFF):
        return Reading.UNFINISHED
    words = _WORD.findall(text.lower())
    if not words or words[-1] in HANGING:
        return Reading.UNFINISHED
    if not text.endswith(_ENDS):
        # Whisper leaves the full stop off many a short phrase ("Ever tried"): without
        # one, a last word that may go on holds the turn, any other is the model's.
        return Reading.UNFINISHED if words[-1] in OPEN else Reading.OPEN
    clause = _subordinate_alone(text)
    if clause >= SUBORDINATE_WORDS or _echoes(text):
        return Reading.UNFINISHED
    return Reading.OPEN if clause or words[-1] in OPEN else Reading.FINISHED


def _echoes(text: str) -> bool:
    """Whether the last phrase of `text` (from its last punctuation) ends on
    `ECHO_WORDS` of its own words said again, in the same order: how Whisper fills the
    silence after a sentence broken off ("...from the station to" heard as "...from the
    station to the station?")."""
    phrase = re.split(r"[.!?。？！,;:]\s", text.rstrip(".!?。？！"))[-1]
    words = _WORD.findall(phrase.lower())
    tail = words[-ECHO_WORDS:]
    return len(words) > ECHO_WORDS and any(
        words[i : i + ECHO_WORDS] == tail for i in range(len(words) - ECHO_WORDS)
    )


def _subordinate_alone(text: str) -> int:
    """The words of the last sentence of `text` if it is a statement that a
    subordinating word opens and no comma splits (a clause without its main clause),
    else 0."""
    sentences = _SENTENCE.findall(text)
    last = sentences[-1].strip() if sentences else ""
    words = _WORD.findall(last.lower())
    alone = bool(words) and words[0] in SUBORDINATING and last.endswith(".")
    return len(words) if alone and not re.search(r"[,;:]", last) else 0


def said_finished(transcript: str | None) -> bool | None:
    """Whether the words alone decide that a turn is finished (True) or not (False);
    None where the turn model must: `finished` without the model's probability."""
    match None if transcript is None else reading(transcript):
        case Reading.UNFINISHED:
            return False
        case Reading.FINISHED:
            return True
        case _:
            return None


def finished(probability: float, transcript: str | None) -> bool:
    """Whether a turn is finished, from the turn model's `probability` (how it was said)
    and the pause's `transcript` (what was said; None where there is none). The
    transcript decides where it can: `UNFINISHED` holds the turn open, `FINISHED` ends
    it (on this project's voices the model alone is wrong too often to overrule it:
    `benchmarks/end_of_turn.py`). An `OPEN` one is the model's to decide
    (`OPEN_FINISHED`), and so is a turn without a transcript (`FINISHED`)."""
    said = said_finished(transcript)
    if said is not None:
        return said
    return probability >= (FINISHED if transcript is None else OPEN_FINISHED)
