"""Bad input closes the session with the hosted service's code and reason, and harms
nothing else: each case runs while another session (one for the module) answers a
question, and fails unless that answer comes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..conftest import Server
from .live import MODEL, ask, client

pytestmark = pytest.mark.e2e

SETUP = {
    "setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}
}


async def close_of(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; the close code and reason."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()
    assert info.value.rcvd is not None, "the server dropped the connection without a close frame"
    return info.value.rcvd.code, info.value.rcvd.reason


async def after_setup(server: Server, frame: str | bytes) -> tuple[int, str]:
    return await after(SETUP)(server, frame)


How = Callable[[Server, str | bytes], Awaitable[tuple[int, str]]]
"""Sends a frame to a server in some way; the close code and reason that follow."""


def after(setup: dict[str, object]) -> How:
    """Send `frame` once `setup` is complete; the close."""

    async def send(server: Server, frame: str | bytes) -> tuple[int, str]:
        async with connect(server.ws_url()) as ws:
            await ws.send(json.dumps(setup))
            assert json.loads(await ws.recv()).keys() == {"setupComplete"}
            await ws.send(frame)
            return await close_of(ws)

    return send


async def as_first(server: Server, frame: str | bytes) -> tuple[int, str]:
    return await as_first_on("v1beta")(server, frame)


def as_first_on(version: str) -> How:
    """Send `frame` as the first message on API `version`; the close."""

    async def send(server: Server, frame: str | bytes) -> tuple[int, str]:
        async with connect(server.ws_url(version)) as ws:
            await ws.send(frame)
            return await close_of(ws)

    return send


async def resuming(server: Server, frame: str | bytes) -> tuple[int, str]:
    """Start a resumable session, take its first handle, then send the setup `frame`
    with that handle on a new connection; the close."""
    async with connect(server.ws_url()) as ws:
        await ws.send(json.dumps({"setup": {**SETUP["setup"], "sessionResumption": {}}}))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}
        update = json.loads(await ws.recv())["sessionResumptionUpdate"]
    setup = json.loads(frame)
    setup["setup"]["sessionResumption"] = {"handle": update["newHandle"]}
    return await as_first(server, json.dumps(setup))


async def answering_a_call(server: Server, frame: str | bytes) -> tuple[int, str]:
    """Ask about the weather with a NON_BLOCKING `get_weather` declared, then answer its
    call with `frame`, whose "ID" becomes the call's id; the close."""
    declaration = {"name": "get_weather", "description": "The weather.", "behavior": "NON_BLOCKING"}
    setup = {"setup": {**SETUP["setup"], "tools": [{"functionDeclarations": [declaration]}]}}
    async with connect(server.ws_url()) as ws:
        await ws.send(json.dumps(setup))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}
        question = {"role": "user", "parts": [{"text": "What's the weather in Oslo?"}]}
        await ws.send(json.dumps({"clientContent": {"turns": [question], "turnComplete": True}}))
        while "toolCall" not in (message := json.loads(await ws.recv())):
            assert "serverContent" in message, message
        [call] = message["toolCall"]["functionCalls"]
        assert call["name"] == "get_weather"
        await ws.send(frame.replace("ID", call["id"]) if isinstance(frame, str) else frame)
        return await close_of(ws)


BYSTANDER = {"response_modalities": ["TEXT"], "max_output_tokens": 2, "temperature": 0}
"""Short answers keep a hundred cases fast; at temperature 0 they are never empty."""
NATIVE_AUDIO = "models/gemini-2.5-flash-native-audio-preview-09-2025"
LEVELS = "models/gemini-3.1-flash-live-preview"
MANUAL = {
    "setup": {
        **SETUP["setup"],
        "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}},
    }
}
ONE_OF = (
    "A client message must set exactly one of setup, clientContent, realtimeInput, "
    "toolResponse or contextUpdate."
)
CANNOT_SEE = (
    f"Image and video input is not supported by models/{MODEL} on this server: its LLM cannot see."
)
EXPLICIT = (
    "Explicit activity control is not supported when automatic activity detection is enabled."
)
PCM = "audio/pcm;rate=16000"
SILENCE = base64.b64encode(bytes(640)).decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()
BAD_HANDLE = "Session resumption handle is invalid or has expired."


