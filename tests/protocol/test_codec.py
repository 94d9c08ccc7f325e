"""The codec, without an event loop: envelopes, casing, base64, int64, errors."""

from __future__ import annotations

import base64
import json

import pytest

from openlive.protocol import codec
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import (
    Content,
    Part,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
)


def test_python_sdk_setup_with_mixed_casing() -> None:
    frame = json.dumps(
        {
            "setup": {
                "model": "models/gemini-live-2.5-flash-preview",
                "generationConfig": {
                    "responseModalities": ["TEXT"],
                    "temperature": 0.7,
                    "topK": 40.0,
                    "speechConfig": {
                        "voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}},
                        "language_code": "en-US",
                    },
                },
                "systemInstruction": {"parts": [{"text": "You are helpful."}], "role": "user"},
                "realtimeInputConfig": {
                    "automatic_activity_detection": {"disabled": False, "silence_duration_ms": 100}
                },
                "contextWindowCompression": {
                    "trigger_tokens": 25600,
                    "sliding_window": {"target_tokens": "12800"},
                },
            }
        }
    )
    setup = codec.decode(frame).setup
    assert setup is not None
    assert setup.generation_config is not None
    speech = setup.generation_config.speech_config
    assert speech is not None and speech.voice_config is not None
    assert speech.voice_config.prebuilt_voice_config is not None
    assert speech.voice_config.prebuilt_voice_config.voice_name == "Kore"
    assert setup.generation_config.top_k == 40.0
    compression = setup.context_window_compression
    assert compression is not None and compression.sliding_window is not None
    assert compression.sliding_window.target_tokens == 12800  # int64 given as a string


@pytest.mark.parametrize("key", ["client_content", "clientContent"])
def test_client_content_in_either_casing(key: str) -> None:
    frame = json.dumps(
        {key: {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turn_complete": True}}
    )
    content = codec.decode(frame).client_content
    assert content is not None and content.turn_complete is True
    assert content.turns == [Content(role="user", parts=[Part(text="hi")])]


@pytest.mark.parametrize(
    "encode",
    [
        base64.b64encode,
        base64.urlsafe_b64encode,
        lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),
    ],
)
def test_base64_in_both_alphabets_with_or_without_padding(encode) -> None:  # type: ignore[no-untyped-def]
    data = bytes(range(250, 256)) + b"\xff\xfe\xfd\x00"
    frame = json.dumps(
        {
            "realtime_input": {
                "audio": {"data": encode(data).decode(), "mime_type": "audio/pcm;rate=16000"}
            }
        }
    )
    realtime = codec.decode(frame).realtime_input
    assert realtime is not None and realtime.audio is not None
    assert realtime.audio.data == data


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "Invalid JSON payload received. Unexpected token."),
        ("[1, 2]", "Invalid JSON payload received. Expected an object."),
        ("{}", "A client message must set exactly one of"),
        ('{"somethingNew": {}}', 'Unknown name "somethingNew": Cannot find field.'),
        ('{"setup": {"model": "m"}, "clientContent": {}}', "exactly one of"),
        (
            '{"setup": {"model": "m", "generationConfig": {"temprature": 1}}}',
            "Unknown name \"temprature\" at 'setup.generation_config': Cannot find field.",
        ),
        (
            '{"realtimeInput": {"audio": {"data": "***", "mimeType": "audio/pcm"}}}',
            "Invalid value at 'realtime_input.audio.data' (invalid base64 data)",
        ),
        ('{"setup": {}}', "Invalid value at 'setup.model': a required field is missing."),
        (
            '{"setup": {"model": "m", "generationConfig": {"temperature": "hot"}}}',
            "Invalid value at 'setup.generation_config.temperature'",
        ),
    ],
)
def test_malformed_frames_are_invalid_arguments(frame: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        codec.decode(frame)
    assert info.value.code == 1007
    assert reason in info.value.reason
    assert len(info.value.reason.encode()) <= 123


def nested(levels: int) -> str:
    """A toolResponse whose whole message nests `levels` objects deep."""
    inner = "{}"
    for _ in range(levels - 5):  # message, toolResponse, functionResponses [..], item
        inner = '{"k": ' + inner + "}"
    return '{"toolResponse": {"functionResponses": [{"name": "f", "response": ' + inner + "}]}}"


@pytest.mark.parametrize(
    "frame",
    [
        '{"setup": {"model": "m", "generationConfig": {"temperature": NaN}}}',
        '{"setup": {"model": "m", "generationConfig": {"topP": Infinity}}}',
        '{"setup": {"model": "m", "generationConfig": {"topK": -Infinity}}}',
    ],
)
def test_nan_and_infinity_are_not_json(frame: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        codec.decode(frame)
    assert info.value.reason == "Invalid JSON payload received. Unexpected token."


def test_nesting_is_bounded_at_a_hundred_levels() -> None:
    message = codec.decode(nested(codec.MAX_DEPTH))
    assert message.tool_response is not None
    for frame in (nested(codec.MAX_DEPTH + 1), "[" * 200_000 + "]" * 200_000):
        with pytest.raises(InvalidArgument) as info:
            codec.decode(frame)
        assert info.value.code == 1007
        assert info.value.reason == (
            "Invalid JSON payload received. Message too deep: over 100 levels."
        )


def content(parts: int) -> str:
    """A clientContent turn of `parts` one-letter text parts: 2 values a part, 5 more."""
    turn = {"role": "user", "parts": [{"text": "a"}] * parts}
    return json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}})


