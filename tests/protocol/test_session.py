"""The session state machine, driven by plain calls: no loop, no socket, no model."""

from __future__ import annotations

import json

import pytest

from openlive.protocol import codec
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.events import ContentAppended, SetupRequested, TextReceived
from openlive.protocol.messages import Modality, Setup
from openlive.protocol.session import (
    TRANSITIONS,
    LiveSession,
    SessionState,
    TurnUsage,
    validate_setup,
)
from openlive.protocol.turn import Ending


def _msg(obj: dict[str, object]):  # type: ignore[no-untyped-def]
    return codec.decode(json.dumps(obj))


def _active(setup: dict[str, object] | None = None) -> LiveSession:
    session = LiveSession()
    body = setup or {"model": "models/m", "generationConfig": {"responseModalities": ["TEXT"]}}
    [event] = session.receive(_msg({"setup": body}))
    assert isinstance(event, SetupRequested)
    first = session.complete_setup(validate_setup(event.setup), "s-1")
    assert json.loads(codec.encode(first)) == {"setupComplete": {"sessionId": "s-1"}}
    return session


def test_setup_then_content() -> None:
    session = _active()
    assert session.state is SessionState.ACTIVE
    events = session.receive(
        _msg({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}]}})
    )
    assert events == [ContentAppended(events[0].turns, True)]  # type: ignore[union-attr]
    assert session.receive(_msg({"realtimeInput": {"text": "yo"}})) == [TextReceived("yo")]
    assert session.client_message_index == 2


def test_a_message_before_setup_is_refused() -> None:
    session = LiveSession()
    with pytest.raises(InvalidArgument, match="first message must be setup"):
        session.receive(_msg({"realtimeInput": {"text": "hi"}}))
    assert session.state is SessionState.CLOSED


def test_a_second_setup_is_refused() -> None:
    session = _active()
    with pytest.raises(InvalidArgument, match="only once"):
        session.receive(_msg({"setup": {"model": "models/m"}}))


def test_content_while_setting_up_is_refused() -> None:
    session = LiveSession()
    session.receive(_msg({"setup": {"model": "m"}}))
    with pytest.raises(InvalidArgument, match="not allowed while the session is setting up"):
        session.receive(_msg({"clientContent": {"turnComplete": True}}))


def test_every_state_has_a_way_out_but_closed() -> None:
    sources = {state for state, _ in TRANSITIONS}
    assert sources == set(SessionState) - {SessionState.CLOSED}


@pytest.mark.parametrize(
    ("generation", "reason"),
    [
        ({"responseModalities": ["TEXT", "AUDIO"]}, "(TEXT, AUDIO) is not supported"),
        ({"responseModalities": ["IMAGE"]}, "(IMAGE) is not supported"),
        ({"temperature": 3}, "temperature must be between 0 and 2"),
        ({"candidateCount": 2}, "candidate_count must be between 1 and 1"),
        ({"responseMimeType": "application/json"}, "response_mime_type is not supported"),
        ({"maxOutputTokens": 0}, "max_output_tokens must be between 1 and 2147483647, got 0"),
    ],
)
def test_invalid_setups(generation: dict[str, object], reason: str) -> None:
    setup = Setup.model_validate({"model": "m", "generationConfig": generation})
    with pytest.raises(InvalidArgument) as info:
        validate_setup(setup)
    assert reason in info.value.reason


def _refusal(generation: dict[str, object]) -> str:
    setup = codec.decode(json.dumps({"setup": {"model": "m", "generationConfig": generation}}))
    assert setup.setup is not None
    with pytest.raises(InvalidArgument) as info:
        validate_setup(setup.setup)
    return info.value.reason


