"""Fitting a conversation into the model's context: the newest turns that fit.

A prompt is the chat template applied to the whole conversation, tokenized. When it is
longer than the room the context leaves (its size less the tokens the reply may take),
the oldest turns are dropped (the system instruction is kept) until it fits.

Rendering and tokenizing cost time in proportion to the text, so this is done without
reading what cannot fit: a token is at most `longest_token` bytes of text, so turns
older than the newest ones already holding more than `room * longest_token` bytes are
dropped unread; then a binary search over how many more to drop renders the prompt a
few times at most (once when it fits, which is the usual case). A client that sends a
long history, or a turn of thousands of parts again and again, costs a render of about
one context's worth of text per answer, not of everything it ever sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import ChatMessage, ContextOverflow

__all__ = ["fit_prompt"]


def fit_prompt(
    messages: Sequence[ChatMessage],
    room: int,
    render: Callable[[list[ChatMessage]], list[int]],
    longest_token: int,
) -> list[int]:
    """The tokens of the newest part of `messages` (and its system message) that fits in
    `room` tokens; `ContextOverflow` if even the last message alone does not.

    `render` gives a conversation's prompt tokens; `longest_token` is the most bytes of
    text one token stands for."""
    history = list(messages)
    head = history[:1] if history and history[0].role == "system" else []
    turns = history[len(head) :]
    if not turns:
        return render(head)
    # Turns before `first` cannot fit whatever is dropped after them.
    first, size, budget = 0, 0, room * max(1, longest_token)
    for index in range(len(turns) - 1, 0, -1):
        size += len(turns[index].content.encode("utf-8"))
        if size > budget:
            first = index + 1
            break
    first = min(first, len(turns) - 1)
    prompt = render(head + turns[first:])
    if len(prompt) <= room:
        return prompt
    # Drop more: the smallest start that fits, between first + 1 and the last turn.
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
