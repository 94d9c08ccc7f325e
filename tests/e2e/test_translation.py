"""Speech-to-speech translation and a voice derived from a sample, through the official
Python SDK against the real server and its embedded models.

What the server says is read back by the server's own recognizer (a second session
that only transcribes): a translation proves itself by being heard in the target
language. The Spanish input is `cafe-es-espeak.wav` (espeak-ng's Spanish voice, see the
fixtures' README): no recording of human speech in another language than English ships
in a package the tests may use.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from google.genai import errors, types

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float
from openlive.audio.resample import resample
from openlive.pipeline.affect import measure

from ..conftest import SPEECH, Server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

QUIET_S = 1.5
"""No message for this long after a turnComplete: the server has said all it will."""


def pcm(name: str) -> bytes:
    with wave.open(str(SPEECH / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@dataclass
class Heard:
    """What a session sent back for the audio it was given."""

    audio: bytes = b""
    said: str = ""
    """`outputTranscription`."""
    heard: list[str] = field(default_factory=list)
    """`inputTranscription`, per turn."""
    complete: int = 0
    model_turns: int = 0


async def talk(server: Server, audio: bytes, config: dict[str, Any]) -> Heard:
    """Send 16 kHz `audio` (in 0.5 s messages, then `audioStreamEnd`) on a session of
    `config`, and collect what comes back until the server falls quiet."""
    out = Heard()
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        step = 16000
        for offset in range(0, len(audio), step):
            blob = types.Blob(data=audio[offset : offset + step], mime_type="audio/pcm;rate=16000")
            await session.send_realtime_input(audio=blob)
        await session.send_realtime_input(audio_stream_end=True)
        last = [time.monotonic()]

        async def collect() -> None:
            while True:
                async for message in session.receive():
                    last[0] = time.monotonic()
                    content = message.server_content
                    if content is None:
                        continue
                    if content.model_turn:
                        out.model_turns += 1
                    if message.data:
                        out.audio += message.data
                    if content.output_transcription:
                        out.said += content.output_transcription.text or ""
                    if content.input_transcription:
                        out.heard.append(content.input_transcription.text or "")
                    if content.turn_complete:
                        out.complete += 1

        reader = asyncio.create_task(collect())
        deadline = time.monotonic() + 60
        quiet = False
        while not quiet and time.monotonic() < deadline and not reader.done():  # noqa: ASYNC110
            quiet = out.complete > 0 and time.monotonic() - last[0] >= QUIET_S
            await asyncio.sleep(0.2)
        reader.cancel()
        await asyncio.wait([reader])
        if not reader.cancelled() and (error := reader.exception()) is not None:
            raise error
    return out


async def read_back(server: Server, audio24k: bytes) -> str:
    """What the server's recognizer hears in 24 kHz speech."""
    audio = float_to_pcm16(resample(pcm16_to_float(audio24k), 24000, 16000))
    config = {
        "response_modalities": ["TEXT"],
        "input_audio_transcription": {},
        "max_output_tokens": 1,
    }
    return " ".join((await talk(server, audio, config)).heard)


def translating(target: str, echo: bool | None = None) -> dict[str, Any]:
    translation: dict[str, Any] = {"target_language_code": target}
    if echo is not None:
        translation["echo_target_language"] = echo
    return {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "translation_config": translation,
    }


async def test_spanish_speech_is_answered_by_its_english_translation(server: Server) -> None:
    """ "Buenos días. Me gustaría una taza de café, por favor." comes back as English
    speech that the recognizer reads as English ("... coffee, please")."""
    got = await talk(server, pcm("cafe-es-espeak.wav"), translating("en"))
    assert "café" in " ".join(got.heard).lower(), got.heard  # heard as Spanish
    assert {"coffee", "please"} <= words(got.said), got.said  # Whisper's translation, spoken
    assert len(got.audio) > 24000 * 2  # over a second of speech
    back = await read_back(server, got.audio)
    assert {"coffee", "please"} <= words(back), (got.said, back)
    assert not words(back) & {"buenos", "gustaria", "gustaría", "taza", "favor"}, back


async def test_speech_already_in_the_target_language(server: Server) -> None:
    """Without echo, English speech into English gets a turnComplete and no audio; with
    echo, it is spoken back as it was heard."""
    speech = pcm("clone-test.wav")
    silent, echoed = await asyncio.gather(
        talk(server, speech, translating("en-US")),
        talk(server, speech, translating("en", echo=True)),
    )
    assert silent.heard and silent.complete == 1, silent
    assert (silent.model_turns, silent.audio) == (0, b"")
    assert echoed.heard and echoed.said.strip() == echoed.heard[0].strip(), echoed
    assert {"america", "very", "well"} <= words(echoed.said), echoed.said
    assert len(echoed.audio) > 24000 * 2  # spoken: over a second of it


def wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(float_to_pcm16(samples))
    return buffer.getvalue()


async def spoken_pitch(server: Server, voice: dict[str, Any]) -> float:
    """The median pitch of an answer spoken in `voice` (a `voice_config`)."""
    config = {
        "response_modalities": ["AUDIO"],
        "speech_config": {"voice_config": voice},
        "system_instruction": "Repeat exactly what the user says, nothing else.",
        "temperature": 0,
        "max_output_tokens": 40,
    }
    audio = b""
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        text = "We will be there at noon, and we will bring the maps."
        await session.send_client_content(turns={"role": "user", "parts": [{"text": text}]})
        async for message in session.receive():
            audio += message.data or b""
    assert len(audio) > 24000, "no answer"
    return measure(pcm16_to_float(audio), 24000).pitch


async def test_a_voice_derived_from_a_sample(server: Server) -> None:
    """A sample of a higher voice (the human recording, about 200 Hz) gives a voice
    near its pitch, far above the default voice's (about 90 Hz); a sample that is not a
    WAV file closes the session with 1007 naming the field."""
    recording = pcm16_to_float(pcm("clone-test.wav"))
    sample = wav(resample(recording, 16000, 24000), 24000)  # as the SDKs describe it
    sample_hz = measure(recording, 16000).pitch
    replicated = {
        "replicated_voice_config": {"mime_type": "audio/wav", "voice_sample_audio": sample}
    }
    derived_hz, default_hz = await asyncio.gather(
        spoken_pitch(server, replicated), spoken_pitch(server, {})
    )
    assert abs(derived_hz / sample_hz - 1) < 0.15, (derived_hz, sample_hz)
    assert derived_hz > 1.6 * default_hz, (derived_hz, default_hz)
    bad = {"replicated_voice_config": {"mime_type": "audio/wav", "voice_sample_audio": b"RIFF"}}
    with pytest.raises(errors.APIError) as refused:
        await spoken_pitch(server, bad)
    assert refused.value.code == 1007
    assert "voice_sample_audio is not a WAV file" in str(refused.value)
