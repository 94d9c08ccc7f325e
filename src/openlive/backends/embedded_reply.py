"""One reply of the embedded model, as passes over its decoder.

A reply to a user's words that call for functions (`calling.py` chooses them) is those
calls, each call's arguments written by the model under a grammar made from its schema,
on a sequence of the conversation's own (`Conversation.side`) so that its cache is
kept. Any other reply is an answer, after a reasoning pass if the sampling gives a
thinking budget (`thinking.py`). Each pass is one `ReplyModel.generate` on the shared
decoder (`embedded.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from .base import (
    ChatMessage,
    FunctionCall,
    FunctionSpec,
    ReplyEvent,
    Sampling,
    TextDelta,
    Thought,
    Usage,
)
from .calling import arguments_prompt, choose_functions, valid_arguments
from .chat_prompt import ChatPrompt
from .thinking import answer_messages, thinking_messages, thinking_tokens

__all__ = ["ARGUMENT_TOKENS", "Put", "ReplyModel", "produce"]

log = logging.getLogger(__name__)

ARGUMENT_TOKENS = 256
"""The most tokens a call's arguments may take."""

Put = Callable[[ReplyEvent | BaseException | None], None]


class ReplyModel(Protocol):
    """What a reply needs of the model."""

    @property
    def prompts(self) -> ChatPrompt: ...

    async def generate(
        self,
        owner: object,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        put: Callable[[str], None] | None,
        grammar: tuple[str, str] | None = None,
    ) -> tuple[str, Usage]:
        """Decode one reply to `messages` on `owner`'s sequence, its deltas to `put`."""
        ...

    async def prompt_length(self, messages: Sequence[ChatMessage]) -> int:
        """The tokens of the prompt of `messages`."""
        ...


async def produce(
    model: ReplyModel,
    owner: object,
    side: object,
    messages: Sequence[ChatMessage],
    sampling: Sampling,
    functions: Sequence[FunctionSpec],
    put: Put,
) -> None:
    """Generate one reply on `owner`'s sequence (a call's arguments on `side`'s) into
    `put`, then None. Cancel-safe; an error goes to `put`, not lost."""
    try:
        last = messages[-1] if messages else None
        chosen = (
            choose_functions(last.content, functions)
            if last is not None and last.role == "user" and last.result is None
            else []
        )
        calls = [c for f in chosen if (c := await _call(model, side, f, last)) is not None]
        if calls:
            for call in calls:
                put(call)
            arguments = sum(model.prompts.count(json.dumps(c.args)) for c in calls)
            prompt_tokens = await model.prompt_length(messages)
            put(Usage(prompt_tokens, arguments, finish_reason="tool_calls"))
            return
        thoughts = 0
        if sampling.thinking_budget:
            notes, thoughts = await _think(model, owner, messages, sampling, put)
            messages = answer_messages(messages, notes)
        _, usage = await model.generate(owner, messages, sampling, lambda t: put(TextDelta(t)))
        put(
            Usage(
                usage.prompt_tokens,
                usage.response_tokens,
                usage.cached_tokens,
                usage.finish_reason,
                thoughts,
            )
        )
    except Exception as exc:  # handed to the consumer, not lost
        put(exc)
    finally:
        put(None)


async def _think(
    model: ReplyModel,
    owner: object,
    messages: Sequence[ChatMessage],
    sampling: Sampling,
    put: Callable[[Thought], None],
) -> tuple[str, int]:
    """The reasoning pass: its deltas go to `put` as `Thought`s; returns its text and
    its token count."""
    think = Sampling(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        seed=sampling.seed,
        max_tokens=thinking_tokens(sampling.thinking_budget),
    )
    text, usage = await model.generate(
        owner, thinking_messages(messages), think, lambda t: put(Thought(t))
    )
    return text.strip(), usage.response_tokens


async def _call(
    model: ReplyModel, side: object, spec: FunctionSpec, request: ChatMessage | None
) -> FunctionCall | None:
    """`spec` called with the arguments the model writes from `request`, or None if
    they did not fit in `ARGUMENT_TOKENS`."""
    from llama_cpp.llama_grammar import LlamaGrammar

    assert request is not None
    grammar = LlamaGrammar.from_json_schema(json.dumps(spec.parameters), verbose=False)
    sampling = Sampling(temperature=0.0, max_tokens=ARGUMENT_TOKENS)
    messages = arguments_prompt(spec, request.content)
    text, _ = await model.generate(
        side, messages, sampling, None, (grammar._grammar, grammar._root)
    )
    try:
        args = json.loads(text)
    except ValueError:
        log.warning("arguments of %s cut short: %r", spec.name, text[:80])
        return None
    if not valid_arguments(spec, args):  # the grammar allows what the schema may not
        log.warning("arguments of %s do not validate: %r", spec.name, text[:80])
        return None
    return FunctionCall(spec.name, args)
