"""The listener's orchestration on scripted audio: turns, speculative recognition and
interim transcripts.

The VAD is a fake that calls a frame speech when it is loud, and the recognizer a fake
that describes the audio it was given (how long, and how many bursts of sound), so a
test can say exactly which audio each transcript came from. The scheduler is real.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from openlive.audio.pcm import Samples, float_to_pcm16
from openlive.backends.registry import VoiceModels
from openlive.backends.scheduler import Scheduler
from openlive.backends.voice import (
    ASR,
    TTS,
    VAD,
    ASRCapabilities,
    ASROptions,
    Transcript,
    VADStream,
)
from openlive.pipeline.listener import (
    Listener,
    ListenerEvent,
    UserSpeaking,
    UserSpoke,
    VoiceStarted,
)
from openlive.pipeline.timing import VoiceStats
from openlive.pipeline.turns import TurnDetector, TurnSettings
from openlive.protocol.messages import Blob

from ..fakes import eventually
from .running import running

RATE = 16_000
FRAME = 512
BLOB = FRAME  # one VAD frame per message, as a real-time client sends about


class LoudnessVAD(VAD):
    name = "loudness"
    frame_samples = FRAME

    def __init__(self) -> None:
        self.frames = 0

    def stream(self) -> VADStream:
        vad = self

        class Stream(VADStream):
            def probability(self, frame: Samples) -> float:
                vad.frames += 1
                return 0.9 if float(np.abs(frame).mean()) > 0.05 else 0.0

            def reset(self) -> None:
                pass

        return Stream()


class StallingVAD(LoudnessVAD):
    """Holds its `at`-th frame (counting from 1) until `go_on` is set."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.stalled, self.go_on = threading.Event(), threading.Event()

    def stream(self) -> VADStream:
        inner, vad = super().stream(), self

        class Stream(VADStream):
            def probability(self, frame: Samples) -> float:
                if vad.frames + 1 == vad.at:
                    vad.stalled.set()
                    vad.go_on.wait(10)
                return inner.probability(frame)

            def reset(self) -> None:
                inner.reset()

        return Stream()


class DescribingASR(ASR):
    """Transcribes audio as "<bursts> bursts", where a burst is a run of loud frames."""

    name = "describing"
    capabilities = ASRCapabilities()

    def __init__(self) -> None:
        self.calls: list[int] = []

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        self.calls.append(len(samples))
        loud = np.abs(samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)).mean(1) > 0.05
        bursts = int(np.sum(loud[1:] & ~loud[:-1]) + loud[0])
        return Transcript(f"{bursts} bursts", "en", 1.0, len(samples) / RATE)


class SilentTTS(TTS):
    name = "silent"
    sample_rate = 24_000

    def synthesize(self, text: str, *, length_scale: float | None = None) -> Iterator[Samples]:
        return iter(())


def sound(ms: int) -> Samples:
    n = RATE * ms // 1000
    return (0.3 * np.sin(np.arange(n) * 2 * np.pi * 220 / RATE)).astype(np.float32)


