"""Fitting a conversation into the model's context: the newest turns that fit.

A prompt is the chat template applied to the whole conversation, tokenized. When it is
longer than the room the context leaves (its size less the tokens the reply may take),
the oldest turns are dropped (the system instruction is kept) until it fits.

Rendering and tokenizing cost time in proportion to the text, so this is done without
reading what cannot fit: the turns' texts are counted from the newest back until they
fill the room (a text whose size alone shows it cannot fit, a token being at most
`longest_token` bytes, is not even counted), and the prompt of those turns is rendered;
only if the template's own tokens push it over does a binary search drop a few more
(a few renders at most). A client that sends a long history, or a turn of thousands
of parts again and again, costs about two contexts' worth of tokenizing per answer,
not all it ever sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import ChatMessage, ContextOverflow

__all__ = ["fit_prompt"]


def fit_prompt(
    messages: Sequence[ChatMessage],
    room: int,
    render: Callable[[list[ChatMessage]], list[int]],
    count: Callable[[str], int],
    longest_token: int,
) -> list[int]:
    """The tokens of the newest part of `messages` (and its system message) that fits in
    `room` tokens; `ContextOverflow` if even the last message alone does not.

    `render` gives a conversation's prompt tokens, `count` the tokens of one text;
    `longest_token` is the most bytes of text one token stands for."""
    history = list(messages)
    head = history[:1] if history and history[0].role == "system" else []
    turns = history[len(head) :]
    if not turns:
        return render(head)
    # The newest turns whose texts alone fit; a text is counted only if its size does
    # not already show that it cannot (a token is at most `longest_token` bytes).
    first, used = len(turns) - 1, 0
    for index in range(len(turns) - 1, -1, -1):
        text = turns[index].content
        if len(text.encode("utf-8")) > (room - used) * max(1, longest_token):
            break
        used += count(text)
        if used > room:
            break
        first = index
    prompt = render(head + turns[first:])
    if len(prompt) <= room:
        return prompt
    # The template's own tokens pushed it over: drop more, the smallest start that fits.
    low, high = first + 1, len(turns) - 1
    best: list[int] | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = render(head + turns[middle:])
        if len(candidate) <= room:
            best, high = candidate, middle - 1
        else:
            low = middle + 1
            prompt = candidate
    if best is None:
        raise ContextOverflow(
            f"The input token count ({len(prompt)}) exceeds the maximum number of tokens "
            f"allowed ({room})."
        )
    return best
