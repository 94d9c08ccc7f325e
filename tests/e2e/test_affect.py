"""Affective dialog and proactive audio through the official SDK on v1alpha, against a
real server with its embedded models.

The input is human speech (tests/fixtures' recordings): first as recorded, so that the
session learns the speaker's usual voice, then transformed to sound excited (played
25 % faster, so higher, and 6 dB louder) or calm (20 % slower and lower, 6 dB quieter).
The answers to the two are measured: their pitch (the median f0 of the answer's voiced
audio, by the same `measure` that reads the user's) and their pace (seconds of audio
per character of their transcript)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from google.genai import types

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float
from openlive.audio.resample import StreamingResampler
from openlive.pipeline.affect import measure

from ..conftest import SPEECH, Server
from .live import client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

NATIVE = "gemini-2.5-flash-native-audio-preview-09-2025"
COOK = "You are a cooking assistant. Help the user with recipes, ingredients and oven times."
GUIDE = "You are a guide to life in America: how America does things, for newcomers."


def speech(name: str, speed: float = 1.0, gain_db: float = 0.0) -> bytes:
    """A recording as 16 kHz PCM, played `speed` times faster and `gain_db` louder."""
    samples, rate = sf.read(SPEECH / name, dtype="float32")
    resampler = StreamingResampler(round(rate * speed), 16000)
    out = np.concatenate([resampler.process(samples), resampler.flush()])
    return float_to_pcm16(np.clip(out * 10 ** (gain_db / 20), -1, 1).astype(np.float32))


@dataclass
class Answer:
    audio: bytes = b""
    transcript: str = ""
    heard: str = ""
    model_turns: int = 0
    complete: bool = False

    @property
    def seconds_per_char(self) -> float:
        return len(self.audio) / 2 / 24000 / max(1, len(self.transcript.strip()))

    @property
    def pitch(self) -> float:
        return measure(pcm16_to_float(self.audio), 24000).pitch


async def say(session: Any, pcm: bytes) -> Answer:
    await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
    await session.send_realtime_input(audio_stream_end=True)
    answer = Answer()
    async for message in session.receive():
        content = message.server_content
        if content is None:
            continue
        if content.model_turn:
            answer.model_turns += 1
            for part in content.model_turn.parts or ():
                if part.inline_data is not None:
                    answer.audio += part.inline_data.data or b""
        if content.output_transcription:
            answer.transcript += content.output_transcription.text or ""
        if content.input_transcription:
            answer.heard += content.input_transcription.text or ""
        answer.complete |= bool(content.turn_complete)
    return answer


def config(**extra: Any) -> dict[str, Any]:
    return {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "temperature": 0,
        "max_output_tokens": 40,
        **extra,
    }


async def answer_to(server: Server, speed: float, gain_db: float, affective: bool) -> Answer:
    live = client(server, version="v1alpha").aio.live
    setup = config(enable_affective_dialog=affective)
    async with live.connect(model=NATIVE, config=setup) as session:
        await say(session, speech("clone-test.wav"))  # the speaker's usual voice
        return await say(session, speech("clone-test.wav", speed, gain_db))


async def both(server: Server, affective: bool) -> tuple[Answer, Answer]:
    """The answers to excited and to calm speech, in two sessions at once (the answers
    are paced at real time: side by side, the test takes half as long)."""
    return await asyncio.gather(
        answer_to(server, 1.25, 6.0, affective), answer_to(server, 0.8, -6.0, affective)
    )


async def test_excited_and_calm_speech_get_answers_delivered_differently(
    server: Server,
) -> None:
    excited, calm = await both(server, affective=True)
    for answer in (excited, calm):
        assert answer.audio and answer.transcript.strip(), answer
    print(
        f"excited: {excited.pitch:.0f} Hz, {excited.seconds_per_char * 1000:.0f} ms/char; "
        f"calm: {calm.pitch:.0f} Hz, {calm.seconds_per_char * 1000:.0f} ms/char"
    )
    assert excited.pitch > calm.pitch * 1.12  # the deliveries differ by 22 %
    assert excited.seconds_per_char < calm.seconds_per_char * 0.9  # and by 32 % in pace


async def test_without_affective_dialog_the_delivery_does_not_follow_the_voice(
    server: Server,
) -> None:
    excited, calm = await both(server, affective=False)
    assert excited.pitch == pytest.approx(calm.pitch, rel=0.06)


async def test_proactive_audio_ignores_speech_off_topic_and_answers_on_topic(
    server: Server,
) -> None:
    live = client(server, version="v1alpha").aio.live
    answers = []
    for instruction in (COOK, GUIDE):
        setup = config(system_instruction=instruction, proactivity={"proactive_audio": True})
        async with live.connect(model=NATIVE, config=setup) as session:
            answers.append(await say(session, speech("clone-test.wav")))
    ignored, answered = answers
    assert "america" in ignored.heard.lower()  # heard, and transcribed as asked
    assert ignored.complete and ignored.model_turns == 0 and not ignored.audio
    assert answered.complete and answered.audio and answered.transcript.strip()