@pytest.mark.parametrize(
    ("generation", "reason"),
    [
        (
            {"seed": 2**31},
            "generation_config.seed must be between -2147483648 and 2147483647, got 2147483648.",
        ),
        (
            {"seed": -(2**31) - 1},
            "generation_config.seed must be between -2147483648 and 2147483647, got -2147483649.",
        ),
        (
            {"maxOutputTokens": 2**31},
            "generation_config.max_output_tokens must be between 1 and 2147483647, got 2147483648.",
        ),
        (
            {"topK": 2.0**31},
            "generation_config.top_k must be between 1 and 2147483647, got 2147483648.",
        ),
        ({"topK": 0.5}, "generation_config.top_k must be between 1 and 2147483647, got 0.5."),
        ({"topK": 1e300}, "generation_config.top_k must be between 1 and 2147483647, got 1e+300."),
        ({"temperature": 3.0}, "generation_config.temperature must be between 0 and 2, got 3."),
        ({"topP": -0.25}, "generation_config.top_p must be between 0 and 1, got -0.25."),
        (
            {"stopSequences": ["a", "b", "c", "d", "e", "f"]},
            "generation_config.stop_sequences must hold at most 5 sequences, got 6.",
        ),
    ],
)
def test_integers_and_counts_are_bounded(generation: dict[str, object], reason: str) -> None:
    assert _refusal(generation) == reason


def test_a_top_k_that_json_reads_as_infinity_is_refused() -> None:
    """1e999 is valid JSON that Python reads as infinity: it must not reach `int()`."""
    frame = '{"setup": {"model": "m", "generationConfig": {"topK": 1e999}}}'
    setup = codec.decode(frame).setup
    assert setup is not None
    with pytest.raises(InvalidArgument) as info:
        validate_setup(setup)
    assert info.value.reason == "generation_config.top_k must be between 1 and 2147483647, got inf."


def test_a_huge_number_is_shown_whole_or_cut_to_fit_a_close() -> None:
    reason = _refusal({"seed": 10**200})
    assert reason.startswith("generation_config.seed must be between -2147483648 and ")
    assert reason.endswith("...") and len(reason.encode()) == 123


@pytest.mark.parametrize(
    "generation",
    [
        {"seed": 2**31 - 1, "maxOutputTokens": 2**31 - 1, "topK": 2**31 - 1},
        {"seed": -(2**31), "maxOutputTokens": 1, "topK": 1},
        {"topK": 40.0, "seed": 0, "stopSequences": ["a", "b", "c", "d", "e"]},
        {"stopSequences": []},
    ],
)
def test_the_edges_of_the_ranges_are_accepted(generation: dict[str, object]) -> None:
    setup = codec.decode(json.dumps({"setup": {"model": "m", "generationConfig": generation}}))
    assert setup.setup is not None
    assert validate_setup(setup.setup).generation.seed == generation.get("seed")


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        ({"silenceDurationMs": -5}, "silence_duration_ms must be between 0 and 60000, got -5"),
        ({"prefixPaddingMs": 60_001}, "prefix_padding_ms must be between 0 and 60000"),
    ],
)
def test_activity_detection_durations_are_bounded(detection: dict[str, int], reason: str) -> None:
    setup = Setup.model_validate(
        {"model": "m", "realtimeInputConfig": {"automaticActivityDetection": detection}}
    )
    with pytest.raises(InvalidArgument, match=reason):
        validate_setup(setup)
    for edge in (0, 60_000):
        fine = {"automaticActivityDetection": dict.fromkeys(detection, edge)}
        validate_setup(Setup.model_validate({"model": "m", "realtimeInputConfig": fine}))


def test_a_part_must_carry_data() -> None:
    session = _active()
    turn = {"role": "user", "parts": [{"text": "hi"}, {"thought": True}]}
    with pytest.raises(InvalidArgument) as info:
        session.receive(_msg({"clientContent": {"turns": [turn]}}))
    assert info.value.reason == (
        "Invalid value at 'client_content.turns[0].parts[1].data': required oneof field "
        "'data' must have one initialized field."
    )
    empty_text = {"role": "user", "parts": [{"text": ""}]}  # set, though empty
    assert _active().receive(_msg({"clientContent": {"turns": [empty_text]}}))


def test_setup_defaults() -> None:
    config = validate_setup(Setup.model_validate({"model": "models/x"}))
    assert config.model == "x"
    assert config.modality is Modality.AUDIO  # the hosted service's default
    assert config.system_instruction == ""


def test_activity_signals_need_manual_activity_detection() -> None:
    session = _active()
    with pytest.raises(InvalidArgument, match="automatic activity detection is enabled"):
        session.receive(_msg({"realtimeInput": {"activityStart": {}}}))


