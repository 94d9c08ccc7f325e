"""A session's ear: audio in, turns and transcripts out.

`Listener.feed` takes each `realtimeInput.audio` blob as it arrives and keeps it in the
session's `AudioIntake` (decoding and resampling to 16 kHz on the spot: both are
cheap). `Listener.run` scores 32 ms frames with the VAD on the voice scheduler, drives
the `TurnDetector`, and hands each finished utterance to the session's `Recognition`.
What it hears goes to the runner as `VoiceStarted` (the user began to speak: time to
stop talking), `VoiceEnded` (they stopped), `UserSpeaking` (an interim transcript) and
`UserSpoke` (a turn's transcript). The first two carry where in the input audio the
speech began and ended (its first voiced frame, and the first silent one after it), for
`voiceActivity`; each frame's score is kept with the audio, for the words' times.

Audio that stops arriving counts as silence after `silence_duration_ms` of wall-clock
time, so a whole recording sent as one message ends its turn as a real-time stream would.

With automatic activity detection disabled, `activity_start` / `activity_end` delimit
the turn instead.

A learned end of turn (the client set no `silenceDurationMs`): at the detector's
`PauseCheck`, a task judges whether the turn is finished (`judge.py`: the pause's
transcript, and where its words do not decide, the turn model). Frames go on being
scored meanwhile; the verdict is handed to the detector when it comes, which ends the
turn if it is finished and the pause still goes on. When audio stops arriving, the
model alone is asked after 500 ms of wall-clock time (audio that comes late by less is
not taken for a pause), and the turn ends then or at the limit.

Recognition is speculative: as soon as a pause has lasted `TRAILING` (the audio an
utterance keeps after its speech), the speech so far is transcribed, while the silence
window runs, at a priority below the decided turns of other sessions (promoted to
theirs if the pause ends the turn while the guess still waits). If the user goes on
speaking, that work is dropped; if the pause ends the turn, the transcript is already
there (or on its way). A speculative transcript is of
exactly the audio the turn would have been transcribed from, so it changes when the
answer starts, never what was heard. Each guess is reported as `Paused` (the responder
may answer it speculatively, `speculation.py`), and the user going on after a pause as
`Resumed`.

Interim transcripts (`interim=True`): while the user speaks, the speech so far is
transcribed again after each `INTERIM_STEP` of new speech, at the lowest priority and
one at a time, and reported as `UserSpeaking`. They show the user that they are being
heard; the turn's own transcript is still made from its whole audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from ..backends.registry import VoiceModels
from ..backends.scheduler import Scheduler
from ..backends.vad_batch import VADBatcher
from ..backends.voice import ASROptions, Transcript
from ..protocol.messages import Blob
from .intake import FRAME, RATE, AudioIntake
from .judge import Judge
from .recognition import INTERIM_STEP, Recognition, UserSpeaking, UserSpoke, Utterance
from .timing import VoiceStats
from .turn_end import finished
from .turns import (
    DEFAULT_SILENCE_MS,
    PauseCheck,
    PauseEnded,
    PauseStarted,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnEvent,
)

__all__ = [
    "Listener",
    "ListenerEvent",
    "Paused",
    "Resumed",
    "UserSpeaking",
    "UserSpoke",
    "VoiceEnded",
    "VoiceStarted",
]

LEADING = RATE // 5
"""Audio kept before an utterance's speech: Whisper does better with a lead-in."""
TRAILING = 2 * FRAME
"""Audio kept after its speech; a pause this long starts speculative recognition."""
READ_GRACE_S = 0.05
"""After a wait for audio runs out, the time given to the event loop to read what came
meanwhile before it counts as silence: a loop held up itself (a busy machine) wakes to
its timer and to the audio that was waiting at once, and the timer would win."""


@dataclass(frozen=True, slots=True)
class VoiceStarted:
    offset: float = 0.0
    """Seconds into the input audio where the speech began."""


@dataclass(frozen=True, slots=True)
class VoiceEnded:
    """The user's speech ended (its transcript, if any words, follows as `UserSpoke`)."""

    offset: float = 0.0
    """Seconds into the input audio where the speech ended."""


@dataclass(frozen=True, slots=True)
class Paused:
    """A pause began: `guess` transcribes the speech so far (the turn, if it ends here)."""

    guess: asyncio.Task[Transcript]


@dataclass(frozen=True, slots=True)
class Resumed:
    """The user went on speaking after a pause: its guess is not the turn's."""


ListenerEvent = VoiceStarted | VoiceEnded | UserSpeaking | UserSpoke | Paused | Resumed


