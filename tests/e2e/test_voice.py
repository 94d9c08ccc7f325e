"""Voice through the official SDK against a real server: the guide's audio examples,
recognition of human recordings at several rates, speech out, round trip, barge-in."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import jiwer
import numpy as np
import pytest
from google.genai import errors, types

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float
from openlive.audio.resample import resample

from ..conftest import OPENLIVE, ROOT, SPEECH, Server, free_port, start_server, stop_server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

EXAMPLES = ROOT / "tests" / "examples"
JS_EXAMPLES = ROOT / "tests" / "js" / "examples"
BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
CLONE = "I do, I think that America do it very well."
QUIET_S = 4.0
"""No message for this long after the audio ends: the server has said all it will."""


def wer(reference: str, hypothesis: str) -> float:
    def norm(text: str) -> str:
        return re.sub(r"[^a-z' ]+", " ", text.lower()).strip()

    return float(jiwer.wer(norm(reference), norm(hypothesis)))


def pcm(name: str) -> bytes:
    with wave.open(str(SPEECH / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


def at_rate(data: bytes, rate: int) -> bytes:
    return float_to_pcm16(resample(pcm16_to_float(data), 16000, rate))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The files the guide's examples read, made from the human recordings."""
    shutil.copy(SPEECH / "clone-test.wav", tmp_path / "sample.wav")
    (tmp_path / "sample.pcm").write_bytes(pcm("clone-test.wav"))
    (tmp_path / "16000.pcm").write_bytes(pcm("clone-test.wav"))
    return tmp_path


def example(name: str, server: Server, cwd: Path) -> str:
    env = {**os.environ, **server.env}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_example_audio_to_text(server: Server, workdir: Path) -> None:
    assert example("audio_to_text.py", server, workdir).strip()


def test_example_automatic_vad(server: Server, workdir: Path) -> None:
    assert example("automatic_vad.py", server, workdir).strip()


def test_example_input_transcription(server: Server, workdir: Path) -> None:
    out = example("input_transcription.py", server, workdir)
    heard = " ".join(
        line.removeprefix("Transcript: ")
        for line in out.splitlines()
        if line.startswith("Transcript: ")
    )
    assert wer(CLONE, heard) <= 0.2, heard


