"""The first spoken turn of a session whose setup names no language, through the official
Python SDK against the real server: the language is detected while the user speaks, and
the turn is transcribed in it. The Spanish speech is `cafe-es-espeak.wav` (espeak-ng's
Spanish voice: no recording of human speech in another language ships in a package the
tests may use)."""

from __future__ import annotations

import asyncio
import wave

import pytest
from google.genai import types

from ..conftest import SPEECH, Server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

CHUNK = 16000 * 2 // 10  # 100 ms of 16-bit samples


def pcm(name: str) -> bytes:
    with wave.open(str(SPEECH / name)) as w:
        return w.readframes(w.getnframes())


async def first_turn(server: Server, name: str) -> types.Transcription:
    """`name` streamed at real time, then silence until the turn ends: its transcript."""
    config = {
        "response_modalities": ["TEXT"],
        "input_audio_transcription": {},
        "max_output_tokens": 1,
        # one turn for the sentence, across its pauses
        "realtime_input_config": {"automatic_activity_detection": {"silence_duration_ms": 1000}},
    }
    heard: list[types.Transcription] = []
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:

        async def collect() -> None:
            while True:
                async for message in session.receive():
                    content = message.server_content
                    if content and content.input_transcription:
                        heard.append(content.input_transcription)
                    if content and content.turn_complete:
                        return

        reader = asyncio.create_task(collect())
        audio = pcm(name) + bytes(CHUNK * 40)  # 4 s of silence after it
        for offset in range(0, len(audio), CHUNK):
            if reader.done():
                break
            blob = types.Blob(data=audio[offset : offset + CHUNK], mime_type="audio/pcm;rate=16000")
            await session.send_realtime_input(audio=blob)
            await asyncio.sleep(0.1)
        await asyncio.wait_for(reader, 60)
    assert len(heard) == 1, heard
    return heard[0]


async def test_a_first_turn_in_spanish_is_transcribed_in_spanish(server: Server) -> None:
    """ "Buenos días. Me gustaría una taza de café, por favor.", with no languageCode."""
    heard = await first_turn(server, "cafe-es-espeak.wav")
    assert heard.language_code == "es", heard
    text = (heard.text or "").lower()
    assert "café" in text and {"buenos", "taza"} & set(text.replace(",", " ").split()), heard


async def test_a_first_turn_in_english_is_transcribed_in_english(server: Server) -> None:
    heard = await first_turn(server, "clone-test.wav")
    assert heard.language_code == "en", heard
    assert "america" in (heard.text or "").lower(), heard
