"""A session without a language: it is detected while the user speaks, so that the
turn's transcript is made in it without a detection of its own once the turn ends.

The listener runs on the fakes of `test_listener` (a loud frame is speech; the
recognizer describes the audio), with a recognizer that also detects languages, and
records what it was asked."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from openlive.audio.pcm import Samples
from openlive.backends.voice import ASROptions, Transcript
from openlive.pipeline.listener import UserSpoke
from openlive.pipeline.recognition import DETECT_FROM

from ..fakes import eventually
from .running import running
from .test_listener import FRAME, RATE, DescribingASR, Ear, quiet, sound


class DetectingASR(DescribingASR):
    """Detects `detected` (slowly, as a full window does); a transcription without a
    language detects "xx", unsure."""

    def __init__(self, detected: tuple[str, float], seconds: float = 0.0) -> None:
        super().__init__()
        self.detected = detected
        self.seconds = seconds
        """How long a detection takes."""
        self.detections: list[int] = []
        """The length of the audio of each detection."""
        self.languages: list[str | None] = []
        """The language each transcription was given."""

    def detect_language(
        self, samples: Samples, options: ASROptions | None = None
    ) -> tuple[str, float] | None:
        self.detections.append(len(samples))
        time.sleep(self.seconds)
        return self.detected

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        self.languages.append(language)
        transcript = super().transcribe(samples, language, options)
        return replace(transcript, language=language or "xx", language_probability=0.3)


class UnsetEar(Ear):
    """A listener of a session whose setup named no language."""

    def __init__(self, detected: tuple[str, float], seconds: float = 0.0) -> None:
        super().__init__(speculate=True, asr=DetectingASR(detected, seconds), language=None)

    @property
    def language(self) -> str | None:
        return self.listener._recognition.language


@pytest.fixture
async def ear(request: pytest.FixtureRequest) -> AsyncIterator[UnsetEar]:
    ear = UnsetEar(*getattr(request, "param", (("de", 0.9),)))
    async with running(ear.listener.run, ear.scheduler):
        yield ear


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
    # once on the speech so far (from 0.7 s of it, the lead-in included): it was sure
    assert len(ear.asr.detections) == 1 and ear.asr.detections[0] < DETECT_FROM + 2 * FRAME


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
    await ear.play(quiet(320), sound(300), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.asr.detections == [] and ear.asr.languages == [None]
    assert ear.language is None  # the recognizer was unsure


@pytest.mark.parametrize("ear", [(("de", 0.4),)], indirect=True)
async def test_an_unsure_detection_is_made_again_on_more_speech(ear: UnsetEar) -> None:
    """Each second more; the last, of nearly the whole turn, stands for it: the turn is
    transcribed in its language, which the session does not keep (it was unsure)."""
    await ear.play(quiet(320), sound(1800), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    first, second = ear.asr.detections  # at a scoring step's end
    assert DETECT_FROM <= first < DETECT_FROM + 2 * FRAME
    assert first + RATE <= second < first + RATE + 2 * FRAME
    assert ear.asr.languages == ["de"] and ear.spoken[0].transcript.language_probability == 0.4
    assert ear.language is None


@pytest.mark.parametrize("ear", [(("de", 0.4), 1.5)], indirect=True)
async def test_an_unsure_detection_of_part_of_the_turn_leaves_it_to_the_whole(
    ear: UnsetEar,
) -> None:
    """The speech outran a slow detection: unsure of its beginning, it says nothing
    of the rest, so the turn is transcribed as without (detecting the language)."""
    await ear.play(quiet(320), sound(3000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert len(ear.asr.detections) == 1 and ear.asr.detections[0] < DETECT_FROM + 2 * FRAME
    assert ear.asr.languages == [None]
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
