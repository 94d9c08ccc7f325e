"""Reasoning before answering, for a model that has no thinking mode of its own.

The embedded model (SmolLM2-135M-Instruct) was not trained to think. Asked to, it does
what a small instruct model can: a first pass writes notes on the user's last message,
step by step, up to the thinking budget; the answer is then asked for as a further
turn, after those notes. The notes are the session's thoughts (`Thought` deltas).
Whether they improve a 135M model's answers is doubtful (it often repeats them as its
answer); what the pass gives is the protocol's behaviour (a budget honoured, thoughts
apart from the answer, never spoken) on a model of any size. Both prompts keep the
history as it is up to the last message, and the answer's prompt extends the reasoning
pass's, so the KV cache is reused by both.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import ChatMessage

__all__ = ["DYNAMIC_TOKENS", "answer_messages", "thinking_messages", "thinking_tokens"]

DYNAMIC_TOKENS = 160
"""The budget of a dynamic (-1) thinking pass: the model may stop sooner."""

_THINK = (
    "Before answering, think about the message above step by step. Write only your "
    "reasoning, in a few short sentences; do not write the answer yet."
)
_ANSWER = "Now give your answer to my message in one or two sentences."


def thinking_tokens(budget: int) -> int:
    """The most tokens a pass may reason for, given a `thinkingBudget` (not 0)."""
    return DYNAMIC_TOKENS if budget < 0 else budget


def thinking_messages(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The prompt of the reasoning pass."""
    if not messages:
        return [ChatMessage("user", _THINK)]
    *history, last = messages
    if last.role == "user" and last.result is None:
        return [*history, ChatMessage("user", f"{last.content}\n\n{_THINK}")]
    return [*messages, ChatMessage("user", _THINK)]


def answer_messages(messages: Sequence[ChatMessage], notes: str) -> list[ChatMessage]:
    """The prompt of the answer: the reasoning pass's prompt and its `notes` as the
    model's turn, then a request for the answer (so the KV cache of the reasoning pass
    is reused whole)."""
    if not notes:
        return list(messages)
    return [
        *thinking_messages(messages),
        ChatMessage("assistant", notes),
        ChatMessage("user", _ANSWER),
    ]
