"""Many sessions at once, each its own conversation; a client that leaves mid-answer
stops its generation and leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from ..conftest import Server
from .live import MODEL, ask, client, prompt_tokens

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]


async def wait_for(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_sessions_at_once_keep_their_own_conversations(server: Server) -> None:
    names = ["Alice", "Bob", "Carol", "Dave"]

    async def conversation(name: str) -> None:
        config = {"response_modalities": ["TEXT"], "temperature": 0, "max_output_tokens": 24}
        async with client(server).aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=[
                    {"role": "user", "parts": [{"text": f"My name is {name}."}]},
                    {"role": "model", "parts": [{"text": f"Nice to meet you, {name}."}]},
                ],
                turn_complete=False,
            )
            first = await ask(session, "What is my name?")
            second = await ask(session, "Thanks!")
        # The prompt of each turn is exactly this session's own history, token for token.
        history = [
            ("user", f"My name is {name}."),
            ("assistant", f"Nice to meet you, {name}."),
            ("user", "What is my name?"),
        ]
        assert first.usage and first.usage.prompt_token_count == prompt_tokens(history)
        history += [("assistant", first.text), ("user", "Thanks!")]
        assert second.usage and second.usage.prompt_token_count == prompt_tokens(history)
        for other in set(names) - {name}:
            assert other not in first.text + second.text, f"{name}'s session heard of {other}"

    await asyncio.gather(*(conversation(name) for name in names))
    await wait_for(lambda: server.metric("openlive_sessions ") == 0)


async def test_disconnect_mid_answer_stops_generation(server: Server) -> None:
    setup = {
        "setup": {
            "model": f"models/{MODEL}",
            "generationConfig": {
                "responseModalities": ["TEXT"],
                "maxOutputTokens": 4000,
                "temperature": 1.0,
            },
        }
    }
    ask_long = {
        "clientContent": {
            "turns": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "Write a very long story about the sea, with many chapters."}
                    ],
                }
            ],
            "turnComplete": True,
        }
    }
    async with connect(server.ws_url()) as ws:
        await ws.send(json.dumps(setup))
        await ws.recv()
        await ws.send(json.dumps(ask_long))
        first = json.loads(await ws.recv())
        assert first["serverContent"]["modelTurn"]["parts"][0]["text"]
        await wait_for(lambda: server.metric("openlive_llm_generating") == 1)
        ws.transport.abort()  # the client vanishes without a close frame
    await wait_for(lambda: server.metric("openlive_llm_generating") == 0, within=5)
    tokens = server.metric("openlive_llm_tokens")
    await asyncio.sleep(0.5)
    assert server.metric("openlive_llm_tokens") == tokens, "generation went on"
    await wait_for(lambda: server.metric("openlive_sessions ") == 0)
    # and the model is free for the next session at once
    async with client(server).aio.live.connect(
        model=MODEL, config={"response_modalities": ["TEXT"], "max_output_tokens": 8}
    ) as s:
        assert (await ask(s, "Hi")).text
