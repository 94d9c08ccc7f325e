"""Small helpers for driving a server with the Python SDK in tests."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from dataclasses import dataclass, field
from typing import Any

from google import genai
from google.genai import types
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from openlive.backends.embedded import bundled_gguf

from ..conftest import ROOT, Server

MODEL = "gemini-live-2.5-flash-preview"
JS = ROOT / "tests" / "js"


async def run_js(server: Server, script: str, *args: str) -> str:
    """Run `node tests/js/<script> ARGS` against `server` (at most 120 s); fail unless it
    exits 0; its standard output."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        *args,
        cwd=JS,
        env={**os.environ, **server.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def client(server: Server, key: str = "test-key", version: str = "v1beta") -> genai.Client:
    return genai.Client(
        api_key=key, http_options={"base_url": server.https, "api_version": version}
    )


@dataclass
class Turn:
    """What one `receive()` loop saw."""

    text: str = ""
    messages: list[types.LiveServerMessage] = field(default_factory=list)
    usage: types.UsageMetadata | None = None
    first_text_at: float | None = None

    @property
    def interrupted(self) -> bool:
        return any(m.server_content and m.server_content.interrupted for m in self.messages)


async def receive_turn(session: Any) -> Turn:
    turn = Turn()
    async for message in session.receive():
        turn.messages.append(message)
        assert message.server_content is not None, f"a message without serverContent: {message}"
        if message.text:
            turn.first_text_at = turn.first_text_at or time.monotonic()
            turn.text += message.text
        if message.usage_metadata is not None:
            turn.usage = message.usage_metadata
    last = turn.messages[-1].server_content
    assert last is not None and last.turn_complete
    return turn


async def ask(session: Any, text: str, *, turn_complete: bool = True) -> Turn:
    await session.send_client_content(
        turns={"role": "user", "parts": [{"text": text}]}, turn_complete=turn_complete
    )
    return await receive_turn(session)


@functools.cache
def _tokenizer() -> tuple[Llama, Jinja2ChatFormatter]:
    """The embedded model's own tokenizer and chat template, to check usage counts."""
    llama = Llama(model_path=str(bundled_gguf()), vocab_only=True, verbose=False)
    formatter = Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
    )
    return llama, formatter


def prompt_tokens(history: list[tuple[str, str]]) -> int:
    """Tokens of a chat (role, text) history as the embedded model's template renders it."""
    llama, formatter = _tokenizer()
    prompt = formatter(messages=[{"role": r, "content": c} for r, c in history]).prompt
    return len(llama.tokenize(prompt.encode(), add_bos=True, special=True))


def text_tokens(text: str) -> int:
    llama, _ = _tokenizer()
    return len(llama.tokenize(text.encode(), add_bos=False, special=True))
