"""A chat-completions stream, as an answer: each chunk checked and turned into reply
events (`StreamedReply`), and each tool call, once whole, checked against the declared
functions (`function_call`).

What an engine sends is not trusted to have the shape of a chat-completion chunk: a
chunk of the wrong shape (`choices` not a list, text that is not a string, counts that
are not integers) is an `LLMError`; a call to a function that is not declared, or with
arguments that do not fit its schema, is a `MalformedCall`. Reasoning comes as
`reasoning_content` or `reasoning` deltas, by engine; both become `Thought`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import (
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.completion_usage import CompletionUsage

from .base import (
    FunctionCall,
    FunctionSpec,
    LLMError,
    MalformedCall,
    ReplyEvent,
    TextDelta,
    Thought,
    Usage,
)
from .calling import valid_arguments

__all__ = ["PartialCall", "StreamedReply", "function_call"]


@dataclass(slots=True)
class PartialCall:
    """A tool call as its deltas arrive: the name first, the arguments in pieces."""

    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class StreamedReply:
    """An answer as its chunks arrive, each checked: what the engine sends is not
    trusted to have the shape of a chat-completion chunk."""

    url: str
    thoughts: bool
    """Whether the reasoning is passed on (not without a thinking budget)."""
    text: list[str] = field(default_factory=list)
    calls: dict[int, PartialCall] = field(default_factory=dict)
    usage: Usage | None = None
    thought_deltas: int = 0
    finish: str | None = None
    """The finish_reason, once a choice gave one; an answer without one is cut."""
    chunks: int = 0

    def take(self, chunk: object) -> list[ReplyEvent]:
        """The events one chunk brings, or an `LLMError` if it is not a chunk."""
        self.chunks += 1
        try:
            if not isinstance(chunk, ChatCompletionChunk):
                raise TypeError(f"{type(chunk).__name__}, not an object")
            return self._events(chunk)
        except (TypeError, ValueError) as exc:
            raise LLMError(f"{self.url} sent a malformed chunk: {exc}") from exc

    def _events(self, chunk: ChatCompletionChunk) -> list[ReplyEvent]:
        events: list[ReplyEvent] = []
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        choices: object = chunk.choices
        if not isinstance(choices, list):
            raise TypeError("its choices are not a list")
        for choice in choices:
            if not isinstance(choice, Choice):
                raise TypeError("a choice is not an object")
            delta = choice.delta
            if delta is not None and not isinstance(delta, ChoiceDelta):
                raise TypeError("a delta is not an object")
            if delta is not None:
                thought = _reasoning(delta)
                if thought and self.thoughts:
                    self.thought_deltas += 1  # a delta is about a token
                    events.append(Thought(thought))
                if content := _text(delta.content, "content"):
                    self.text.append(content)
                    events.append(TextDelta(content))
                for call in _list(delta.tool_calls, "tool_calls"):
                    self._call(call)
            if (finish := _text(choice.finish_reason, "finish_reason")) is not None:
                self.finish = finish
        return events

    def _call(self, delta: object) -> None:
        if not isinstance(delta, ChoiceDeltaToolCall) or not isinstance(delta.index, int):
            raise TypeError("a tool call is not an object with an index")
        call = self.calls.setdefault(delta.index, PartialCall())
        function: object = delta.function
        if function is None:
            return
        if not isinstance(function, ChoiceDeltaToolCallFunction):
            raise TypeError("a tool call's function is not an object")
        call.name += _text(function.name, "a function's name") or ""
        call.arguments += _text(function.arguments, "a function's arguments") or ""


def _text(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value


def _list(value: object, what: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _usage(usage: object) -> Usage:
    """The token counts of an engine's `usage`, reasoning apart."""
    if not isinstance(usage, CompletionUsage):
        raise TypeError("its usage is not an object")
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    reasoning = getattr(usage.completion_tokens_details, "reasoning_tokens", None) or 0
    if any(type(n) is not int for n in (prompt, completion, reasoning)):
        raise TypeError("its token counts are not integers")
    return Usage(prompt, completion - reasoning, thoughts_tokens=reasoning)


def _reasoning(delta: object) -> str | None:
    """The reasoning text of a stream delta, under either name engines give it."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def function_call(partial: PartialCall, specs: dict[str, FunctionSpec]) -> FunctionCall:
    """A finished tool call, checked: the engine's model is not held to the schema."""
    spec = specs.get(partial.name)
    if spec is None:
        raise MalformedCall(f"the model called {partial.name!r}, which is not declared")
    try:
        args = json.loads(partial.arguments or "{}")
    except ValueError as exc:
        raise MalformedCall(f"the model's arguments for {spec.name} are not JSON") from exc
    if not valid_arguments(spec, args):
        raise MalformedCall(f"the model's arguments for {spec.name} do not match its schema")
    return FunctionCall(spec.name, args)
