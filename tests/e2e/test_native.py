"""Model classes through the official SDKs against a real server: thinking on the embedded
model and through an engine, the refusals of each class and API version, and images.

The engine tests run OpenLive on a scripted OpenAI-compatible engine (a vision model that
reasons, `scripted_engine.py`), so that what reaches the engine and what comes back can
be checked exactly.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.genai import errors, types

from ..conftest import ROOT, Server, free_port, start_server, stop_server
from .live import client, run_js

pytestmark = pytest.mark.e2e

THINKING = "gemini-2.5-flash-exp-native-audio-thinking-dialog"
NATIVE = "gemini-2.5-flash-native-audio-preview-09-2025"
HALF_CASCADE = "gemini-live-2.5-flash-preview"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
BUDGET = 24
SLACK = 4
"""Tokens a text may gain when it is tokenized again."""


def thinking(budget: int, include: bool = True) -> dict[str, Any]:
    return {
        "response_modalities": ["AUDIO"],
        "output_audio_transcription": {},
        "thinking_config": {"thinking_budget": budget, "include_thoughts": include},
        "temperature": 0,
        "max_output_tokens": 30,
    }


class Spoken:
    """What one turn of a spoken answer brought."""

    def __init__(self) -> None:
        self.thoughts: list[str] = []
        self.texts: list[str] = []
        self.transcript = ""
        self.audio = 0
        self.usage: types.UsageMetadata | None = None
        self.thought_before_audio = True


async def spoken_turn(session: Any) -> Spoken:
    turn = Spoken()
    async for message in session.receive():
        content = message.server_content
        if content and content.model_turn:
            for part in content.model_turn.parts or ():
                if part.thought:
                    turn.thoughts.append(part.text or "")
                    turn.thought_before_audio &= turn.audio == 0
                elif part.inline_data is not None:
                    turn.audio += len(part.inline_data.data or b"")
                elif part.text:
                    turn.texts.append(part.text)
            if message.text:  # the SDK's .text skips thought parts
                turn.texts.append(f".text:{message.text}")
        if content and content.output_transcription:
            turn.transcript += content.output_transcription.text or ""
        if message.usage_metadata is not None:
            turn.usage = message.usage_metadata
    return turn


# --- thinking on the embedded model ---------------------------------------------------------


@pytest.mark.usefixtures("sdk_env")
async def test_the_thinking_model_thinks_within_its_budget(server: Server) -> None:
    async with client(server).aio.live.connect(model=THINKING, config=thinking(BUDGET)) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What is two plus three?"}]}
        )
        turn = await spoken_turn(session)
    thought = "".join(turn.thoughts).strip()
    assert thought, "no thought parts"
    assert turn.thought_before_audio, "thoughts come before the answer's audio"
    assert turn.audio > 0 and turn.transcript.strip()
    assert turn.texts == [], "thoughts are not text parts, and .text skips them"
    # (That the thoughts are never spoken is shown exactly with the scripted engine below:
    # this small model often repeats its notes in its answer.)
    assert turn.usage is not None
    assert 0 < (turn.usage.thoughts_token_count or 0) <= BUDGET + SLACK
    assert turn.usage.total_token_count == (
        (turn.usage.prompt_token_count or 0)
        + (turn.usage.response_token_count or 0)
        + (turn.usage.thoughts_token_count or 0)
    )


@pytest.mark.usefixtures("sdk_env")
async def test_thoughts_stay_hidden_unless_asked_for(server: Server) -> None:
    config = thinking(BUDGET, include=False)
    async with client(server).aio.live.connect(model=THINKING, config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi!"}]})
        turn = await spoken_turn(session)
    assert turn.thoughts == []
    assert turn.audio > 0
    assert turn.usage is not None and (turn.usage.thoughts_token_count or 0) > 0


@pytest.mark.usefixtures("sdk_env")
async def test_a_budget_of_zero_is_no_thinking(server: Server) -> None:
    async with client(server).aio.live.connect(model=THINKING, config=thinking(0)) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi!"}]})
        turn = await spoken_turn(session)
    assert turn.thoughts == []
    assert turn.usage is not None and not turn.usage.thoughts_token_count


# --- what each class and version refuses -----------------------------------------------------


async def refused(server: Server, model: str, config: dict[str, Any], version: str) -> str:
    with pytest.raises(errors.APIError) as raised:
        async with client(server, version=version).aio.live.connect(model=model, config=config):
            pass
    assert raised.value.code == 1007
    return str(raised.value.details)


@pytest.mark.usefixtures("sdk_env")
@pytest.mark.parametrize(
    ("model", "config", "version", "reason"),
    [
        (
            HALF_CASCADE,
            {"response_modalities": ["TEXT"], "thinking_config": {"thinking_budget": 100}},
            "v1beta",
            f"Thinking is not enabled for models/{HALF_CASCADE}.",
        ),
        (
            NATIVE,
            {"thinking_config": {"thinking_level": "LOW"}},
            "v1beta",
            "Thinking level is not supported for this model.",
        ),
        (
            NATIVE,
            {"enable_affective_dialog": True},
            "v1beta",
            'Invalid JSON payload received. Unknown name "enableAffectiveDialog" at '
            "'setup.generation_config': Cannot find field.",
        ),
        (
            NATIVE,
            {"proactivity": {"proactive_audio": True}},
            "v1",
            "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
            "Cannot find field.",
        ),
        (
            HALF_CASCADE,
            {"response_modalities": ["TEXT"], "enable_affective_dialog": False},
            "v1alpha",
            f"Affective dialog is not supported by models/{HALF_CASCADE}.",
        ),
        (
            NATIVE,
            {"response_modalities": ["TEXT"]},
            "v1beta",
            "The requested combination of response modalities (TEXT) is not supported by the "
            "model.",
        ),
    ],
)
async def test_what_a_class_does_not_support_closes_with_1007(
    server: Server, model: str, config: dict[str, Any], version: str, reason: str
) -> None:
    assert await refused(server, model, config, version) == reason


@pytest.mark.usefixtures("sdk_env")
async def test_native_dialog_fields_are_accepted_on_v1alpha(server: Server) -> None:
    config = {
        "enable_affective_dialog": True,
        "proactivity": {"proactive_audio": True},
        "max_output_tokens": 16,
    }
    async with client(server, version="v1alpha").aio.live.connect(
        model=NATIVE, config=config
    ) as session:
        # nothing to judge relevance against (no instruction, no history): answered
        await session.send_client_content(turns={"role": "user", "parts": [{"text": "Hi!"}]})
        turn = await spoken_turn(session)
    assert turn.audio > 0


@pytest.mark.usefixtures("sdk_env")
async def test_the_embedded_model_refuses_video(server: Server) -> None:
    config = {"response_modalities": ["TEXT"]}
    with pytest.raises(errors.APIError) as raised:
        async with client(server).aio.live.connect(model=HALF_CASCADE, config=config) as session:
            await session.send_realtime_input(video=types.Blob(data=JPEG, mime_type="image/jpeg"))
            async for _ in session.receive():
                pass
    assert raised.value.code == 1007
    assert str(raised.value.details) == (
        f"Image and video input is not supported by models/{HALF_CASCADE} on this server: "
        "its LLM cannot see."
    )


# --- through an engine that sees and reasons -----------------------------------------------


@pytest.fixture(scope="module")
def engine_log(data_dir: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = data_dir / f"scripted-engine-{port}.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.scripted_engine", str(port), str(log)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "no engine"
            time.sleep(0.1)
        yield url, log
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def seeing_server(data_dir: Path, engine_log: tuple[str, Path]) -> Iterator[Server]:
    url, _ = engine_log
    running = start_server(
        data_dir, "--llm", "openai", "--llm-url", url, "--llm-model", "scripted-vlm"
    )
    yield running
    stop_server(running)


async def test_frames_reach_the_engine_and_its_reasoning_comes_back_as_thoughts(
    seeing_server: Server, engine_log: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", seeing_server.env["SSL_CERT_FILE"])
    _, log = engine_log
    config = {**thinking(-1), "media_resolution": "MEDIA_RESOLUTION_LOW"}
    async with client(seeing_server).aio.live.connect(model=THINKING, config=config) as session:
        await session.send_realtime_input(video=types.Blob(data=JPEG, mime_type="image/jpeg"))
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What do you see?"}]}
        )
        turn = await spoken_turn(session)
    assert "".join(turn.thoughts) == "Looking at 1 image(s)."
    assert turn.transcript.strip() == "I see 1 image(s)."
    assert turn.audio > 0
    assert turn.usage is not None
    assert turn.usage.thoughts_token_count == 3
    details = {d.modality.value: d.token_count for d in turn.usage.prompt_tokens_details or ()}
    assert details == {"TEXT": 20, "VIDEO": 64}, "64 tokens a frame at LOW"

    [request] = [json.loads(line) for line in log.read_text().splitlines()][-1:]
    last = request["messages"][-1]
    assert last["role"] == "user"
    assert last["content"] == [
        {"type": "text", "text": "What do you see?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()},
        },
    ]


async def test_javascript_sdk_thoughts(server: Server) -> None:
    """The JS SDK: thought parts arrive marked, and its `.text` leaves them out."""
    out = await run_js(server, "thinking.mjs")
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert int(lines["thought parts"]) > 0
    assert lines["text"] == "undefined", "the answer is audio; .text skips thoughts"
    assert int(lines["audio bytes"]) > 0
    assert 0 < int(lines["thoughtsTokenCount"]) <= BUDGET + SLACK
