"""Where the listener places what it hears in the input audio: the start and end of
speech (for `voiceActivity`) at any input rate and across a change of rate, and the
words of a transcript, fitted to the speech. Scripted audio, the fakes of
`test_listener.py`, a real scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from openlive.audio.pcm import Samples, float_to_pcm16
from openlive.audio.resample import resample
from openlive.backends.registry import VoiceModels
from openlive.backends.scheduler import Scheduler
from openlive.backends.voice import ASROptions, Transcript, Word
from openlive.pipeline.listener import Listener, ListenerEvent, UserSpoke, VoiceEnded, VoiceStarted
from openlive.pipeline.turns import TurnDetector, TurnSettings
from openlive.protocol.messages import Blob

from ..fakes import eventually
from .running import running
from .test_listener import FRAME, RATE, DescribingASR, LoudnessVAD, SilentTTS, quiet, sound


class EarlyWordsASR(DescribingASR):
    """Says two words, timed as Whisper times them on a turn: the first from the start of
    the audio (its lead-in), the second ending before the speech does."""

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        heard = super().transcribe(samples, language, options)
        words = (Word("hello", 0.0, 0.3), Word("there", 0.3, 0.6))
        asked = options is not None and options.word_times
        return Transcript(heard.text, "en", 1.0, heard.duration, words if asked else ())


class Ear:
    def __init__(self, options: ASROptions | None = None) -> None:
        self.vad = LoudnessVAD()
        self.scheduler = Scheduler("test")
        self.events: list[ListenerEvent] = []
        self.listener = Listener(
            VoiceModels(vad=self.vad, asr=EarlyWordsASR(), tts=SilentTTS()),
            self.scheduler,
            TurnDetector(TurnSettings(silence_duration_ms=480, prefix_padding_ms=96)),
            automatic=True,
            language="en",
            emit=self._emit,
            options=options,
        )

    async def _emit(self, event: ListenerEvent) -> None:
        self.events.append(event)

    async def play(self, audio: Samples, rate: int) -> None:
        """16 kHz `audio` sent at `rate`, 32 ms a message, each scored before the next."""
        sent = resample(audio, RATE, rate) if rate != RATE else audio
        step = rate * FRAME // RATE
        for i in range(0, len(sent), step):
            data = float_to_pcm16(sent[i : i + step])
            self.listener.feed(Blob(mime_type=f"audio/pcm;rate={rate}", data=data))
            heard = self.listener._intake.ring.end // FRAME
            await eventually(lambda heard=heard: self.vad.frames >= heard)

    def offsets(self) -> list[tuple[str, float]]:
        return [
            (type(e).__name__, e.offset)
            for e in self.events
            if isinstance(e, VoiceStarted | VoiceEnded)
        ]


@pytest.fixture
async def ear(request: pytest.FixtureRequest) -> AsyncIterator[Ear]:
    ear = Ear(getattr(request, "param", None))
    async with running(ear.listener.run, ear.scheduler):
        yield ear


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
async def test_the_start_and_end_of_speech_are_times_in_the_input_audio(
    ear: Ear, rate: int
) -> None:
    await ear.play(np.concatenate([quiet(320), sound(1024), quiet(800)]), rate)
    await eventually(lambda: len(ear.offsets()) == 2)
    assert ear.offsets() == [("VoiceStarted", 0.32), ("VoiceEnded", 1.344)]


async def test_a_change_of_rate_loses_no_time(ear: Ear) -> None:
    """The first resampler's held-back audio (about 20 ms at 24 kHz) is flushed at the
    change: without it, the speech after the change would be placed a frame early."""
    await ear.play(quiet(320), 24000)
    await ear.play(np.concatenate([sound(1024), quiet(800)]), 48000)
    await eventually(lambda: len(ear.offsets()) == 2)
    assert ear.offsets() == [("VoiceStarted", 0.32), ("VoiceEnded", 1.344)]


@pytest.mark.parametrize("ear", [ASROptions(word_times=True)], indirect=True)
async def test_words_are_times_in_the_input_audio_fitted_to_the_speech(ear: Ear) -> None:
    await ear.play(np.concatenate([quiet(1024), sound(608), quiet(800)]), RATE)
    await eventually(lambda: any(isinstance(e, UserSpoke) for e in ear.events))
    (spoke,) = [e for e in ear.events if isinstance(e, UserSpoke)]
    # the turn's audio starts 200 ms before its speech, so the ASR's 0.3 s is 1.124 s
    # into the input; the first word starts, and the last ends, with the speech
    hello, there = spoke.transcript.words
    assert (hello.start, hello.end) == pytest.approx((1.024, 1.124))
    assert (there.start, there.end) == pytest.approx((1.124, 1.632))


async def test_no_words_unless_asked(ear: Ear) -> None:
    await ear.play(np.concatenate([quiet(320), sound(600), quiet(800)]), RATE)
    await eventually(lambda: any(isinstance(e, UserSpoke) for e in ear.events))
    assert all(not e.transcript.words for e in ear.events if isinstance(e, UserSpoke))