class Listener:
    def __init__(
        self,
        voice: VoiceModels,
        scheduler: Scheduler,
        detector: TurnDetector,
        *,
        automatic: bool,
        language: str | None,
        emit: Callable[[ListenerEvent], Awaitable[None]],
        options: ASROptions | None = None,
        speculate: bool = True,
        interim: bool = False,
        all_input: bool = False,
        stats: VoiceStats | None = None,
        affect: bool = False,
        vad: VADBatcher | None = None,
        translate_into: str | None = None,
        detect_each_turn: bool = False,
        room: Callable[[], bool] = lambda: False,
    ) -> None:
        """`all_input` (``turnCoverage: TURN_INCLUDES_ALL_INPUT``): a turn's audio starts
        where the previous turn's ended, silence included, rather than just before its
        speech. `affect`: measure each turn's prosody (affective dialog). `vad`: the
        batcher shared by the sessions (else one of its own). `language` is the
        recognizer's code of the session's language (None: detected), `options` what
        else the session asks of recognition. `translate_into` and `detect_each_turn`:
        a translation session's (`Recognition`). `room`: whether the cores have room
        for the turn model beside Whisper at a learned end of turn's check (`Judge`)."""
        self._detector = detector
        self._voice = voice
        self._scheduler = scheduler
        self._automatic = automatic
        self._speculate = speculate
        self._interim = interim
        self._all_input = all_input
        self._emit = emit
        self._vad = voice.vad.stream()
        self._batcher = vad or VADBatcher(voice.vad, scheduler)
        self._intake = AudioIntake()
        self._recognition = Recognition(
            voice,
            scheduler,
            self._intake,
            language=language,
            emit=emit,
            stats=stats or VoiceStats(),
            affect=affect,
            options=options,
            silence=detector.settings.end_threshold,
            speech=detector.settings.start_threshold,
            translate_into=translate_into,
            detect_each_turn=detect_each_turn,
        )
        self._scored = 0
        """Absolute index of the next sample to score (always a frame boundary)."""
        self._manual_start: int | None = None
        self._speech_start = 0
        """The first frame of the speech in progress."""
        self._pause: Utterance | None = None
        """The turn as it would be if the current pause ended it."""
        self._turn_from = 0
        """Where the audio after the last turn begins."""
        self._tasks: asyncio.TaskGroup | None = None
        self._judge = Judge(voice.turn, scheduler, self._intake, LEADING, voice.words)
        self._room = room
        self._judging: asyncio.Task[None] | None = None
        """A learned end of turn: the judgement of the current pause, under way."""
        self._verdict: bool | None = None
        """Its answer, for the detection loop to hand to the detector."""

    # --- called by the runner on each client message (no awaiting) --------------------

    def feed(self, blob: Blob) -> None:
        """Keep one audio blob; raise InvalidArgument if malformed."""
        self._intake.feed(blob)

    def audio_stream_end(self) -> None:
        self._intake.end_stream()

    def activity_start(self) -> None:
        self._manual_start = self._intake.ring.end

    def activity_end(self) -> None:
        if self._manual_start is None:
            return
        start, self._manual_start = self._manual_start, None
        utterance = self._utterance(start, self._intake.ring.end)
        if utterance is not None:
            self._queue(utterance)

    # --- the listener's tasks ------------------------------------------------------

    async def run(self) -> None:
        """Score frames and transcribe turns until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            self._recognition.start(tasks)
            if self._automatic:
                await self._detect()
            else:
                await asyncio.Event().wait()

    async def _detect(self) -> None:
        intake, ring = self._intake, self._intake.ring
        while True:
            if self._verdict is not None:
                done, self._verdict = self._verdict, None
                await self._events(self._detector.verdict(done))
            if ring.end - self._scored < FRAME:
                intake.arrived.clear()
                if self._verdict is not None:
                    continue
                if not await self._more_audio():
                    await self._events(self._detector.flush())  # audio stopped coming
                    continue
                if intake.stream_ended:
                    intake.stream_ended = False
                    await self._score_available()
                    await self._events(self._detector.flush())
                    continue
            await self._score_available()

    async def _more_audio(self) -> bool:
        """Wait for audio; False if it stopped coming while the user spoke, long enough
        to end the turn (`silence_duration_ms`; with a learned end of turn, 500 ms if
        the turn model then judges the turn finished)."""
        settings = self._detector.settings
        if not self._detector.speaking:
            return await self._arrives(None)
        limit = settings.silence_duration_ms / 1000
        if settings.learned:
            # Not check_ms: a client's audio often comes late by that much (a busy
            # machine, a network); the wait before the model is the default silence.
            wait = DEFAULT_SILENCE_MS / 1000
            if await self._arrives(wait):
                return True
            start, end = self._speech_start * FRAME, self._intake.ring.end
            if finished(await self._judge.audio(start, end, wait), None):
                return False
            limit -= wait
        return await self._arrives(max(0.0, limit))

    async def _arrives(self, seconds: float | None) -> bool:
        """Wait up to `seconds` (None: for ever) for audio; False if none came, not even
        in the `READ_GRACE_S` after."""
        try:
            async with asyncio.timeout(seconds):
                await self._intake.arrived.wait()
        except TimeoutError:
            await asyncio.sleep(READ_GRACE_S)
            return self._intake.arrived.is_set()
        return True

    async def _judge_pause(self, start: int, end: int, pause: Utterance | None) -> None:
        """Judge the turn paused at `end`; leave the verdict for the detection loop."""

        def decide(done: bool) -> None:
            self._verdict = done
            self._intake.arrived.set()  # wake the detection loop

        await self._judge.pause(start, end, pause, decide, early=self._room())

    def _stop_judging(self) -> None:
        if self._judging is not None:
            self._judging.cancel()
            self._judging = None
        self._verdict = None

    async def _score_available(self) -> None:
        ring = self._intake.ring
        # Audio the ring dropped before it was scored counts as silence, which keeps
        # the detector's frame numbers equal to sample positions / FRAME.
        lost = (ring.position - self._scored + FRAME - 1) // FRAME
        for _ in range(max(0, lost)):
            await self._events(self._detector.push(0.0))
            self._scored += FRAME
        count = (ring.end - self._scored) // FRAME
        if count:
            await self._score_frames(self._scored, count)
        await self._events(self._detector.unscored((ring.end - self._scored) * 1000 / RATE))

    async def _score_frames(self, start: int, count: int) -> None:
        """Score `count` frames from sample `start`, and act on what they say."""
        ring = self._intake.ring
        frames = ring.window(start, start + count * FRAME).reshape(count, FRAME)
        probabilities = await self._batcher.score(self._vad, frames)
        self._intake.score(start // FRAME, np.asarray(probabilities, dtype=np.float32))
        self._scored = start + count * FRAME
        for probability in probabilities:
            await self._events(self._detector.push(probability))
        pause = self._pause
        if pause is not None and pause.guess is None and ring.end >= pause.end:
            self._recognition.guess(pause)
            if pause.guess is not None:
                await self._emit(Paused(pause.guess))
        elif self._interim_due():
            self._recognition.start_interim(self._speech_start * FRAME - LEADING, self._scored)
        if self._detector.speaking and self._pause is None:
            self._recognition.hearing(self._speech_start * FRAME - LEADING, self._scored)

    def _interim_due(self) -> bool:
        recognition = self._recognition
        speech_from = max(recognition.interim_end, self._speech_start * FRAME)
        return (
            self._interim
            and recognition.language is not None  # else each would detect it: too slow
            and self._detector.speaking
            and self._pause is None
            and not recognition.interim_running
            and self._scored - speech_from >= INTERIM_STEP
        )

    async def _events(self, events: list[TurnEvent]) -> None:
        for event in events:
            match event:
                case SpeechStarted(frame):
                    self._speech_start = frame
                    self._recognition.stop_interim()
                    await self._emit(VoiceStarted(frame * FRAME / RATE))
                case PauseStarted(frame):
                    if self._speculate:
                        self._pause = self._utterance(self._speech_start * FRAME, frame * FRAME)
                case PauseCheck(start, end):
                    assert self._tasks is not None
                    self._stop_judging()
                    self._judging = self._tasks.create_task(
                        self._judge_pause(start * FRAME, end * FRAME, self._pause),
                        name="end-of-turn",
                    )
                case PauseEnded():
                    self._stop_judging()
                    self._drop_pause()
                    await self._emit(Resumed())
                case SpeechEnded(start, end):
                    self._stop_judging()
                    self._recognition.stop_interim()
                    await self._emit(VoiceEnded(end * FRAME / RATE))
                    self._decide(self._utterance(start * FRAME, end * FRAME))

    def _decide(self, utterance: Utterance | None) -> None:
        """The turn ended: queue it, with the pause's guess if that was of its audio."""
        pause, self._pause = self._pause, None
        if utterance is None:
            if pause is not None:
                pause.drop_guess()
        elif pause is not None and (pause.start, pause.end) == (utterance.start, utterance.end):
            pause.end = min(pause.end, self._intake.ring.end)
            self._queue(pause)
        else:
            if pause is not None:
                pause.drop_guess()
            self._queue(utterance)

    def _drop_pause(self) -> None:
        pause, self._pause = self._pause, None
        if pause is not None:
            pause.drop_guess()

    def _utterance(self, start: int, end: int) -> Utterance | None:
        """The turn whose speech spans samples [start, end), with its padding."""
        ring = self._intake.ring
        speech_end = self._intake.arrival(end)
        start = min(start, self._turn_from) if self._all_input else start - LEADING
        start, end = max(ring.position, start), end + TRAILING
        if min(end, ring.end) - start < FRAME:
            return None
        return Utterance(start, end, speech_end)

    def _queue(self, utterance: Utterance) -> None:
        utterance.end = min(utterance.end, self._intake.ring.end)
        self._turn_from = utterance.end
        self._recognition.queue(utterance)