def setup_with(**fields: object) -> str:
    return json.dumps({"setup": {**SETUP["setup"], **fields}})


def generation(**fields: object) -> str:
    """A TEXT setup whose generationConfig also has `fields`."""
    return setup_with(generationConfig={"responseModalities": ["TEXT"], **fields})


def on(model: str, **generation_fields: object) -> str:
    """A setup of `model` (its default modality) with these generationConfig fields."""
    return json.dumps({"setup": {"model": model, "generationConfig": generation_fields}})


def detection(**fields: object) -> str:
    return setup_with(realtimeInputConfig={"automaticActivityDetection": fields})


def declaring(*declarations: dict[str, object]) -> str:
    return setup_with(tools=[{"functionDeclarations": list(declarations)}])


def updating(*declarations: dict[str, object]) -> str:
    return json.dumps(
        {"contextUpdate": {"tools": {"tools": [{"functionDeclarations": list(declarations)}]}}}
    )


def realtime(**fields: object) -> str:
    return json.dumps({"realtimeInput": fields})


def audio(mime: str | None, data: str = SILENCE) -> str:
    blob = {"data": data} if mime is None else {"data": data, "mimeType": mime}
    return realtime(audio=blob)


def between(field: str, low: str, high: str, got: str, within: str = "generation_config") -> str:
    return f"{within}.{field} must be between {low} and {high}, got {got}."


INT32 = ("1", "2147483647")
SEEDS = ("-2147483648", "2147483647")
DURATIONS = ("0", "60000")
AAD = "realtime_input_config.automatic_activity_detection"