def test_manual_activity_detection_allows_activity_signals() -> None:
    session = _active(
        {"model": "m", "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}
    )
    assert len(session.receive(_msg({"realtimeInput": {"activityStart": {}}}))) == 1


def test_turn_complete_carries_usage_by_modality() -> None:
    session = _active()
    message = session.turn_complete(
        TurnUsage(prompt={Modality.TEXT: 12}, response={Modality.TEXT: 5})
    )
    assert json.loads(codec.encode(message)) == {
        "serverContent": {
            "turnComplete": True,
            "waitingForInput": True,
            "interactionStatus": "IDLE",
        },
        "usageMetadata": {
            "promptTokenCount": 12,
            "responseTokenCount": 5,
            "totalTokenCount": 17,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
            "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
        },
    }


def test_server_content_before_setup_complete_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        LiveSession().model_text("hi")


def test_a_session_without_an_id_sends_an_empty_setup_complete() -> None:
    session = LiveSession()
    [event] = session.receive(_msg({"setup": {"model": "m"}}))
    assert isinstance(event, SetupRequested)
    first = session.complete_setup(validate_setup(event.setup))
    assert json.loads(codec.encode(first)) == {"setupComplete": {}}


def test_turn_complete_says_why_and_what_follows() -> None:
    session = _active()
    malformed = session.turn_complete(ending=Ending.MALFORMED_CALL)
    assert json.loads(codec.encode(malformed)) == {
        "serverContent": {
            "turnComplete": True,
            "turnCompleteReason": "MALFORMED_FUNCTION_CALL",
            "waitingForInput": True,
            "interactionStatus": "IDLE",
        }
    }
    interrupted = session.turn_complete(ending=Ending.INTERRUPTED, more=True)
    assert json.loads(codec.encode(interrupted)) == {
        "serverContent": {"turnComplete": True, "interactionStatus": "IN_PROGRESS"}
    }


# --- historyConfig.initialHistoryInClientContent --------------------------------------------

HISTORY_SETUP: dict[str, object] = {
    "model": "m",
    "historyConfig": {"initialHistoryInClientContent": True},
}


def _content(text: str, turn_complete: bool | None) -> dict[str, object]:
    body: dict[str, object] = {"turns": [{"role": "user", "parts": [{"text": text}]}]}
    if turn_complete is not None:
        body["turnComplete"] = turn_complete
    return {"clientContent": body}


def _asks(session: LiveSession, message: dict[str, object]) -> bool:
    [event] = session.receive(_msg(message))
    assert isinstance(event, ContentAppended)
    return event.turn_complete


def test_initial_history_asks_for_no_answer_until_its_turn_complete() -> None:
    session = _active(HISTORY_SETUP)
    assert session.initial_history
    assert not _asks(session, _content("I am Ada.", False))
    assert not _asks(session, _content("I like tea.", None)), "left out means true: it ends"
    assert not session.initial_history
    assert _asks(session, _content("Who am I?", None)), "the first real turn is answered"


def test_other_messages_leave_the_initial_history_open() -> None:
    session = _active(HISTORY_SETUP)
    assert session.receive(_msg({"realtimeInput": {"text": "hi"}})) == [TextReceived("hi")]
    assert session.initial_history
    assert not _asks(session, _content("history", True))
    assert not session.initial_history


def test_without_the_config_or_on_resumption_there_is_no_initial_history() -> None:
    assert not _active().initial_history
    resumed = LiveSession()
    [event] = resumed.receive(_msg({"setup": HISTORY_SETUP}))
    assert isinstance(event, SetupRequested)
    resumed.complete_setup(validate_setup(event.setup), "s-1", resumed=True)
    assert not resumed.initial_history
    off = _active({**HISTORY_SETUP, "historyConfig": {"initialHistoryInClientContent": False}})
    assert _asks(off, _content("hi", True))


def test_a_function_response_part_must_hold_data() -> None:
    session = _active()
    response = {"id": "c1", "name": "f", "response": {}, "parts": [{"inlineData": {}}, {}]}
    with pytest.raises(InvalidArgument) as refused:
        session.receive(_msg({"toolResponse": {"functionResponses": [response]}}))
    assert refused.value.reason == (
        "Invalid value at 'tool_response.function_responses[0].parts[1]': a part must hold "
        "inline_data or file_data."
    )