def test_example_text_to_audio(server: Server, workdir: Path) -> None:
    example("text_to_audio.py", server, workdir)
    with wave.open(str(workdir / "audio.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        audio = pcm16_to_float(w.readframes(w.getnframes()))
    assert len(audio) / 24000 > 0.5
    assert np.sqrt(np.mean(audio**2)) > 0.01, "the answer is silent"


def js_example(name: str, server: Server, cwd: Path) -> str:
    """Run a JS example with `cwd` as its working folder (it reads and writes files
    there) and the SDK resolved from tests/js."""
    script = cwd / name
    shutil.copy(JS_EXAMPLES / name, script)
    env = {**os.environ, **server.env}
    (cwd / "node_modules").symlink_to(JS_EXAMPLES.parent / "node_modules")
    result = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )
    assert result.returncode == 0 and "got error" not in result.stderr, result.stderr
    return result.stdout


def test_js_example_audio_to_text(server: Server, workdir: Path) -> None:
    out = js_example("audio_to_text.mjs", server, workdir)
    assert "Received text: " in out, out


def test_js_example_text_to_audio(server: Server, workdir: Path) -> None:
    js_example("text_to_audio.mjs", server, workdir)
    with wave.open(str(workdir / "audio.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        audio = pcm16_to_float(w.readframes(w.getnframes()))
    assert len(audio) / 24000 > 0.5
    assert np.sqrt(np.mean(audio**2)) > 0.01, "the answer is silent"


def test_example_output_transcription(server: Server, workdir: Path) -> None:
    out = example("output_transcription.py", server, workdir)
    assert "Model turn:" in out and "inline_data" in out
    transcript = [line for line in out.splitlines() if line.startswith("Transcript: ")]
    assert transcript and "".join(transcript).strip() != "Transcript:"


async def hear(
    server: Server,
    audio: bytes,
    rate: int,
    *,
    chunk_ms: int = 100,
    pace: float = 0.0,
    silence_ms: int | None = None,
    model: str = MODEL,
) -> list[str]:
    """Send `audio` in chunks (`pace` 1.0 = real time) and collect input transcriptions
    until the server has answered every turn."""
    config: dict[str, object] = {
        "response_modalities": ["TEXT"],
        "input_audio_transcription": {},
        "max_output_tokens": 8,
    }
    if silence_ms is not None:
        config["realtime_input_config"] = {
            "automatic_activity_detection": {"silence_duration_ms": silence_ms}
        }
    heard: list[str] = []
    async with client(server).aio.live.connect(model=model, config=config) as session:
        step = rate * 2 * chunk_ms // 1000
        for offset in range(0, len(audio), step):
            await session.send_realtime_input(
                audio=types.Blob(
                    data=audio[offset : offset + step], mime_type=f"audio/pcm;rate={rate}"
                )
            )
            if pace:
                await asyncio.sleep(chunk_ms / 1000 / pace)
        await session.send_realtime_input(audio_stream_end=True)

        async def collect() -> None:
            while True:
                async for message in session.receive():
                    content = message.server_content
                    if content and content.input_transcription:
                        heard.append(content.input_transcription.text or "")
                    last[0] = time.monotonic()

        last = [time.monotonic()]
        reader = asyncio.create_task(collect())
        deadline = time.monotonic() + 90
        while (  # noqa: ASYNC110
            time.monotonic() - last[0] < QUIET_S
            and time.monotonic() < deadline
            and not reader.done()
        ):
            await asyncio.sleep(0.2)
        reader.cancel()
        await asyncio.wait([reader])
        if not reader.cancelled() and (error := reader.exception()) is not None:
            raise error  # the session was closed on us
    return heard


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
async def test_human_speech_is_recognized_at_any_rate(server: Server, rate: int) -> None:
    # The speaker pauses between phrases; a longer silence window keeps them one turn,
    # as a listener who knows the quote would.
    heard = await hear(server, at_rate(pcm("beckett.wav"), rate), rate, pace=4.0, silence_ms=1500)
    assert wer(BECKETT, " ".join(heard)) <= 0.2, heard


async def test_interim_transcripts_while_the_user_speaks(server: Server) -> None:
    """Streamed at real time, with the language known: partial transcripts of the turn
    so far arrive while it is spoken, each before the turn's own transcript."""
    config = {
        "response_modalities": ["TEXT"],
        "input_audio_transcription": {},
        "max_output_tokens": 8,
        "speech_config": {"language_code": "en-US"},
        "realtime_input_config": {"automatic_activity_detection": {"silence_duration_ms": 1500}},
    }
    events: list[tuple[str, str]] = []
    audio, chunk = pcm("beckett.wav"), 16000 * 2 // 10  # 100 ms
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:

        async def collect() -> None:
            while True:
                async for message in session.receive():
                    content = message.server_content
                    if content and content.interim_input_transcription:
                        events.append(("interim", content.interim_input_transcription.text or ""))
                    if content and content.input_transcription:
                        events.append(("final", content.input_transcription.text or ""))
                    if content and content.turn_complete:
                        return

        reader = asyncio.create_task(collect())
        for offset in range(0, len(audio), chunk):
            await session.send_realtime_input(
                audio=types.Blob(
                    data=audio[offset : offset + chunk], mime_type="audio/pcm;rate=16000"
                )
            )
            await asyncio.sleep(0.1)
        await session.send_realtime_input(audio_stream_end=True)
        await asyncio.wait_for(reader, 60)
    kinds = [kind for kind, _ in events]
    assert kinds.count("interim") >= 2 and kinds[-1] == "final", events
    assert kinds.index("final") > max(i for i, k in enumerate(kinds) if k == "interim")
    assert wer(BECKETT, events[-1][1]) <= 0.2, events
    said = set(re.findall(r"\w+", BECKETT.lower()))
    for _, text in events[:-1]:
        assert set(re.findall(r"\w+", text.lower())) & said, events


async def test_a_whole_file_in_one_message(server: Server) -> None:
    heard = await hear(server, pcm("clone-test.wav"), 16000, chunk_ms=10_000)
    assert wer(CLONE, " ".join(heard)) <= 0.2, heard


async def speak(
    server: Server, text: str, model: str = MODEL
) -> tuple[bytes, str, types.UsageMetadata | None]:
    config = {
        "response_modalities": ["AUDIO"],
        "output_audio_transcription": {},
        "system_instruction": "Repeat exactly what the user says, nothing else.",
        "temperature": 0,
        "max_output_tokens": 40,
    }
    audio, said, usage = b"", "", None
    async with client(server).aio.live.connect(model=model, config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": text}]})
        async for message in session.receive():
            content = message.server_content
            if message.data:
                audio += message.data
            if content and content.output_transcription:
                said += content.output_transcription.text or ""
            usage = message.usage_metadata or usage
    return audio, said, usage


async def test_round_trip_what_it_says_is_what_it_hears(server: Server) -> None:
    audio, said, usage = await speak(server, "The weather is nice today, so we go to the park.")
    assert said.strip() and len(audio) > 24000
    assert usage is not None and usage.response_tokens_details
    assert usage.response_tokens_details[0].modality == types.MediaModality.AUDIO
    heard = await hear(server, audio, 24000)
    assert wer(said, " ".join(heard)) <= 0.15, (said, heard)


async def test_barge_in_interrupts_the_answer(server: Server) -> None:
    config = {"response_modalities": ["AUDIO"], "max_output_tokens": 300, "temperature": 0.7}
    speech = pcm("clone-test.wav")
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns={
                "role": "user",
                "parts": [{"text": "Tell me a long story about a lighthouse keeper."}],
            }
        )
        events: list[str] = []

        async def barge_in() -> None:
            step = 16000 * 2 // 50  # 20 ms chunks at real time
            for offset in range(0, len(speech), step):
                await session.send_realtime_input(
                    audio=types.Blob(
                        data=speech[offset : offset + step], mime_type="audio/pcm;rate=16000"
                    )
                )
                await asyncio.sleep(0.02)

        sender: asyncio.Task[None] | None = None
        async for message in session.receive():
            content = message.server_content
            if message.data:
                events.append("audio")
                if sender is None:
                    sender = asyncio.create_task(barge_in())
            if content and content.interrupted:
                events.append("interrupted")
            if content and content.generation_complete:
                events.append("generation_complete")
        assert sender is not None
        await sender
    assert "interrupted" in events, "the answer was not interrupted"
    after = events[events.index("interrupted") + 1 :]
    assert "audio" not in after and "generation_complete" not in after


@pytest.mark.parametrize(
    ("model", "voice", "ok"),
    [
        (MODEL, "Kore", True),
        (MODEL, "puck", True),
        (MODEL, "Sulafat", False),  # a native-audio voice on a half-cascade model
        ("gemini-2.5-flash-native-audio-preview-09-2025", "Sulafat", True),
        (MODEL, "Nobody", False),
    ],
)
async def test_voice_names(server: Server, model: str, voice: str, ok: bool) -> None:
    config = {
        "response_modalities": ["AUDIO"],
        "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": voice}}},
        "max_output_tokens": 8,
    }
    if ok:
        audio = 0
        async with client(server).aio.live.connect(model=model, config=config) as session:
            await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi"}]})
            async for message in session.receive():
                audio += len(message.data or b"")
        assert audio > 0, f"{voice} said nothing"
        return
    with pytest.raises(errors.APIError) as info:
        async with client(server).aio.live.connect(model=model, config=config):
            pass
    assert info.value.code == 1007
    assert f'Voice name "{voice}" is not supported by the model.' == info.value.details