CASES: list[tuple[str, How, str | bytes, int, str]] = [
    # --- the envelope and JSON --------------------------------------------------------
    ("invalid JSON", as_first, "{setup", 1007, "Invalid JSON payload received. Unexpected token."),
    (
        "NaN is not JSON",
        as_first,
        '{"setup": {"model": "m", "generationConfig": {"temperature": NaN}}}',
        1007,
        "Invalid JSON payload received. Unexpected token.",
    ),
    (
        "invalid UTF-8",
        as_first,
        b'{"setup": "\xff"}',
        1007,
        "Invalid JSON payload received. Unexpected token.",
    ),
    ("not an object", as_first, "[]", 1007, "Invalid JSON payload received. Expected an object."),
    (
        "200,000 levels of nesting",
        after_setup,
        '{"realtimeInput": ' * 200_000 + "1" + "}" * 200_000,
        1007,
        "Invalid JSON payload received. Message too deep: over 100 levels.",
    ),
    (
        "50,001 values",
        after_setup,
        json.dumps({"clientContent": {"turns": [{} for _ in range(50_001)]}}),
        1007,
        "Invalid JSON payload received. Message too large: over 50,000 values.",
    ),
    (
        "unknown envelope",
        after_setup,
        json.dumps({"somethingNew": {}}),
        1007,
        'Invalid JSON payload received. Unknown name "somethingNew": Cannot find field.',
    ),
    ("empty envelope", after_setup, "{}", 1007, ONE_OF),
    ("a null envelope", as_first, json.dumps({"setup": None}), 1007, ONE_OF),
    (
        "two envelopes",
        after_setup,
        json.dumps({"clientContent": {}, "realtimeInput": {"text": "x"}}),
        1007,
        ONE_OF,
    ),
    (
        "message before setup",
        as_first,
        json.dumps({"realtimeInput": {"text": "hi"}}),
        1007,
        "The first message must be setup.",
    ),
    (
        "second setup",
        after_setup,
        json.dumps(SETUP),
        1007,
        "setup may be sent only once, as the first message.",
    ),
    # --- names, types, enums and base64 ------------------------------------------------
    (
        "unknown field",
        after_setup,
        json.dumps({"clientContent": {"turnz": []}}),
        1007,
        "Invalid JSON payload received. Unknown name \"turnz\" at 'client_content': "
        "Cannot find field.",
    ),
    (
        "unknown generation field",
        as_first,
        generation(temprature=1),
        1007,
        'Invalid JSON payload received. Unknown name "temprature" at '
        "'setup.generation_config': Cannot find field.",
    ),
    (
        "no model",
        as_first,
        json.dumps({"setup": {}}),
        1007,
        "Invalid value at 'setup.model': a required field is missing.",
    ),
    (
        "a function with no name",
        as_first,
        declaring({"description": "nameless"}),
        1007,
        "Invalid value at 'setup.tools.0.function_declarations.0.name': "
        "a required field is missing.",
    ),
    (
        "wrong type",
        after_setup,
        json.dumps({"clientContent": {"turns": "hello"}}),
        1007,
        "Invalid value at 'client_content.turns' (Input should be a valid list), \"hello\"",
    ),
    (
        "text that is not a string",
        after_setup,
        realtime(text=["hi"]),
        1007,
        "Invalid value at 'realtime_input.text' (Input should be a valid string)",
    ),
    (
        "a temperature that is not a number",
        as_first,
        generation(temperature="hot"),
        1007,
        "Invalid value at 'setup.generation_config.temperature' (Input should be a valid "
        "number, unable to parse string as a numb...",
    ),
    (
        "a fractional maxOutputTokens",
        as_first,
        generation(maxOutputTokens=5.5),
        1007,
        "Invalid value at 'setup.generation_config.max_output_tokens' (Input should be a valid "
        "integer, got a number with a fract...",
    ),
    (
        "contextUpdate tools as a list",
        after_setup,
        json.dumps({"contextUpdate": {"tools": [{"codeExecution": {}}]}}),
        1007,
        "Invalid value at 'context_update.tools' (Input should be a valid dictionary or "
        "instance of ToolsUpdate)",
    ),
    (
        "a function response that is not an object",
        after_setup,
        json.dumps({"toolResponse": {"functionResponses": [{"id": "x", "response": [1]}]}}),
        1007,
        "Invalid value at 'tool_response.function_responses.0.response' (Input should be a "
        "valid dictionary)",
    ),
    (
        "an unknown modality",
        as_first,
        generation(responseModalities=["SMELL"]),
        1007,
        "Invalid value at 'setup.generation_config.response_modalities.0' (Input should be "
        "'MODALITY_UNSPECIFIED', 'TEXT', 'IMAGE...",
    ),
    (
        "an unknown activityHandling",
        as_first,
        setup_with(realtimeInputConfig={"activityHandling": "SOMETIMES"}),
        1007,
        "Invalid value at 'setup.realtime_input_config.activity_handling' (Input should be "
        "'ACTIVITY_HANDLING_UNSPECIFIED', 'STAR...",
    ),
    (
        "an unknown function behavior",
        as_first,
        declaring({"name": "f", "behavior": "SOMETIMES"}),
        1007,
        "Invalid value at 'setup.tools.0.function_declarations.0.behavior' (Input should be "
        "'UNSPECIFIED', 'BLOCKING' or 'NON_BLO...",
    ),
    (
        "an unknown scheduling",
        after_setup,
        json.dumps({"toolResponse": {"functionResponses": [{"id": "x", "scheduling": "NEVER"}]}}),
        1007,
        "Invalid value at 'tool_response.function_responses.0.scheduling' (Input should be "
        "'SCHEDULING_UNSPECIFIED', 'SILENT', 'W...",
    ),
    (
        "invalid base64",
        after_setup,
        audio(PCM, "not base64!"),
        1007,
        "Invalid value at 'realtime_input.audio.data' (invalid base64 data), \"not base64!\"",
    ),
    (
        "an invalid thought signature",
        after_setup,
        json.dumps(
            {"clientContent": {"turns": [{"parts": [{"text": "x", "thoughtSignature": "@@@"}]}]}}
        ),
        1007,
        "Invalid value at 'client_content.turns.0.parts.0.thought_signature' (invalid base64 "
        'data), "@@@"',
    ),
    # --- setup: the model, modalities and unsupported fields ----------------------------
    (
        "a blank model",
        as_first,
        json.dumps({"setup": {"model": " models/ "}}),
        1007,
        "setup.model is required.",
    ),
    (
        "unknown model",
        as_first,
        json.dumps({"setup": {"model": "models/nope"}}),
        1008,
        "Requested entity was not found.",
    ),
    (
        "two response modalities",
        as_first,
        generation(responseModalities=["TEXT", "AUDIO"]),
        1007,
        "The requested combination of response modalities (TEXT, AUDIO) is not supported "
        "by the model.",
    ),
    (
        "the IMAGE modality",
        as_first,
        generation(responseModalities=["IMAGE"]),
        1007,
        "The requested combination of response modalities (IMAGE) is not supported by the model.",
    ),
    (
        "TEXT on a native-audio model",
        as_first,
        on(NATIVE_AUDIO, responseModalities=["TEXT"]),
        1007,
        "The requested combination of response modalities (TEXT) is not supported by the model.",
    ),
    (
        "responseMimeType",
        as_first,
        generation(responseMimeType="application/json"),
        1007,
        "generation_config.response_mime_type is not supported in the Live API.",
    ),
    (
        "several speakers",
        as_first,
        generation(speechConfig={"multiSpeakerVoiceConfig": {}}),
        1007,
        "multi_speaker_voice_config is not supported in the Live API.",
    ),
    # --- setup: every numeric range -----------------------------------------------------
    (
        "temperature above 2",
        as_first,
        generation(temperature=2.5),
        1007,
        between("temperature", "0", "2", "2.5"),
    ),
    (
        "a negative temperature",
        as_first,
        generation(temperature=-0.5),
        1007,
        between("temperature", "0", "2", "-0.5"),
    ),
    ("topP above 1", as_first, generation(topP=1.5), 1007, between("top_p", "0", "1", "1.5")),
    ("topK 0", as_first, generation(topK=0), 1007, between("top_k", *INT32, "0")),
    (
        "a topK that JSON reads as infinity",
        as_first,
        '{"setup": {"model": "models/' + MODEL + '", "generationConfig": {"topK": 1e999}}}',
        1007,
        between("top_k", *INT32, "inf"),
    ),
    (
        "maxOutputTokens 0",
        as_first,
        generation(maxOutputTokens=0),
        1007,
        between("max_output_tokens", *INT32, "0"),
    ),
    (
        "maxOutputTokens beyond int32",
        as_first,
        generation(maxOutputTokens=2**31),
        1007,
        between("max_output_tokens", *INT32, "2147483648"),
    ),
    (
        "two candidates",
        as_first,
        generation(candidateCount=2),
        1007,
        between("candidate_count", "1", "1", "2"),
    ),
    (
        "presencePenalty above 2",
        as_first,
        generation(presencePenalty=2.5),
        1007,
        between("presence_penalty", "-2", "2", "2.5"),
    ),
    (
        "frequencyPenalty below -2",
        as_first,
        generation(frequencyPenalty=-3),
        1007,
        between("frequency_penalty", "-2", "2", "-3"),
    ),
    (
        "a seed beyond int32",
        as_first,
        generation(seed=2**31),
        1007,
        between("seed", *SEEDS, "2147483648"),
    ),
    (
        "six stop sequences",
        as_first,
        generation(stopSequences=["a", "b", "c", "d", "e", "f"]),
        1007,
        "generation_config.stop_sequences must hold at most 5 sequences, got 6.",
    ),
    (
        "negative silence",
        as_first,
        detection(silenceDurationMs=-5),
        1007,
        between("silence_duration_ms", *DURATIONS, "-5", AAD),
    ),
    (
        "prefix padding over a minute",
        as_first,
        detection(prefixPaddingMs=60_001),
        1007,
        between("prefix_padding_ms", *DURATIONS, "60001", AAD),
    ),
    (
        "a zero triggerTokens",
        as_first,
        setup_with(contextWindowCompression={"triggerTokens": 0}),
        1007,
        "contextWindowCompression.triggerTokens must be positive.",
    ),
    (
        "a negative targetTokens",
        as_first,
        setup_with(contextWindowCompression={"slidingWindow": {"targetTokens": "-1"}}),
        1007,
        "contextWindowCompression.slidingWindow.targetTokens must not be negative.",
    ),
    (
        "a sliding window whose target is above its trigger",
        as_first,
        setup_with(
            contextWindowCompression={
                "triggerTokens": 1000,
                "slidingWindow": {"targetTokens": 2000},
            }
        ),
        1007,
        "contextWindowCompression.slidingWindow.targetTokens (2000) must be below "
        "triggerTokens (1000).",
    ),
    (
        "a triggerTokens beyond int64",
        as_first,
        setup_with(contextWindowCompression={"triggerTokens": "9223372036854775808"}),
        1007,
        "Invalid value at 'setup.context_window_compression.trigger_tokens' (not an int64), "
        '"9223372036854775808"',
    ),
    # --- setup: thinking, affective dialog, proactivity ---------------------------------
    (
        "a thinking budget on a model that does not think",
        as_first,
        generation(thinkingConfig={"thinkingBudget": 100}),
        1007,
        f"Thinking is not enabled for models/{MODEL}.",
    ),
    (
        "a thinking budget over 24576",
        as_first,
        on(NATIVE_AUDIO, thinkingConfig={"thinkingBudget": 24_577}),
        1007,
        "The thinking budget (24577) is invalid.",
    ),
    (
        "a thinking budget of -2",
        as_first,
        on(NATIVE_AUDIO, thinkingConfig={"thinkingBudget": -2}),
        1007,
        "The thinking budget (-2) is invalid.",
    ),
    (
        "a thinking level on a budget model",
        as_first,
        on(NATIVE_AUDIO, thinkingConfig={"thinkingLevel": "LOW"}),
        1007,
        "Thinking level is not supported for this model.",
    ),
    (
        "a thinking level and a budget",
        as_first,
        on(LEVELS, thinkingConfig={"thinkingLevel": "LOW", "thinkingBudget": 128}),
        1007,
        "thinking_budget and thinking_level cannot both be set.",
    ),
    (
        "the XHIGH thinking level",
        as_first,
        on(LEVELS, thinkingConfig={"thinkingLevel": "XHIGH"}),
        1007,
        "Thinking level XHIGH is not supported for this model.",
    ),
    (
        "affective dialog off v1alpha",
        as_first,
        generation(enableAffectiveDialog=True),
        1007,
        'Invalid JSON payload received. Unknown name "enableAffectiveDialog" at '
        "'setup.generation_config': Cannot find field.",
    ),
    (
        "proactivity off v1alpha",
        as_first,
        setup_with(proactivity={"proactiveAudio": True}),
        1007,
        "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
        "Cannot find field.",
    ),
    (
        "affective dialog on a half-cascade model",
        as_first_on("v1alpha"),
        generation(enableAffectiveDialog=True),
        1007,
        f"Affective dialog is not supported by models/{MODEL}.",
    ),
    (
        "proactivity on a half-cascade model",
        as_first_on("v1alpha"),
        setup_with(proactivity={"proactiveAudio": False}),
        1007,
        f"Proactive audio is not supported by models/{MODEL}.",
    ),
    # --- setup: voice and language ------------------------------------------------------
    (
        "an unknown voice",
        as_first,
        generation(speechConfig={"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}}),
        1007,
        'Voice name "Nobody" is not supported by the model.',
    ),
    (
        "an unknown language",
        as_first,
        generation(speechConfig={"languageCode": "xx-XX"}),
        1007,
        'Language code "xx-XX" is not supported by the model.',
    ),
    # --- setup: tools -------------------------------------------------------------------
    (
        "a function name with spaces and a semicolon",
        as_first,
        declaring({"name": "do it; rm -rf /"}),
        1007,
        "Invalid function name 'do it; rm -rf /': a letter or _, then letters, digits, _ . : "
        "or -, 128 at most.",
    ),
    (
        "20,000 functions",
        as_first,
        declaring(*({"name": f"f{i}"} for i in range(20_000))),
        1007,
        "Too many function declarations: 512 at most.",
    ),
    (
        "a function declared twice",
        as_first,
        declaring({"name": "f"}, {"name": "f"}),
        1007,
        "Duplicate function declaration: f.",
    ),
    (
        "an unknown schema type",
        as_first,
        declaring({"name": "f", "parameters": {"type": "BLOB"}}),
        1007,
        "Unknown type 'BLOB' in the schema of f.",
    ),
    (
        "an unknown schema field",
        as_first,
        declaring(
            {
                "name": "f",
                "parameters": {
                    "type": "OBJECT",
                    "properties": {"x": {"type": "STRING", "colour": "red"}},
                },
            }
        ),
        1007,
        "Unknown field 'colour' in the schema of f.x.",
    ),
    (
        "a JSON schema that is not an object",
        as_first,
        declaring({"name": "f", "parametersJsonSchema": "yes"}),
        1007,
        "parameters_json_schema of f must be an object.",
    ),
    (
        "a built-in tool",
        as_first,
        setup_with(tools=[{"googleSearch": {}}]),
        1007,
        "The built-in tool google_search is not available on this server.",
    ),
    # --- setup: resumption --------------------------------------------------------------
    (
        "an unknown resumption handle",
        as_first,
        setup_with(sessionResumption={"handle": "no-such-handle"}),
        1007,
        BAD_HANDLE,
    ),
    (
        "resuming with another model",
        resuming,
        json.dumps({"setup": {"model": "models/gemini-2.0-flash-live-001"}}),
        1007,
        f"A resumed session keeps its model ({MODEL}); got gemini-2.0-flash-live-001.",
    ),
    # --- clientContent ------------------------------------------------------------------
    (
        "invalid role",
        after_setup,
        json.dumps({"clientContent": {"turns": [{"role": "robot", "parts": [{"text": "x"}]}]}}),
        1007,
        'Please use a valid role: user, model. Got "robot".',
    ),
    (
        "a part with no data",
        after_setup,
        json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{}]}]}}),
        1007,
        "Invalid value at 'client_content.turns[0].parts[0].data': required oneof field 'data' "
        "must have one initialized field.",
    ),
    (
        "a file in a turn",
        after_setup,
        json.dumps(
            {"clientContent": {"turns": [{"parts": [{"fileData": {"fileUri": "gs://b/x.pdf"}}]}]}}
        ),
        1007,
        "This model takes text parts only in client_content turns.",
    ),
    (
        "an image in a turn, for a model that cannot see",
        after_setup,
        json.dumps(
            {
                "clientContent": {
                    "turns": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]}]
                }
            }
        ),
        1007,
        CANNOT_SEE,
    ),
    # --- realtimeInput: audio and video -------------------------------------------------
    (
        "WAV audio",
        after_setup,
        audio("audio/wav"),
        1007,
        'Unsupported audio mime type "audio/wav": send 16-bit PCM as audio/pcm;rate=N.',
    ),
    (
        "audio without a mime type",
        after_setup,
        audio(None),
        1007,
        "Audio mime type is missing: send 16-bit PCM as audio/pcm;rate=N.",
    ),
    (
        "audio at 4 kHz",
        after_setup,
        audio("audio/pcm;rate=4000"),
        1007,
        'Invalid sample rate in "audio/pcm;rate=4000": rate must be an integer from 8000 '
        "to 192000.",
    ),
    (
        "audio at a rate of ten digits",
        after_setup,
        audio("audio/pcm;rate=1600000000"),
        1007,
        'Invalid sample rate in "audio/pcm;rate=1600000000": rate must be an integer from 8000 '
        "to 192000.",
    ),
    (
        "stereo audio",
        after_setup,
        audio("audio/pcm;rate=16000;channels=2"),
        1007,
        'Unsupported audio "audio/pcm;rate=16000;channels=2": only mono audio is supported.',
    ),
    (
        "an odd number of audio bytes",
        after_setup,
        audio(PCM, base64.b64encode(b"abc").decode()),
        1007,
        "Audio data must be 16-bit PCM: got an odd number of bytes (3).",
    ),
    (
        "an MP3 media chunk",
        after_setup,
        realtime(mediaChunks=[{"mimeType": "audio/mpeg", "data": SILENCE}]),
        1007,
        'Unsupported audio mime type "audio/mpeg": send 16-bit PCM as audio/pcm;rate=N.',
    ),
    (
        "a video frame, for a model that cannot see",
        after_setup,
        realtime(video={"mimeType": "image/png", "data": PNG}),
        1007,
        CANNOT_SEE,
    ),
    (
        "an image media chunk, for a model that cannot see",
        after_setup,
        realtime(mediaChunks=[{"mimeType": "image/jpeg", "data": PNG}]),
        1007,
        CANNOT_SEE,
    ),
    # --- realtimeInput: combinations and activity signals --------------------------------
    (
        "activityStart with automatic detection",
        after_setup,
        realtime(activityStart={}),
        1007,
        EXPLICIT,
    ),
    ("activityEnd with automatic detection", after_setup, realtime(activityEnd={}), 1007, EXPLICIT),
    (
        "text with activityStart, with automatic detection",
        after_setup,
        realtime(text="hi", activityStart={}),
        1007,
        EXPLICIT,
    ),
    (
        "audioStreamEnd with manual detection",
        after(MANUAL),
        realtime(audioStreamEnd=True),
        1007,
        "audio_stream_end is only allowed with automatic activity detection.",
    ),
    (
        "activity signals with audioStreamEnd, with manual detection",
        after(MANUAL),
        realtime(activityStart={}, audioStreamEnd=True, activityEnd={}),
        1007,
        "audio_stream_end is only allowed with automatic activity detection.",
    ),
    (
        "good audio with bad audio in one message",
        after_setup,
        realtime(
            mediaChunks=[{"mimeType": PCM, "data": SILENCE}],
            audio={"mimeType": "audio/ogg", "data": SILENCE},
        ),
        1007,
        'Unsupported audio mime type "audio/ogg": send 16-bit PCM as audio/pcm;rate=N.',
    ),
    # --- toolResponse -------------------------------------------------------------------
    (
        "response to no call",
        after_setup,
        json.dumps(
            {"toolResponse": {"functionResponses": [{"id": "fc-1", "name": "f", "response": {}}]}}
        ),
        1007,
        "Function response id fc-1 matches no pending call.",
    ),
    (
        "a response without an id",
        after_setup,
        json.dumps({"toolResponse": {"functionResponses": [{"name": "f", "response": {}}]}}),
        1007,
        "Function response id (none) matches no pending call.",
    ),
    (
        "an unknown scheduling inside a response",
        answering_a_call,
        json.dumps(
            {
                "toolResponse": {
                    "functionResponses": [{"id": "ID", "response": {"scheduling": "SOON"}}]
                }
            }
        ),
        1007,
        "Unknown scheduling 'SOON' in a function response.",
    ),
    # --- contextUpdate ------------------------------------------------------------------
    (
        "a built-in tool in contextUpdate",
        after_setup,
        json.dumps({"contextUpdate": {"tools": {"tools": [{"codeExecution": {}}]}}}),
        1007,
        "The built-in tool code_execution is not available on this server.",
    ),
    (
        "a bad function name in contextUpdate",
        after_setup,
        updating({"name": "9lives"}),
        1007,
        "Invalid function name '9lives': a letter or _, then letters, digits, _ . : or -, "
        "128 at most.",
    ),
    (
        "a function declared twice in contextUpdate",
        after_setup,
        updating({"name": "g"}, {"name": "g"}),
        1007,
        "Duplicate function declaration: g.",
    ),
    (
        "an unknown schema type in contextUpdate",
        after_setup,
        updating(
            {"name": "g", "parameters": {"type": "OBJECT", "properties": {"n": {"type": "BIGNUM"}}}}
        ),
        1007,
        "Unknown type 'BIGNUM' in the schema of g.n.",
    ),
    (
        "a property whose schema is null in contextUpdate",
        after_setup,
        updating({"name": "g", "parameters": {"type": "OBJECT", "properties": {"n": None}}}),
        1007,
        "The schema of g.n must be an object.",
    ),
    (
        "513 functions in contextUpdate",
        after_setup,
        updating(*({"name": f"f{i}"} for i in range(513))),
        1007,
        "Too many function declarations: 512 at most.",
    ),
]


