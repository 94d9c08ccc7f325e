"""The listener with a learned end of turn, on scripted audio: the turn model and the
pause's transcript decide, asynchronously, while frames go on being scored.

The fakes of `test_listener.py`, with a recognizer that reads one burst of sound as an
unfinished sentence and two as a finished one, and a turn model that answers a fixed
probability."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from openlive.audio.pcm import Samples, float_to_pcm16
from openlive.backends.registry import VoiceModels
from openlive.backends.scheduler import Scheduler
from openlive.backends.voice import ASROptions, TextTurnModel, Transcript, TurnModel
from openlive.pipeline.listener import Listener, ListenerEvent, UserSpoke, VoiceEnded
from openlive.pipeline.turns import TurnDetector, TurnSettings
from openlive.protocol.messages import Blob

from ..fakes import eventually
from .running import running
from .test_listener import FRAME, DescribingASR, LoudnessVAD, SilentTTS, quiet, sound

SENTENCES = {
    1: "I'd like to book a table for",
    2: "I'd like to book a table for two.",
    3: "Ever tried",  # no full stop: the words do not decide
    4: "The reason I am calling is that.",  # a word that may go on: the text model
}


class SentenceASR(DescribingASR):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        bursts = int(super().transcribe(samples, language, options).text.split()[0])
        time.sleep(0.25)  # long enough for the turn model to start beside it, if it may
        self.log.append("transcript")
        return Transcript(SENTENCES.get(bursts, ""), "en", 1.0, len(samples) / 16_000)


class FixedTurnModel(TurnModel):
    name = "fixed"

    def __init__(self, probability: float, log: list[str]) -> None:
        self.p = probability
        self.calls = 0
        self.log = log

    def probability(self, audio: Samples) -> float:
        self.calls += 1
        self.log.append("turn model")
        return self.p


class FixedTextModel(TextTurnModel):
    name = "fixed words"

    def __init__(self, probability: float) -> None:
        self.p = probability
        self.asked: list[str] = []

    def probability(self, text: str) -> float:
        self.asked.append(text)
        if self.p < 0:
            raise RuntimeError("llama_decode failed")
        return self.p


class Ear:
    def __init__(self, probability: float, message_end: float = 0.5, room: bool = False) -> None:
        self.log: list[str] = []
        """The order the recognizer and the turn model answered in."""
        self.vad = LoudnessVAD()
        self.model = FixedTurnModel(probability, self.log)
        self.words = FixedTextModel(message_end)
        self.scheduler = Scheduler("test")
        self.events: list[ListenerEvent] = []
        self.fed = 0
        voice = VoiceModels(
            vad=self.vad,
            asr=SentenceASR(self.log),
            tts=SilentTTS(),
            turn=self.model,
            words=self.words,
        )
        self.listener = Listener(
            voice,
            self.scheduler,
            TurnDetector(TurnSettings.from_live(prefix_padding_ms=96)),
            automatic=True,
            language="en",
            emit=self._emit,
            room=lambda: room,
        )

    async def _emit(self, event: ListenerEvent) -> None:
        self.events.append(event)

    async def play(self, *parts: Samples, real_time: bool = False) -> None:
        audio = np.concatenate(parts)
        for i in range(0, len(audio), FRAME):
            piece = audio[i : i + FRAME]
            self.listener.feed(Blob(mime_type="audio/pcm;rate=16000", data=float_to_pcm16(piece)))
            self.fed += len(piece)
            await eventually(lambda: self.vad.frames >= self.fed // FRAME)
            if real_time:
                await asyncio.sleep(len(piece) / 16_000)

    @property
    def spoken(self) -> list[str]:
        return [e.transcript.text for e in self.events if isinstance(e, UserSpoke)]


@pytest.fixture
async def ear(request: pytest.FixtureRequest) -> AsyncIterator[Ear]:
    ear = Ear(*getattr(request, "param", (0.9,)))
    async with running(ear.listener.run, ear.scheduler):
        yield ear


async def test_a_finished_sentence_ends_the_turn_long_before_the_limit(ear: Ear) -> None:
    await ear.play(quiet(320), sound(600), quiet(200), sound(600), quiet(480), real_time=True)
    # Decided within the 480 ms of silence sent, at real time (the limit is 1.6 s, and
    # the audio stopping counts only after 500 ms); the 200 ms pause did not end it.
    ended = [e for e in ear.events if isinstance(e, VoiceEnded)]
    assert len(ended) == 1 and abs(ended[0].offset - 1.72) < 0.07  # where the speech ended
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[2]]
    assert ear.model.calls == 0  # the words decided both pauses: the model was not asked
    assert ear.words.asked == []  # nor the text model: no sentence ended on an open word


@pytest.mark.parametrize("ear", [(0.99,)], indirect=True)
async def test_where_the_words_do_not_decide_the_model_does(ear: Ear) -> None:
    bursts = [quiet(100), sound(300)] * 3
    await ear.play(quiet(220), *bursts, quiet(480), real_time=True)
    # Decided within the silence sent, not 500 ms after the audio stopped.
    assert any(isinstance(e, VoiceEnded) for e in ear.events)
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[3]]
    assert ear.model.calls == 1


@pytest.mark.parametrize("ear", [(0.99,)], indirect=True)
async def test_an_unfinished_sentence_holds_the_turn_through_a_long_pause(ear: Ear) -> None:
    """The model is sure the first half is finished; its words say otherwise."""
    await ear.play(quiet(320), sound(600), quiet(1000), sound(600), quiet(1800))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[2]]
    assert len([e for e in ear.events if isinstance(e, VoiceEnded)]) == 1


@pytest.mark.parametrize("ear", [(0.2,)], indirect=True)
async def test_without_a_finished_sentence_the_pause_runs_to_the_limit(ear: Ear) -> None:
    await ear.play(quiet(320), sound(600), quiet(1500))
    await asyncio.sleep(0.3)
    assert ear.spoken == []  # 1.5 s of silence: not yet
    await ear.play(quiet(200))
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[1]]


@pytest.mark.parametrize("ear", [(0.99, 0.002)], indirect=True)
async def test_a_sentence_that_the_text_model_hears_go_on_holds_the_turn(ear: Ear) -> None:
    """Whisper's full stop after "...is that", and a turn model sure it is finished:
    the text model, unlikely to end a message there, holds the turn."""
    bursts = [quiet(100), sound(300)] * 4
    await ear.play(quiet(220), *bursts, quiet(900), real_time=True)
    assert ear.words.asked == [SENTENCES[4]]
    assert not any(isinstance(e, VoiceEnded) for e in ear.events)  # held past 500 ms
    await ear.play(quiet(900))
    await eventually(lambda: len(ear.spoken) == 1)  # the limit ended it
    assert ear.spoken == [SENTENCES[4]]


@pytest.mark.parametrize("ear", [(0.99, 0.3)], indirect=True)
async def test_a_sentence_the_text_model_finds_likely_to_end_goes_to_the_turn_model(
    ear: Ear,
) -> None:
    bursts = [quiet(100), sound(300)] * 4
    await ear.play(quiet(220), *bursts, quiet(480), real_time=True)
    assert any(isinstance(e, VoiceEnded) for e in ear.events)  # within the silence sent
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.words.asked == [SENTENCES[4]] and ear.model.calls == 1


@pytest.mark.parametrize("ear", [(0.99, -1.0)], indirect=True)
async def test_a_text_model_that_fails_leaves_the_turn_to_the_turn_model(
    ear: Ear, caplog: pytest.LogCaptureFixture
) -> None:
    bursts = [quiet(100), sound(300)] * 4
    await ear.play(quiet(220), *bursts, quiet(480), real_time=True)
    assert any(isinstance(e, VoiceEnded) for e in ear.events)  # the turn model ended it
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.words.asked == [SENTENCES[4]] and ear.model.calls == 1
    assert "the text turn model failed" in caplog.text


@pytest.mark.parametrize("ear", [(0.99, 0.5, True)], indirect=True)
async def test_with_room_the_turn_model_is_asked_beside_the_transcript(ear: Ear) -> None:
    """The cores have room: the turn model answers while Whisper still works, and its
    answer decides where the words do not."""
    bursts = [quiet(100), sound(300)] * 3
    await ear.play(quiet(220), *bursts, quiet(480), real_time=True)
    assert any(isinstance(e, VoiceEnded) for e in ear.events)  # within the silence sent
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[3]]
    assert ear.log[-2:] == ["turn model", "transcript"]  # asked before the transcript came


@pytest.mark.parametrize("ear", [(0.01, 0.5, True)], indirect=True)
async def test_with_room_the_words_still_decide_where_they_can(ear: Ear) -> None:
    """The turn model, asked early, says unfinished; the finished sentence ends the turn
    all the same, long before the limit."""
    await ear.play(quiet(320), sound(600), quiet(200), sound(600), quiet(480), real_time=True)
    assert any(isinstance(e, VoiceEnded) for e in ear.events)
    await eventually(lambda: len(ear.spoken) == 1)
    assert ear.spoken == [SENTENCES[2]]
    assert ear.model.calls >= 1  # asked, and its answer thrown away