def quiet(ms: int) -> Samples:
    return np.zeros(RATE * ms // 1000, dtype=np.float32)


class Ear:
    """A listener, its fakes, and what it reported."""

    def __init__(
        self,
        speculate: bool,
        interim: bool = False,
        all_input: bool = False,
        asr: DescribingASR | None = None,
        language: str | None = "en",
        vad: LoudnessVAD | None = None,
    ) -> None:
        self.vad = vad or LoudnessVAD()
        self.asr = asr or DescribingASR()
        self.scheduler = Scheduler("test")
        self.stats = VoiceStats()
        self.events: list[ListenerEvent] = []
        self.fed = 0
        self.listener = Listener(
            VoiceModels(vad=self.vad, asr=self.asr, tts=SilentTTS()),
            self.scheduler,
            TurnDetector(TurnSettings(silence_duration_ms=480, prefix_padding_ms=96)),
            automatic=True,
            language=language,
            emit=self._emit,
            speculate=speculate,
            interim=interim,
            all_input=all_input,
            stats=self.stats,
        )

    async def _emit(self, event: ListenerEvent) -> None:
        self.events.append(event)

    async def play(self, *parts: Samples) -> None:
        """Send the audio a frame per message, waiting for each to be scored (as a
        real-time stream is: the VAD keeps up with it)."""
        audio = np.concatenate(parts)
        for i in range(0, len(audio), BLOB):
            piece = audio[i : i + BLOB]
            self.listener.feed(Blob(mime_type="audio/pcm;rate=16000", data=float_to_pcm16(piece)))
            self.fed += len(piece)
            await eventually(lambda: self.vad.frames >= self.fed // FRAME)

    @property
    def spoken(self) -> list[UserSpoke]:
        return [e for e in self.events if isinstance(e, UserSpoke)]


@pytest.fixture
async def ear(request: pytest.FixtureRequest) -> AsyncIterator[Ear]:
    param = getattr(request, "param", True)
    ear = Ear(
        speculate=param != "no speculation",
        interim=param == "interim",
        all_input=param == "all input",
    )
    async with running(ear.listener.run, ear.scheduler):
        yield ear


async def test_a_pause_that_ends_the_turn_uses_its_speculative_transcript(ear: Ear) -> None:
    await ear.play(quiet(320), sound(1000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert isinstance(ear.events[0], VoiceStarted)
    assert ear.spoken[0].transcript.text == "1 bursts"
    assert len(ear.asr.calls) == 1, "the turn was transcribed once, during its pause"
    assert ear.spoken[0].timing.speculative
    assert (ear.stats.speculations, ear.stats.speculations_used) == (1, 1)


async def test_the_transcript_is_ready_when_the_turn_ends(ear: Ear) -> None:
    """The recognizer ran inside the silence window, so nothing is left to wait for."""
    await ear.play(quiet(320), sound(1000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    timing = ear.spoken[0].timing
    assert timing.recognized - timing.decided < 0.05


async def test_speech_after_a_short_pause_drops_the_speculation(ear: Ear) -> None:
    await ear.play(quiet(320), sound(600), quiet(256), sound(600), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    # One turn, transcribed from both bursts: the guess of the first alone was dropped.
    assert ear.spoken[0].transcript.text == "2 bursts"
    # one start of speech, where it began (after 320 ms of quiet)
    assert [e for e in ear.events if isinstance(e, VoiceStarted)] == [VoiceStarted(0.32)]
    assert ear.asr.calls[0] < ear.asr.calls[-1]
    assert (ear.stats.speculations, ear.stats.speculations_used) == (2, 1)


async def test_audio_that_outruns_the_vad_is_not_taken_for_silence() -> None:
    """The VAD stalls inside a short pause while the rest of the turn arrives (a
    recording sent faster than real time, a loaded node): that audio is scored when
    the VAD is back, not counted as silence that ends the turn at the pause."""
    vad = StallingVAD(at=32)  # the 3rd frame of a 224 ms pause (the turn ends at 480)
    ear = Ear(speculate=True, vad=vad)
    async with running(ear.listener.run, ear.scheduler):
        await ear.play(quiet(320), sound(608), quiet(64))  # frames 1 to 31
        rest = np.concatenate([quiet(160), sound(608), quiet(800)])
        ear.listener.feed(Blob(mime_type="audio/pcm;rate=16000", data=float_to_pcm16(rest[:8000])))
        assert await asyncio.to_thread(vad.stalled.wait, 10)
        ear.listener.feed(Blob(mime_type="audio/pcm;rate=16000", data=float_to_pcm16(rest[8000:])))
        await asyncio.sleep(0.05)  # all of it in the ring, behind the stalled frame
        vad.go_on.set()
        await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken[0].transcript.text == "2 bursts"


async def test_speculative_and_plain_recognition_hear_the_same_audio(ear: Ear) -> None:
    # Whole frames, so that both turns line up with the frames alike.
    await ear.play(quiet(320), sound(1024), quiet(832))
    await eventually(lambda: len(ear.spoken) == 1)
    speculated = ear.asr.calls[-1]
    ear.listener._speculate = False
    await ear.play(sound(1024), quiet(832))
    await eventually(lambda: len(ear.spoken) == 2)
    assert not ear.spoken[1].timing.speculative
    assert ear.asr.calls[-1] == speculated


@pytest.mark.parametrize("ear", ["no speculation"], indirect=True)
async def test_without_speculation_a_turn_is_transcribed_once_it_ends(ear: Ear) -> None:
    await ear.play(quiet(320), sound(1000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken[0].transcript.text == "1 bursts"
    assert len(ear.asr.calls) == 1
    assert not ear.spoken[0].timing.speculative
    assert ear.stats.speculations == 0


@pytest.mark.parametrize("ear", ["interim"], indirect=True)
async def test_interim_transcripts_while_the_user_speaks(ear: Ear) -> None:
    """Three seconds of speech in three bursts: transcripts of the speech so far, about
    one a second, then the turn's own, of all of it."""
    burst = [sound(900), quiet(100)]
    await ear.play(quiet(320), *burst, *burst, *burst, quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    interim = [int(e.text.split()[0]) for e in ear.events if isinstance(e, UserSpeaking)]
    assert len(interim) >= 2 and interim == sorted(interim) and interim[-1] <= 3, ear.events
    assert ear.spoken[0].transcript.text == "3 bursts"
    assert ear.events.index(ear.spoken[0]) > max(
        i for i, e in enumerate(ear.events) if isinstance(e, UserSpeaking)
    )


async def test_no_interim_transcripts_unless_asked(ear: Ear) -> None:
    await ear.play(quiet(320), sound(3000), quiet(800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert not [e for e in ear.events if isinstance(e, UserSpeaking)]
    assert len(ear.asr.calls) == 1


@pytest.mark.parametrize("ear", [True, "all input"], indirect=True)
async def test_turn_coverage(ear: Ear) -> None:
    """TURN_INCLUDES_ONLY_ACTIVITY (the default): a turn is its speech with a little
    padding. TURN_INCLUDES_ALL_INPUT: everything since the previous turn, silence too."""
    await ear.play(quiet(960), sound(1024), quiet(832))
    await eventually(lambda: len(ear.spoken) == 1)
    await ear.play(quiet(1984), sound(1024), quiet(832))
    await eventually(lambda: len(ear.spoken) == 2)
    first, second = (round(t.audio_seconds, 2) for t in ear.spoken)
    if ear.listener._all_input:
        assert first >= 0.96 + 1.024 and second >= 1.984 + 1.024, (first, second)
    else:
        assert first < 0.96 + 1.024 and second < 1.984, (first, second)
    assert [t.transcript.text for t in ear.spoken] == ["1 bursts", "1 bursts"]
