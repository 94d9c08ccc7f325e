"""Fitting a conversation into the context: the newest turns that fit, found without
rendering what cannot fit."""

from __future__ import annotations

import pytest

from openlive.backends.base import ChatMessage, ContextOverflow
from openlive.backends.fitting import fit_prompt


class Renderer:
    """A prompt of one token per byte of content and `overhead` per message (a chat
    template's own tokens), and a tally of what was rendered and counted."""

    def __init__(self, overhead: int = 0) -> None:
        self.overhead = overhead
        self.rendered: list[int] = []
        self.counted = 0

    def __call__(self, messages: list[ChatMessage]) -> list[int]:
        tokens = [b for m in messages for b in m.content.encode() + bytes(self.overhead)]
        self.rendered.append(len(tokens))
        return tokens

    def count(self, text: str) -> int:
        self.counted += len(text.encode())
        return len(text.encode())


def fit(messages: list[ChatMessage], room: int, render: Renderer, longest: int) -> list[int]:
    return fit_prompt(messages, room, render, render.count, longest)


def conversation(*sizes: int, system: int = 0) -> list[ChatMessage]:
    head = [ChatMessage("system", "s" * system)] if system else []
    roles = ("user", "assistant")
    return head + [ChatMessage(roles[i % 2], str(i % 10) * n) for i, n in enumerate(sizes)]


def test_a_conversation_that_fits_is_rendered_once_whole() -> None:
    render = Renderer()
    assert len(fit(conversation(10, 20, 30, system=5), 100, render, 1)) == 65
    assert render.rendered == [65]


def test_the_oldest_turns_go_and_the_system_message_stays() -> None:
    messages = conversation(40, 40, 40, 40, system=5)
    prompt = fit(messages, 90, Renderer(), 1)
    assert bytes(prompt) == b"s" * 5 + b"2" * 40 + b"3" * 40


def test_what_cannot_fit_is_not_rendered() -> None:
    # 1,000 turns of 1,000 bytes, room for 3,000 tokens: the newest turns are counted
    # until they fill it, and only they are rendered.
    render = Renderer()
    prompt = fit(conversation(*[1000] * 1000), 3000, render, 2)
    assert len(prompt) == 3000
    assert render.rendered == [3000] and render.counted <= 4000


def test_a_template_that_pushes_the_prompt_over_drops_a_few_more() -> None:
    render = Renderer(overhead=10)
    prompt = fit(conversation(*[100] * 50), 320, render, 1)
    assert len(prompt) == 220  # three turns' texts fit, not with their 10 tokens each
    assert render.rendered == [330, 220]


def test_a_last_turn_too_long_alone_overflows() -> None:
    with pytest.raises(ContextOverflow, match=r"\(500\) exceeds .* \(100\)"):
        fit(conversation(10, 500), 100, Renderer(), 1)


def test_the_newest_turn_is_kept_even_when_the_budget_is_passed_by_it_alone() -> None:
    prompt = fit(conversation(300, 50), 100, Renderer(), 1)
    assert len(prompt) == 50
