"""The OpenAI-compatible LLM backend against a real engine, through the official SDK.

The engine is llama-cpp-python's server on the bundled SmolLM2-135M-Instruct, the model
the embedded backend runs. It ignores `stream_options.include_usage`, so the token
counts checked here are the ones the backend gets from the engine by other means.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from google.genai.live import AsyncSession

from openlive.backends.embedded import bundled_gguf

from ..conftest import Server, free_port, start_server, stop_server

pytestmark = pytest.mark.e2e

MODEL = "gemini-live-2.5-flash-preview"
SLACK = 4
"""Tokens that a reply may lose or gain when it is tokenized again as history."""


@dataclass(frozen=True)
class Engine:
    url: str
    """The API root, ending in /v1."""
    model: str
    """The model name the engine lists."""


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    response_tokens: int


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> Iterator[Engine]:
    """llama-cpp-python's OpenAI-compatible server, in its own process group."""
    with running_engine(data_dir) as (started, _):
        yield started


@contextmanager
def running_engine(data_dir: Path) -> Iterator[tuple[Engine, subprocess.Popen[bytes]]]:
    port = free_port()
    log = data_dir / f"engine-{port}.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the engine exited {process.returncode}:\n{log.read_text()}")
            try:
                listed = httpx.get(f"{url}/models", timeout=1)
                if listed.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not come up:\n{log.read_text()}")
            time.sleep(0.1)
        yield Engine(url, listed.json()["data"][0]["id"]), process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End `process` and whatever it started, SIGTERM first."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(10)
            break
        except subprocess.TimeoutExpired:
            pass
    process.wait()