async def test_a_model_with_a_recognizer_of_its_own(
    server: Server, data_dir: Path, tmp_path: Path
) -> None:
    """`whisper = DIR` on a model of the config: its sessions are heard by that folder's
    model (here a copy of the bundled one, under a name of its own)."""
    ears = tmp_path / "whisper-own"
    shutil.copytree(data_dir / "models" / "whisper-base", ears)  # prepared by `server`
    config = tmp_path / "openlive.toml"
    config.write_text(f'[models."my-ears"]\nwhisper = "{ears}"\n')
    own = start_server(data_dir, "--config", str(config), "--no-warm-up")
    try:
        assert "(and whisper-own)" in own.logs()
        heard = await hear(own, pcm("clone-test.wav"), 16000, model="my-ears")
    finally:
        stop_server(own)
    assert wer(CLONE, " ".join(heard)) <= 0.3, heard


def test_a_recognizer_folder_that_is_not_whisper_stops_the_start(tmp_path: Path) -> None:
    started = subprocess.run(
        [*OPENLIVE, "serve", "--whisper", str(tmp_path), "--data-dir", str(tmp_path / "d")]
        + ["--port", str(free_port()), "--tls-port", "0", "--no-warm-up"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert f"openlive: not a CTranslate2 Whisper folder: {tmp_path} lacks model.bin" in (
        started.stderr
    )