def test_a_message_of_many_small_values_is_refused_before_it_is_parsed() -> None:
    # the message, clientContent, its turns list, the turn, its role, its parts list and
    # turnComplete: 7, then an object and a string a part
    most = (codec.MAX_VALUES - 7) // 2
    assert codec.decode(content(most)).client_content is not None
    with pytest.raises(InvalidArgument) as info:
        codec.decode(content(most + 1))
    assert info.value.code == 1007
    assert info.value.reason == (
        "Invalid JSON payload received. Message too large: over 50,000 values."
    )


def test_values_are_counted_in_objects_and_lists_alike() -> None:
    response = {f"k{i}": i for i in range(codec.MAX_VALUES)}
    frame = json.dumps({"toolResponse": {"functionResponses": [{"response": response}]}})
    with pytest.raises(InvalidArgument) as info:
        codec.decode(frame)
    assert info.value.reason.endswith("Message too large: over 50,000 values.")


@pytest.mark.parametrize("key", ["setup", "contextUpdate"])
def test_too_many_functions_are_counted_before_any_is_checked(key: str) -> None:
    declarations = [{"name": f"f{i}"} for i in range(codec.MAX_FUNCTIONS + 1)]
    tools: object = [{"functionDeclarations": declarations}]
    body = {"model": "models/m", "tools": tools} if key == "setup" else {"tools": {"tools": tools}}
    with pytest.raises(InvalidArgument) as info:
        codec.decode(json.dumps({key: body}))
    assert info.value.reason == "Too many function declarations: 512 at most."


def test_encode_is_canonical_camel_case_with_standard_base64() -> None:
    from openlive.protocol.messages import Blob

    message = ServerMessage(
        server_content=ServerContent(
            model_turn=Content(
                parts=[
                    Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=b"\xfb\xff\xfe"))
                ]
            ),
            turn_complete=True,
        )
    )
    assert json.loads(codec.encode(message)) == {
        "serverContent": {
            "modelTurn": {
                "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "+//+"}}]
            },
            "turnComplete": True,
        }
    }


def test_int64_is_emitted_as_a_string() -> None:
    message = ServerMessage(
        session_resumption_update=SessionResumptionUpdate(
            new_handle="h", resumable=True, last_consumed_client_message_index=12
        )
    )
    wire = json.loads(codec.encode(message))
    assert wire["sessionResumptionUpdate"]["lastConsumedClientMessageIndex"] == "12"


@pytest.mark.parametrize(
    ("compression", "reason"),
    [
        (
            '{"triggerTokens": 9223372036854775808}',
            "Invalid value at 'setup.context_window_compression.trigger_tokens' (not an int64), "
            "9223372036854775808",
        ),
        (
            '{"triggerTokens": "9223372036854775808"}',
            "Invalid value at 'setup.context_window_compression.trigger_tokens' (not an int64), "
            '"9223372036854775808"',
        ),
        (
            '{"slidingWindow": {"targetTokens": -9223372036854775809}}',
            "Invalid value at 'setup.context_window_compression.sliding_window.target_tokens' "
            "(not an int64), -9223372036854775809",
        ),
    ],
)
def test_int64_fields_are_bounded_to_int64(compression: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        codec.decode('{"setup": {"model": "m", "contextWindowCompression": ' + compression + "}}")
    assert info.value.reason == reason


def test_the_int64_edges_are_accepted() -> None:
    frame = (
        '{"setup": {"model": "m", "contextWindowCompression": {"triggerTokens": '
        '"9223372036854775807", "slidingWindow": {"targetTokens": -9223372036854775808}}}}'
    )
    setup = codec.decode(frame).setup
    assert setup is not None and setup.context_window_compression is not None
    assert setup.context_window_compression.trigger_tokens == 2**63 - 1
    window = setup.context_window_compression.sliding_window
    assert window is not None and window.target_tokens == -(2**63)