@pytest.fixture(scope="module")
def openai_server(data_dir: Path, engine: Engine) -> Iterator[Server]:
    running = start_server(
        data_dir, "--llm", "openai", "--llm-url", engine.url, "--llm-model", engine.model
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(openai_server: Server) -> Iterator[genai.Client]:
    """An SDK client of the server; it reads SSL_CERT_FILE when it connects."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", openai_server.env["SSL_CERT_FILE"])
        yield sdk_client(openai_server)


def sdk_client(server: Server) -> genai.Client:
    return genai.Client(
        api_key="k", http_options={"base_url": server.https, "api_version": "v1beta"}
    )


def text_config(**generation: Any) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], temperature=0, **generation
    )


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


def model(text: str) -> types.Content:
    return types.Content(role="model", parts=[types.Part(text=text)])


async def ask(session: AsyncSession, text: str) -> Reply:
    """Send one user turn and read the model's turn to its end."""
    await session.send_client_content(turns=user(text), turn_complete=True)
    texts: list[str] = []
    usage: types.UsageMetadata | None = None
    complete = False
    async for message in session.receive():
        content = message.server_content
        if content and content.model_turn and content.model_turn.parts:
            texts += [part.text for part in content.model_turn.parts if part.text]
        if message.usage_metadata:
            usage = message.usage_metadata
        if content and content.turn_complete:
            complete = True
    assert complete, "the turn did not end with turn_complete"
    assert usage is not None, "the turn carried no usage_metadata"
    assert usage.prompt_token_count is not None and usage.response_token_count is not None
    return Reply("".join(texts), usage.prompt_token_count, usage.response_token_count)


async def ask_once(client: genai.Client, text: str, **generation: Any) -> Reply:
    async with client.aio.live.connect(model=MODEL, config=text_config(**generation)) as session:
        return await ask(session, text)


def engine_answer(engine: Engine, messages: list[dict[str, str]], **sampling: Any) -> Reply:
    """The engine's own answer to `messages`, asked directly, with its own counts."""
    answer = httpx.post(
        f"{engine.url}/chat/completions",
        json={"model": engine.model, "messages": messages, **sampling},
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    usage = body["usage"]
    text = body["choices"][0]["message"]["content"]
    return Reply(text, usage["prompt_tokens"], usage["completion_tokens"])


def engine_text_tokens(engine: Engine, text: str) -> int:
    root = engine.url.removesuffix("/v1")
    answer = httpx.post(f"{root}/extras/tokenize", json={"input": text}, timeout=30)
    answer.raise_for_status()
    return len(answer.json()["tokens"])


async def test_conversation_sends_history_with_real_counts(
    client: genai.Client, openai_server: Server, engine: Engine
) -> None:
    fact = "Remember this: my cat is called Pixel and she is three years old."
    ack = "Got it. Your cat is called Pixel and she is three years old."
    questions = ["What is my cat called?", "How old is she?", "Say her name once more."]
    replies_before = openai_server.metric("openlive_llm_replies")
    tokens_before = openai_server.metric("openlive_llm_tokens")
    config = text_config(max_output_tokens=48)
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=[user(fact), model(ack)], turn_complete=False)
        replies = [await ask(session, question) for question in questions]

    history = [{"role": "user", "content": fact}, {"role": "assistant", "content": ack}]
    previous: Reply | None = None
    for question, reply in zip(questions, replies, strict=True):
        history.append({"role": "user", "content": question})
        assert reply.text.strip(), f"no answer to {question!r}"
        assert 0 < reply.response_tokens <= 48
        # The engine, asked the same history directly, answers the same with the same
        # counts: its chat template, its tokenizer (a reply tokenized again may differ
        # from the tokens generated by one at a seam).
        direct = engine_answer(engine, history, temperature=0, max_tokens=48)
        assert reply.text == direct.text
        assert reply.prompt_tokens == direct.prompt_tokens
        assert abs(reply.response_tokens - direct.response_tokens) <= 1
        if previous is not None:
            # The whole history goes to the engine every turn.
            grown = previous.prompt_tokens + previous.response_tokens
            assert reply.prompt_tokens > grown + engine_text_tokens(engine, question) - SLACK
        history.append({"role": "assistant", "content": reply.text})
        previous = reply
    assert "Pixel" in replies[0].text, replies[0].text
    assert openai_server.metric("openlive_llm_replies") == replies_before + len(questions)
    assert openai_server.metric("openlive_llm_tokens") > tokens_before


QUESTION = "Write two sentences about the sea."


@pytest.fixture(scope="module")
async def sea(client: genai.Client) -> Reply:
    """An answer at temperature 0 with a seed, that the other sampling tests vary."""
    return await ask_once(client, QUESTION, seed=7, max_output_tokens=40)


async def test_same_seed_same_answer(client: genai.Client, sea: Reply) -> None:
    again = await ask_once(client, QUESTION, seed=7, max_output_tokens=40)
    assert again.text == sea.text, "the same seed at temperature 0 answered differently"


async def test_max_output_tokens(client: genai.Client, sea: Reply) -> None:
    assert sea.response_tokens > 6, sea.text
    short = await ask_once(client, QUESTION, seed=7, max_output_tokens=6)
    assert 0 < short.response_tokens <= 6
    assert sea.text.startswith(short.text) and len(short.text) < len(sea.text)


# The SDK takes stop sequences only in its deprecated `generation_config`.
@pytest.mark.filterwarnings("ignore:Setting `LiveConnectConfig.generation_config`")
async def test_stop_sequences(client: genai.Client, sea: Reply) -> None:
    words = sea.text.split()
    stop = words[len(words) // 2]
    stopped = await ask_once(
        client,
        QUESTION,
        seed=7,
        max_output_tokens=40,
        generation_config={"stop_sequences": [stop]},
    )
    assert stopped.text == sea.text[: sea.text.index(stop)], stop


async def test_engine_down_closes_the_session_with_1011(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    down = start_server(data_dir, "--llm", "openai", "--llm-url", nowhere, "--llm-model", "m")
    try:
        monkeypatch.setenv("SSL_CERT_FILE", down.env["SSL_CERT_FILE"])
        with pytest.raises(errors.APIError) as raised:
            await ask_once(sdk_client(down), "Hello?")
        assert raised.value.code == 1011
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{down.http}/healthz")).status_code == 200
        assert down.metric("openlive_llm_replies") == 0
    finally:
        stop_server(down)


async def test_an_engine_killed_mid_answer_closes_that_session_only(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine dies (SIGKILL) while it streams an answer: that session is closed
    with 1011, and a session on another backend of the same server is not touched."""
    local = data_dir / "local-model.toml"
    local.write_text('[models."local"]\nllm = { kind = "embedded" }\n')
    with running_engine(data_dir) as (engine, process):
        server = start_server(
            data_dir,
            *("--llm", "openai", "--llm-url", engine.url, "--llm-model", engine.model),
            *("--config", str(local), "--no-warm-up"),
        )
        try:
            monkeypatch.setenv("SSL_CERT_FILE", server.env["SSL_CERT_FILE"])
            sdk = sdk_client(server)
            story = text_config(max_output_tokens=400)
            helpful = text_config(system_instruction="You are a helpful assistant.")
            async with (
                sdk.aio.live.connect(model=MODEL, config=story) as doomed,
                sdk.aio.live.connect(model="local", config=helpful) as bystander,
            ):
                await doomed.send_client_content(
                    turns=user("Tell me a very long story about the sea."), turn_complete=True
                )
                async for message in doomed.receive():
                    if message.text:
                        break  # the engine is streaming the answer
                os.killpg(process.pid, signal.SIGKILL)
                with pytest.raises(errors.APIError) as closed:
                    while True:
                        async for _ in doomed.receive():
                            pass
                assert closed.value.code == 1011
                assert "Internal error" in str(closed.value)
                reply = await ask(bystander, "What is the capital of France?")
                assert "Paris" in reply.text
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{server.http}/healthz")).status_code == 200
        finally:
            stop_server(server)
