"""Context window compression: a sliding window over the history.

`setup.contextWindowCompression` asks for it. Before each model turn, if the history
has reached `triggerTokens`, its oldest whole turns are dropped until it holds at most
`targetTokens`. A turn is a user message and everything after it up to the next one:
the model's answer, its calls and their results, so that a call never stays without its
result or the other way round. The system instruction is not part of the history and
is never dropped; neither is the newest turn, whatever its size.

The defaults are the protocol's: `triggerTokens` is 80 % of the model's context window,
`targetTokens` half of `triggerTokens`.

Sizes are in the model's own tokens: the count of the last prompt and reply (`Usage`),
plus the messages added since, counted with the model's tokenizer, plus
`MESSAGE_OVERHEAD` for each message's chat-template markers. A dropped turn is counted
the same way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..backends.base import ChatMessage, Usage
from ..protocol.errors import InvalidArgument
from ..protocol.messages import ContextWindowCompression

__all__ = ["MESSAGE_OVERHEAD", "SlidingWindow", "window_limits"]

MESSAGE_OVERHEAD = 8
"""Tokens of chat-template markup around one message (role header, end marker, and the
header of the answer that follows), taken generously: SmolLM2's template spends about 6."""

Counter = Callable[[str], Awaitable[int]]


def window_limits(
    config: ContextWindowCompression | None, context_tokens: int
) -> tuple[int, int] | None:
    """`(triggerTokens, targetTokens)` of the window `config` asks for, defaults filled
    in for a model of `context_tokens`; None without one. Raises `InvalidArgument` for
    limits that make no window."""
    if config is None:
        return None
    trigger = config.trigger_tokens
    if trigger is None:
        trigger = context_tokens * 4 // 5
    if trigger <= 0:
        raise InvalidArgument("contextWindowCompression.triggerTokens must be positive.")
    sliding = config.sliding_window
    target = sliding.target_tokens if sliding is not None else None
    if target is None:
        target = trigger // 2
    if target < 0:
        raise InvalidArgument(
            "contextWindowCompression.slidingWindow.targetTokens must not be negative."
        )
    if target >= trigger:
        raise InvalidArgument(
            f"contextWindowCompression.slidingWindow.targetTokens ({target}) must be "
            f"below triggerTokens ({trigger})."
        )
    return trigger, target


@dataclass(slots=True)
class SlidingWindow:
    """One session's window: its two limits, and what it knows of the history's size."""

    trigger: int
    target: int
    count: Counter
    """The model's tokenizer: text → number of tokens."""
    _known: int = 0
    """Tokens of the first `_counted` messages (and the system instruction)."""
    _counted: int = 0
    dropped_turns: int = 0
    """Turns dropped since the session began."""

    def observe(self, usage: Usage, turns: list[ChatMessage]) -> None:
        """The model has just answered `turns` (its answer appended): their exact size.
        A usage without a prompt count (a backend that counts nothing) is ignored."""
        if usage.prompt_tokens <= 0:
            return
        self._known = usage.prompt_tokens + usage.response_tokens
        self._counted = len(turns)

    async def size(self, turns: list[ChatMessage]) -> int:
        """The size of the history, system instruction included, in tokens."""
        if self._counted > len(turns):  # the history was replaced: count it again
            self._known = self._counted = 0
        extra = [await self._tokens(m) for m in turns[self._counted :]]
        return self._known + sum(extra)

    async def slide(self, turns: list[ChatMessage]) -> int:
        """Drop the oldest whole turns of `turns` (in place) if the history has reached
        the trigger, down to the target; returns the number of messages dropped."""
        size = await self.size(turns)
        self._known, self._counted = size, len(turns)
        if size < self.trigger:
            return 0
        starts = [i for i, message in enumerate(turns) if message.role == "user" and i > 0]
        cut = freed = dropped = 0
        for start in starts:
            if size - freed <= self.target:
                break
            for message in turns[cut:start]:
                freed += await self._tokens(message)
            cut = start
            dropped += 1
        del turns[:cut]
        self._known, self._counted = size - freed, len(turns)
        self.dropped_turns += dropped
        return cut

    async def _tokens(self, message: ChatMessage) -> int:
        text = message.content
        if message.calls:
            text += json.dumps([[c.name, c.args] for c in message.calls])
        if message.result is not None:
            text += json.dumps([message.result.name, message.result.response], default=str)
        return MESSAGE_OVERHEAD + (await self.count(text) if text else 0)
