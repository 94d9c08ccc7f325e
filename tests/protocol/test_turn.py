"""The turn protocol: every transition, every refusal, the interruption rule and the
input held during an answer, with plain calls (no event loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.protocol.messages import InteractionStatus, TurnCompleteReason
from openlive.protocol.turn import (
    REASONS,
    RULES,
    TRANSITIONS,
    Answer,
    Append,
    CompleteTurn,
    Ending,
    Input,
    Interrupt,
    Interrupts,
    Move,
    StartAnswer,
    TurnProtocol,
    TurnState,
    turn_end,
)

S = TurnState

ROUTE: dict[TurnState, list[Input]] = {
    S.IDLE: [],
    S.USER_SPEAKING: [Input.SPEECH_STARTED],
    S.ANSWER_PENDING: [Input.CONTENT_TURN],
    S.ANSWERING: [Input.CONTENT_TURN, Input.ANSWER_STARTED],
    S.WAITING_FOR_TOOL: [Input.CONTENT_TURN, Input.ANSWER_STARTED, Input.CALLS_BLOCKING],
    S.INTERRUPTED: [Input.CONTENT_TURN, Input.ANSWER_STARTED, Input.CONTENT],
}
"""Inputs that take a new protocol to each state."""


def at(state: TurnState, *, interrupts: bool = True) -> TurnProtocol[str]:
    turns: TurnProtocol[str] = TurnProtocol(interrupts)
    for what in ROUTE[state]:
        turns.receive(what)
    assert turns.state is state
    return turns


@pytest.mark.parametrize(("pair", "target"), TRANSITIONS.items(), ids=str)
def test_every_transition(pair: tuple[TurnState, Move], target: TurnState) -> None:
    state, move = pair
    turns = at(state)
    turns.step(move, ("m",) if move is Move.INPUT else ())
    assert turns.state is target


REFUSED = [(s, m) for s in TurnState for m in Move if (s, m) not in TRANSITIONS]


@pytest.mark.parametrize("pair", REFUSED, ids=str)
def test_every_move_out_of_order_is_refused(pair: tuple[TurnState, Move]) -> None:
    state, move = pair
    turns = at(state)
    with pytest.raises(RuntimeError, match=f"{move.value} is not a move while {state.value}"):
        turns.step(move)
    assert turns.state is state


def test_the_refusals_are_the_pipeline_moves_out_of_order() -> None:
    client_moves = {Move.SPEECH_STARTED, Move.SPEECH_ENDED, Move.INTERRUPT, Move.INPUT}
    client_moves |= {Move.ANSWER_WANTED, Move.IGNORED_TURN}
    assert REFUSED and all(move not in client_moves for _, move in REFUSED)


@pytest.mark.parametrize("what", list(RULES), ids=lambda w: w.value)
@pytest.mark.parametrize("interrupts", [True, False])
@pytest.mark.parametrize("state", [S.ANSWERING, S.WAITING_FOR_TOOL])
def test_the_interruption_rule(what: Input, interrupts: bool, state: TurnState) -> None:
    turns = at(state, interrupts=interrupts)
    actions = turns.receive(what, ["m"])
    rule = RULES[what].interrupts
    expected = rule is Interrupts.ALWAYS or (rule is Interrupts.BY_ACTIVITY and interrupts)
    stops = [a for a in actions if isinstance(a, Interrupt)]
    assert stops == ([Interrupt(calls=state is S.WAITING_FOR_TOOL)] if expected else [])
    assert turns.state is (S.INTERRUPTED if expected else state)
    assert not any(isinstance(a, (Append, StartAnswer)) for a in actions), "held for later"


@pytest.mark.parametrize("state", [S.IDLE, S.USER_SPEAKING, S.ANSWER_PENDING, S.INTERRUPTED])
def test_an_interruption_with_no_answer_to_stop_does_nothing(state: TurnState) -> None:
    turns = at(state)
    assert turns.receive(Input.GOING_AWAY) == []
    assert turns.receive(Input.SPEECH_STARTED) == []
    assert turns.state is (S.USER_SPEAKING if state is S.IDLE else state)


@pytest.mark.parametrize("what", list(RULES), ids=lambda w: w.value)
def test_what_asks_for_an_answer_when_idle(what: Input) -> None:
    turns = at(S.IDLE)
    with_input = turns.receive(what, ["m"])
    assert [a for a in with_input if isinstance(a, Append)] == [Append(("m",))]
    asks = RULES[what].answer is not Answer.NO
    assert (StartAnswer() in with_input) is asks
    assert turns.state is (S.ANSWER_PENDING if asks else turns.state)


def test_text_without_words_asks_for_nothing_but_a_client_turn_always_asks() -> None:
    assert at(S.IDLE).receive(Input.TEXT) == []
    assert at(S.IDLE).receive(Input.CONTENT_TURN) == [StartAnswer()]


def test_one_pending_answer_answers_all_the_input_before_it() -> None:
    turns = at(S.IDLE)
    assert turns.receive(Input.TEXT, ["a"]) == [Append(("a",)), StartAnswer()]
    assert turns.receive(Input.IDLE_RESULT, ["b"]) == [Append(("b",))]
    assert turns.state is S.ANSWER_PENDING


def test_input_during_an_answer_is_held_and_released_in_order_after_it() -> None:
    turns = at(S.ANSWERING, interrupts=False)
    assert turns.receive(Input.SILENT_RESULT, ["r"]) == []
    assert turns.receive(Input.TEXT, ["t"]) == []
    assert turns.receive(Input.ANSWER_ENDED) == [Append(("r", "t")), StartAnswer()]
    assert turns.state is S.ANSWER_PENDING


def test_held_input_that_asks_for_nothing_leaves_the_floor_idle() -> None:
    turns = at(S.ANSWERING)
    turns.receive(Input.SILENT_RESULT, ["r"])
    assert turns.receive(Input.ANSWER_ENDED) == [Append(("r",))]
    assert turns.state is S.IDLE and turns.idle


def test_an_interrupting_turn_is_answered_once_the_stopped_answer_ends() -> None:
    turns = at(S.ANSWERING)
    assert turns.receive(Input.CONTENT_TURN, ["u"]) == [Interrupt(calls=False)]
    assert turns.receive(Input.SPEECH_STARTED) == [], "no second interruption"
    assert turns.receive(Input.ANSWER_ENDED) == [Append(("u",)), StartAnswer()]


def test_an_interruption_while_waiting_for_a_tool_cancels_its_calls() -> None:
    turns = at(S.WAITING_FOR_TOOL)
    assert turns.receive(Input.SPEECH_STARTED) == [Interrupt(calls=True)]
    assert turns.receive(Input.ANSWER_ENDED) == []
    assert turns.state is S.IDLE


def test_a_blocking_call_answered_goes_back_to_answering() -> None:
    turns = at(S.WAITING_FOR_TOOL)
    assert turns.receive(Input.CALLS_ANSWERED) == []
    assert turns.state is S.ANSWERING
    assert turns.receive(Input.ANSWER_ENDED) == []
    assert turns.state is S.IDLE


@pytest.mark.parametrize("state", list(TurnState))
def test_an_ignored_turn_completes_only_when_no_answer_is_open(state: TurnState) -> None:
    actions = at(state).receive(Input.IGNORED_TURN)
    assert actions == ([CompleteTurn()] if state in (S.IDLE, S.USER_SPEAKING) else [])


def test_the_user_speaking_and_stopping() -> None:
    turns = at(S.IDLE)
    assert turns.receive(Input.SPEECH_STARTED) == []
    assert turns.state is S.USER_SPEAKING and turns.idle
    assert turns.receive(Input.SPEECH_ENDED) == []
    assert turns.state is S.IDLE
    turns.receive(Input.SPEECH_STARTED)
    assert turns.receive(Input.SPOKEN_TURN, ["words"]) == [Append(("words",)), StartAnswer()]
    assert not turns.idle


def test_every_input_has_a_rule_or_is_a_move_of_the_answer() -> None:
    progress = {Input.ANSWER_STARTED, Input.CALLS_BLOCKING, Input.CALLS_ANSWERED}
    assert set(RULES) | progress | {Input.ANSWER_ENDED} == set(Input)


# --- how a turn ends ---------------------------------------------------------------------


def test_another_answer_follows_only_when_held_input_asked_for_one() -> None:
    turns = at(S.ANSWERING, interrupts=False)
    assert not turns.answer_follows
    turns.receive(Input.SILENT_RESULT, ["r"])
    assert not turns.answer_follows, "a silent result asks for nothing"
    turns.receive(Input.TEXT, ["t"])
    assert turns.answer_follows
    turns.receive(Input.ANSWER_ENDED)
    assert turns.state is S.ANSWER_PENDING and turns.answer_follows


def test_an_interrupting_turn_is_followed_by_its_answer_but_speech_is_not() -> None:
    turns = at(S.ANSWERING)
    turns.receive(Input.CONTENT_TURN, ["u"])
    assert turns.answer_follows, "known when the interruption's turnComplete is sent"
    turns = at(S.ANSWERING)
    turns.receive(Input.SPEECH_STARTED)
    assert not turns.answer_follows, "the user is still speaking: the model waits"


def test_an_idle_floor_expects_nothing() -> None:
    for state in (S.IDLE, S.USER_SPEAKING):
        assert not at(state).answer_follows


def test_the_reason_of_each_ending_is_an_sdk_value_or_none() -> None:
    assert set(REASONS) == set(Ending)
    assert REASONS[Ending.NOT_ADDRESSED] is TurnCompleteReason.NEED_MORE_INPUT
    assert REASONS[Ending.MALFORMED_CALL] is TurnCompleteReason.MALFORMED_FUNCTION_CALL
    for ending in (Ending.ANSWERED, Ending.INTERRUPTED, Ending.CALLS_RUNNING):
        assert REASONS[ending] is None


@pytest.mark.parametrize("ending", list(Ending))
def test_a_turn_with_nothing_after_it_waits_for_the_user(ending: Ending) -> None:
    content = turn_end(ending, more=False).to_wire()
    reason = REASONS[ending]
    assert content == {
        "turnComplete": True,
        "waitingForInput": True,
        "interactionStatus": "IDLE",
        **({"turnCompleteReason": reason.value} if reason else {}),
    }


def test_a_turn_followed_by_another_answer_is_in_progress() -> None:
    content = turn_end(Ending.INTERRUPTED, more=True)
    assert content.interaction_status is InteractionStatus.IN_PROGRESS
    assert content.waiting_for_input is None, "false is left out, as proto3 JSON does"
    assert content.to_wire() == {"turnComplete": True, "interactionStatus": "IN_PROGRESS"}


def test_protocol_md_gives_the_reason_of_each_ending() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
    rows = [line for line in docs.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    for ending, reason in REASONS.items():
        [row] = [r for r in rows if r.startswith(f"| {ending.value}")]
        shown = row.rstrip(" |").rsplit("|", 1)[1].strip()
        assert shown == (f"`{reason.value}`" if reason else "left out"), ending
