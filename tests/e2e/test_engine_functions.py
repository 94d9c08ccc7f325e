"""Function calling through an OpenAI-compatible engine (`scripted_engine.py`), with the
official Python SDK: the engine's streamed tool call becomes a `toolCall`, the client's
`toolResponse` goes back to the engine as a tool message, and its answer uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.genai import types

from ..conftest import Server
from .live import client, receive_turn
from .test_native import engine_log, seeing_server

__all__ = ["engine_log", "seeing_server"]  # the fixtures, shared with test_native

pytestmark = pytest.mark.e2e

MODEL = "gemini-live-2.5-flash-preview"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Get the current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


async def test_an_engines_tool_call_round_trip(
    seeing_server: Server, engine_log: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", seeing_server.env["SSL_CERT_FILE"])
    _, log = engine_log
    config = {
        "response_modalities": ["TEXT"],
        "tools": [types.Tool(function_declarations=[WEATHER])],
    }
    async with client(seeing_server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What is the weather in Paris?"}]}
        )
        call = None
        async for message in session.receive():
            if message.tool_call is not None:
                call = message.tool_call
                break
        assert call is not None and call.function_calls
        [fc] = call.function_calls
        assert (fc.name, fc.args) == ("get_weather", {"city": "Paris"}) and fc.id

        await session.send_tool_response(
            function_responses=[
                types.FunctionResponse(id=fc.id, name=fc.name, response={"sky": "sunny"})
            ]
        )
        turn = await receive_turn(session)
    assert "sunny" in turn.text, turn.text

    requests = [json.loads(line) for line in log.read_text().splitlines()]
    first, second = requests[-2:]
    assert first["tools"][0]["function"]["name"] == "get_weather"
    call_message, result_message = second["messages"][-2:]
    assert call_message["role"] == "assistant"
    assert call_message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert json.loads(call_message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert result_message["role"] == "tool"
    assert result_message["tool_call_id"] == call_message["tool_calls"][0]["id"]
    assert json.loads(result_message["content"]) == {"sky": "sunny"}