@pytest.fixture(scope="module")
async def bystander(server: Server, sdk_env: dict[str, str]) -> AsyncIterator[Any]:
    """An SDK session that talks through every case of this module: each case runs
    while it answers a question, and fails unless the answer comes."""
    async with client(server).aio.live.connect(model=MODEL, config=BYSTANDER) as session:
        yield session


@pytest.mark.parametrize(
    ("name", "how", "frame", "code", "reason"), CASES, ids=[c[0] for c in CASES]
)
async def test_bad_input_closes_with_the_documented_code(
    server: Server,
    bystander: Any,
    name: str,
    how: How,
    frame: str | bytes,
    code: int,
    reason: str,
) -> None:
    async with asyncio.TaskGroup() as talking:
        answer = talking.create_task(ask(bystander, "Hello!"))
        closed = await how(server, frame)
    assert closed == (code, reason)
    assert answer.result().text, "a bystander session was harmed"


def test_the_corpus_is_large_and_its_names_are_unique() -> None:
    assert len(CASES) >= 60
    assert len({name for name, *_ in CASES}) == len(CASES)


async def test_oversized_message_closes_with_1009(server: Server) -> None:
    big = json.dumps({"realtimeInput": {"text": "x" * (16 * 1024 * 1024)}})
    code, reason = await after_setup(server, big)
    assert code == 1009
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.http}/healthz")).status_code == 200


async def test_missing_key_closes_with_1008(server: Server) -> None:
    async with connect(server.ws_url(key=None)) as ws:
        await ws.send(json.dumps(SETUP))
        code, reason = await close_of(ws)
    assert code == 1008
    assert reason.startswith("Method doesn't allow unregistered callers.")


@pytest.mark.parametrize(
    "path",
    [
        "//ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent",
        "/some/prefix//ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent",
    ],
)
async def test_doubled_slashes_and_prefixes_are_routed(server: Server, path: str) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}{path}?key=k") as ws:
        await ws.send(json.dumps(SETUP))
        assert json.loads(await ws.recv()).keys() == {"setupComplete"}


async def test_unknown_path_is_not_found(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{server.port}/ws/something.Else?key=k"):
            pass
    assert info.value.response.status_code == 404
