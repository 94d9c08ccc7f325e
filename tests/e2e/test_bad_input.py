"""Bad input closes the session with the hosted service's code and reason, and harms
nothing else: each case runs while another session holds a conversation."""

from __future__ import annotations

import json

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
    async with connect(server.ws_url()) as ws:
        await ws.send(json.dumps(SETUP))
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
        await ws.send(frame)
        return await close_of(ws)


async def as_first(server: Server, frame: str | bytes) -> tuple[int, str]:
    async with connect(server.ws_url()) as ws:
        await ws.send(frame)
        return await close_of(ws)


BYSTANDER = {"response_modalities": ["TEXT"], "max_output_tokens": 16}


def setup_with(**fields: object) -> str:
    return json.dumps({"setup": {**SETUP["setup"], **fields}})


CASES = [
    ("invalid JSON", as_first, "{setup", 1007, "Invalid JSON payload received. Unexpected token."),
    (
        "negative silence",
        as_first,
        setup_with(realtimeInputConfig={"automaticActivityDetection": {"silenceDurationMs": -5}}),
        1007,
        "realtime_input_config.automatic_activity_detection.silence_duration_ms must be "
        "between 0 and 60000, got -5.",
    ),
    (
        "a function name with spaces and a semicolon",
        as_first,
        setup_with(tools=[{"functionDeclarations": [{"name": "do it; rm -rf /"}]}]),
        1007,
        "Invalid function name 'do it; rm -rf /': a letter or _, then letters, digits, _ . : "
        "or -, 128 at most.",
    ),
    (
        "20,000 functions",
        as_first,
        setup_with(tools=[{"functionDeclarations": [{"name": f"f{i}"} for i in range(20_000)]}]),
        1007,
        "Too many function declarations: 512 at most.",
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
        "a part with no data",
        after_setup,
        json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{}]}]}}),
        1007,
        "Invalid value at 'client_content.turns[0].parts[0].data': required oneof field 'data' "
        "must have one initialized field.",
    ),
    (
        "NaN is not JSON",
        as_first,
        '{"setup": {"model": "m", "generationConfig": {"temperature": NaN}}}',
        1007,
        "Invalid JSON payload received. Unexpected token.",
    ),
    (
        "200,000 levels of nesting",
        after_setup,
        '{"realtimeInput": ' * 200_000 + "1" + "}" * 200_000,
        1007,
        "Invalid JSON payload received. Message too deep: over 100 levels.",
    ),
    ("not an object", as_first, "[]", 1007, "Invalid JSON payload received. Expected an object."),
    (
        "invalid UTF-8",
        as_first,
        b'{"setup": "\xff"}',
        1007,
        "Invalid JSON payload received. Unexpected token.",
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
    (
        "unknown envelope",
        after_setup,
        json.dumps({"somethingNew": {}}),
        1007,
        'Invalid JSON payload received. Unknown name "somethingNew": Cannot find field.',
    ),
    (
        "empty envelope",
        after_setup,
        "{}",
        1007,
        "A client message must set exactly one of setup, clientContent, realtimeInput, "
        "toolResponse or contextUpdate.",
    ),
    (
        "two envelopes",
        after_setup,
        json.dumps({"clientContent": {}, "realtimeInput": {"text": "x"}}),
        1007,
        "A client message must set exactly one of setup, clientContent, realtimeInput, "
        "toolResponse or contextUpdate.",
    ),
    (
        "two response modalities",
        as_first,
        json.dumps(
            {
                "setup": {
                    "model": f"models/{MODEL}",
                    "generationConfig": {"responseModalities": ["TEXT", "AUDIO"]},
                }
            }
        ),
        1007,
        "The requested combination of response modalities (TEXT, AUDIO) is not supported "
        "by the model.",
    ),
    (
        "invalid base64",
        after_setup,
        json.dumps(
            {
                "realtimeInput": {
                    "audio": {"data": "not base64!", "mimeType": "audio/pcm;rate=16000"}
                }
            }
        ),
        1007,
        "Invalid value at 'realtime_input.audio.data' (invalid base64 data), \"not base64!\"",
    ),
    (
        "unknown field",
        after_setup,
        json.dumps({"clientContent": {"turnz": []}}),
        1007,
        "Invalid JSON payload received. Unknown name \"turnz\" at 'client_content': "
        "Cannot find field.",
    ),
    (
        "wrong type",
        after_setup,
        json.dumps({"clientContent": {"turns": "hello"}}),
        1007,
        "Invalid value at 'client_content.turns' (Input should be a valid list), \"hello\"",
    ),
    (
        "invalid role",
        after_setup,
        json.dumps({"clientContent": {"turns": [{"role": "robot", "parts": [{"text": "x"}]}]}}),
        1007,
        'Please use a valid role: user, model. Got "robot".',
    ),
    (
        "unknown model",
        as_first,
        json.dumps({"setup": {"model": "models/nope"}}),
        1008,
        "Requested entity was not found.",
    ),
    (
        "response to no call",
        after_setup,
        json.dumps(
            {"toolResponse": {"functionResponses": [{"id": "fc-1", "name": "f", "response": {}}]}}
        ),
        1007,
        "Function response id fc-1 matches no pending call.",
    ),
]


@pytest.mark.parametrize(
    ("name", "how", "frame", "code", "reason"), CASES, ids=[c[0] for c in CASES]
)
async def test_bad_input_closes_with_the_documented_code(
    server: Server,
    sdk_env: dict[str, str],
    name: str,
    how,
    frame,
    code: int,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    async with client(server).aio.live.connect(model=MODEL, config=BYSTANDER) as bystander:
        assert await how(server, frame) == (code, reason)
        assert (await ask(bystander, "Hello!")).text, "a bystander session was harmed"


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
        assert json.loads(await ws.recv()) == {"setupComplete": {}}


async def test_unknown_path_is_not_found(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{server.port}/ws/something.Else?key=k"):
            pass
    assert info.value.response.status_code == 404
