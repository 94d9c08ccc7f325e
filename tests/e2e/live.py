"""Small helpers for driving a server with the Python SDK in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from google import genai
from google.genai import types

from ..conftest import Server

MODEL = "gemini-live-2.5-flash-preview"


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
