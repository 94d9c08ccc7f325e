"""Property-based fuzzing of the protocol core: whatever a client sends, the decoder
and the session's checks answer with a message or with `InvalidArgument` (a 1007 whose
reason fits a close frame), never with another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlive.protocol import codec
from openlive.protocol.errors import InvalidArgument, LiveError
from openlive.protocol.messages import ClientMessage
from openlive.protocol.session import LiveSession, validate_setup

KEYS = [
    "setup", "clientContent", "realtimeInput", "toolResponse", "contextUpdate", "model",
    "generationConfig", "temperature", "topP", "topK", "maxOutputTokens", "responseModalities",
    "speechConfig", "voiceConfig", "languageCode", "systemInstruction", "parts", "text",
    "inlineData", "data", "mimeType", "turns", "role", "turnComplete", "audio", "video",
    "activityStart", "activityEnd", "audioStreamEnd", "functionResponses", "id", "name",
    "response", "tools", "functionDeclarations", "parameters", "realtimeInputConfig",
    "automaticActivityDetection", "silenceDurationMs", "prefixPaddingMs",
    "contextWindowCompression", "triggerTokens", "slidingWindow", "targetTokens",
    "sessionResumption", "handle", "thought", "x",
]  # fmt: skip
"""Field names of the protocol (and one that is not), so that the fuzzer reaches the
checks behind the envelope."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["TEXT", "AUDIO", "user", "model", "models/m", "audio/pcm;rate=16000"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=30,
)


def refuses_cleanly(error: LiveError) -> None:
    assert isinstance(error, InvalidArgument) and error.code == 1007
    assert 0 < len(error.reason.encode()) <= 123


@settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_frame_decodes_or_is_refused(frame: str | bytes) -> None:
    try:
        assert isinstance(codec.decode(frame), ClientMessage)
    except LiveError as error:
        refuses_cleanly(error)


@settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.dictionaries(st.sampled_from(KEYS[:5]), values, min_size=1, max_size=2))
def test_any_message_decodes_or_is_refused(message: dict[str, Any]) -> None:
    try:
        assert isinstance(codec.decode(json.dumps(message)), ClientMessage)
    except LiveError as error:
        refuses_cleanly(error)


@settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(values, st.lists(st.dictionaries(st.sampled_from(KEYS[1:5]), values, max_size=1)))
def test_any_setup_and_what_follows_is_taken_or_refused(
    setup: Any, later: list[dict[str, Any]]
) -> None:
    """A session fed a setup and then anything: every step is an event list or a 1007."""
    session = LiveSession()
    body = setup if isinstance(setup, dict) else {"model": "models/m"}
    try:
        events = session.receive(codec.decode(json.dumps({"setup": {"model": "m", **body}})))
        [requested] = events
        session.complete_setup(validate_setup(requested.setup))  # type: ignore[attr-defined]
        for message in later:
            session.receive(codec.decode(json.dumps(message)))
    except LiveError as error:
        refuses_cleanly(error)
