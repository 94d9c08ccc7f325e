"""A session's history is bounded, whatever a client sends."""

from __future__ import annotations

import pytest

from openlive.backends.base import ChatMessage, FunctionCall, FunctionResult
from openlive.pipeline import context
from openlive.pipeline.context import ChatContext


def test_the_oldest_turns_go_past_the_text_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "MAX_HISTORY_CHARS", 100)
    history = ChatContext("Be brief.")
    for i in range(10):
        history.append_user(str(i) * 30)
    assert [m.content[0] for m in history.turns] == ["7", "8", "9"]
    history.append_user("x" * 500)  # one turn over the bound alone is kept
    assert [m.content for m in history.turns] == ["x" * 500]


def test_the_oldest_turns_go_past_the_turn_bound() -> None:
    history = ChatContext()
    for i in range(context.MAX_HISTORY_TURNS + 5):
        history.append_user(str(i))
    assert len(history.turns) == context.MAX_HISTORY_TURNS
    assert history.turns[0].content == "5"


def test_a_result_whose_call_was_dropped_goes_with_it() -> None:
    history = ChatContext()
    history.append_calls([FunctionCall("f", {}, "1")])
    history.append(ChatContext.result(FunctionResult("1", "f", {"ok": True})))
    for i in range(context.MAX_HISTORY_TURNS - 1):
        history.append_user(str(i))
    assert history.turns[0].role == "user"
    assert all(isinstance(m, ChatMessage) for m in history.turns)
