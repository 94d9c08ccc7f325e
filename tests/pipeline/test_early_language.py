"""A session without a language: it is detected while the user speaks, so that the
turn's transcript is made in it without a detection of its own once the turn ends.

The listener runs on the fakes of `test_listener` (a loud frame is speech; the
recognizer describes the audio), with a recognizer that also detects languages, and
records what it was asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from openlive.audio.pcm import Samples
from openlive.backends.registry import VoiceModels
from openlive.backends.scheduler import Scheduler
from openlive.backends.voice import ASROptions, Transcript
from openlive.pipeline.listener import Listener, ListenerEvent, UserSpoke
from openlive.pipeline.timing import VoiceStats
from openlive.pipeline.turns import TurnDetector, TurnSettings

from ..fakes import eventually
from .test_listener import RATE, DescribingASR, Ear, LoudnessVAD, SilentTTS, quiet, sound


class DetectingASR(DescribingASR):
    """Detects `detected` (slowly, as a full window does); a transcription without a
    language detects "xx", unsure."""

    def __init__(self, detected: tuple[str, float]) -> None:
        super().__init__()
        self.detected = detected
        self.detections: list[int] = []
        """The length of the audio of each detection."""
        self.languages: list[str | None] = []
        """The language each transcription was given."""

    def detect_language(
        self, samples: Samples, options: ASROptions | None = None
    ) -> tuple[str, float] | None:
        self.detections.append(len(samples))
        return self.detected

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        self.languages.append(language)
        transcript = super().transcribe(samples, language, options)
        return replace(transcript, language=language or "xx", language_probability=0.3)


class UnsetEar(Ear):
    """A listener of a session whose setup named no language."""

    def __init__(self, detected: tuple[str, float]) -> None:
        self.vad = LoudnessVAD()
        self.asr = DetectingASR(detected)
        self.scheduler = Scheduler("test")
        self.stats = VoiceStats()
        self.events: list[ListenerEvent] = []
        self.fed = 0
        self.listener = Listener(
            VoiceModels(vad=self.vad, asr=self.asr, tts=SilentTTS()),
            self.scheduler,
            TurnDetector(TurnSettings(silence_duration_ms=480, prefix_padding_ms=96)),
            automatic=True,
            language=None,
            emit=self._emit,
            speculate=True,
            stats=self.stats,
        )

    @property
    def language(self) -> str | None:
        return self.listener._recognition.language


@pytest.fixture
async def ear(request: pytest.FixtureRequest) -> AsyncIterator[UnsetEar]:
    ear = UnsetEar(getattr(request, "param", ("de", 0.9)))
    task = asyncio.create_task(ear.listener.run())
    try:
        yield ear
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        ear.scheduler.close()


async def test_the_language_is_detected_while_the_user_speaks(ear: UnsetEar) -> None:
    await ear.play(quiet(320), sound(2000))
    await eventually(lambda: len(ear.asr.detections) >= 1)
    assert not ear.spoken and ear.language is None  # still speaking, nothing fixed yet
    await ear.play(quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    spoke = ear.spoken[0].transcript
    # in the language detected, with the detector's confidence; no detection at the end
    assert (spoke.language, spoke.language_probability) == ("de", 0.9)
    assert ear.asr.languages == ["de"]
    assert ear.language == "de"
    # on the speech so far (from 1 s of it, again a second later), never the silence
    assert ear.asr.detections and max(ear.asr.detections) <= 2.3 * RATE


async def test_a_second_turn_is_neither_detected_nor_transcribed_without_it(
    ear: UnsetEar,
) -> None:
    await ear.play(quiet(320), sound(1500), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    detections = len(ear.asr.detections)
    await ear.play(sound(1500), quiet(800))
    await eventually(lambda: len(ear.spoken) == 2)
    assert len(ear.asr.detections) == detections
    assert ear.asr.languages == ["de", "de"]


async def test_speech_too_short_to_detect_on_is_detected_as_before(ear: UnsetEar) -> None:
    await ear.play(quiet(320), sound(500), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.asr.detections == [] and ear.asr.languages == [None]
    assert ear.language is None  # the recognizer was unsure


@pytest.mark.parametrize("ear", [("de", 0.4)], indirect=True)
async def test_an_unsure_detection_leaves_it_to_the_whole_turn(ear: UnsetEar) -> None:
    await ear.play(quiet(320), sound(2000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.asr.detections and ear.asr.languages == [None]
    assert ear.language is None


async def test_speech_that_goes_on_after_a_pause_uses_the_detection_once_it_ends(
    ear: UnsetEar,
) -> None:
    """The pause's guess waits for the detection; when the user goes on, the turn's
    transcript still has it (the guess's end cancels nothing of it)."""
    await ear.play(quiet(320), sound(1200), quiet(256), sound(800), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert isinstance(ear.spoken[0], UserSpoke)
    assert set(ear.asr.languages) == {"de"} and ear.language == "de"
