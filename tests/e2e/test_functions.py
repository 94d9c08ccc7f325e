"""Function calling through the official SDKs, against a real server on the embedded model:
a weather conversation in text and in speech, NON_BLOCKING scheduling, and cancellation
when the user speaks over a pending call."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest
from google.genai import types

from ..conftest import Server
from .live import MODEL, client, receive_turn, run_js
from .test_voice import pcm

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city, as the user named it"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Get the current weather in a city.",
    parameters_json_schema=WEATHER_PARAMETERS,
)
FORECAST = {"output": {"conditions": "sunny", "temperature_c": 18}}


def config(*declarations: types.FunctionDeclaration, audio: bool = False) -> dict[str, Any]:
    return {
        "response_modalities": ["AUDIO" if audio else "TEXT"],
        "tools": [types.Tool(function_declarations=list(declarations))],
        "temperature": 0,
        "max_output_tokens": 40,
        **({"output_audio_transcription": {}} if audio else {}),
    }


async def next_tool_call(session: Any) -> types.LiveServerToolCall:
    async for message in session.receive():
        if message.tool_call is not None:
            return message.tool_call
        assert message.server_content is None or not message.server_content.model_turn, (
            f"the model answered instead of calling: {message}"
        )
    raise AssertionError("the turn ended without a call")


async def test_a_weather_conversation(server: Server) -> None:
    async with client(server).aio.live.connect(model=MODEL, config=config(WEATHER)) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What's the weather like in Paris?"}]}
        )
        call = await next_tool_call(session)
        [fc] = call.function_calls or []
        assert fc.name == "get_weather" and fc.id
        jsonschema.validate(fc.args, WEATHER_PARAMETERS)
        assert fc.args is not None and fc.args["city"] == "Paris"

        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=fc.id, name=fc.name, response=FORECAST)]
        )
        turn = await receive_turn(session)
    assert "sunny" in turn.text.lower(), turn.text


async def test_the_answer_to_a_call_is_spoken(server: Server) -> None:
    async with client(server).aio.live.connect(
        model=MODEL, config=config(WEATHER, audio=True)
    ) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "Is it sunny in Rome? Check the weather."}]}
        )
        [fc] = (await next_tool_call(session)).function_calls or []
        assert fc.args is not None and fc.args["city"] == "Rome"
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=fc.id, name=fc.name, response=FORECAST)]
        )
        audio = 0
        said = ""
        async for message in session.receive():
            content = message.server_content
            if content and content.model_turn:
                parts = content.model_turn.parts or ()
                audio += sum(len(p.inline_data.data or b"") for p in parts if p.inline_data)
            if content and content.output_transcription:
                said += content.output_transcription.text or ""
    assert audio > 24_000, "about half a second of speech at least"
    assert "sunny" in said.lower(), said


@pytest.mark.parametrize("scheduling", ["WHEN_IDLE", "SILENT", "INTERRUPT"])
async def test_non_blocking_calls(server: Server, scheduling: str) -> None:
    background = WEATHER.model_copy(update={"behavior": types.Behavior.NON_BLOCKING})
    async with client(server).aio.live.connect(model=MODEL, config=config(background)) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What's the weather in Oslo?"}]}
        )
        [fc] = (await next_tool_call(session)).function_calls or []
        async for _message in session.receive():
            pass  # a NON_BLOCKING call ends the turn: the conversation goes on
        await session.send_tool_response(
            function_responses=[
                types.FunctionResponse(
                    id=fc.id,
                    name=fc.name,
                    response=FORECAST,
                    scheduling=types.FunctionResponseScheduling(scheduling),
                )
            ]
        )
        if scheduling == "SILENT":
            # Only added to the history: nothing is said, and the next turn's prompt holds it.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(2):
                    async for message in session.receive():
                        pytest.fail(f"a SILENT result was answered: {message}")
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "So, is it sunny?"}]}
            )
        turn = await receive_turn(session)
    assert turn.text.strip()
    if scheduling != "SILENT":
        assert "sunny" in turn.text.lower(), turn.text


async def test_speaking_over_a_pending_call_cancels_it(server: Server) -> None:
    speech = pcm("clone-test.wav")
    async with client(server).aio.live.connect(model=MODEL, config=config(WEATHER)) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What's the weather in Madrid?"}]}
        )
        [fc] = (await next_tool_call(session)).function_calls or []

        # The user speaks (a real recording, at real time) instead of waiting.
        async def speak() -> None:
            for i in range(0, len(speech), 640):
                await session.send_realtime_input(
                    audio=types.Blob(data=speech[i : i + 640], mime_type="audio/pcm;rate=16000")
                )
                await asyncio.sleep(0.02)

        sender = asyncio.create_task(speak())
        cancelled: list[str] = []
        interrupted = False
        async with asyncio.timeout(30):
            async for message in session.receive():
                if message.tool_call_cancellation is not None:
                    cancelled += message.tool_call_cancellation.ids or []
                if message.server_content and message.server_content.interrupted:
                    interrupted = True
        sender.cancel()
        assert cancelled == [fc.id]
        assert interrupted
        # A late answer to the cancelled call is dropped quietly: the session goes on.
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=fc.id, name=fc.name, response=FORECAST)]
        )
        await session.send_realtime_input(audio_stream_end=True)
        turn = await receive_turn(session)
        assert turn.text.strip()


async def test_javascript_sdk(server: Server) -> None:
    out = await run_js(server, "function_calling.mjs")
    lines = out.splitlines()
    assert lines[0] == 'call: get_weather {"city":"Paris"}', lines
    assert "sunny" in lines[1].lower(), lines
