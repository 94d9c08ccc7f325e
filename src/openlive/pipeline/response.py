"""One model turn: streaming the LLM's reply to the client, and stopping it.

A `TextResponse` owns the task that generates one answer. It records what it has handed
to the client, so that an interrupted turn leaves in the history only what the client
received, never what was generated after. When the model calls functions instead of
answering, the calls are kept in `calls` and the turn is left open for the runner. The
model's reasoning (`Thought`s) goes to the client as thought parts when it asked for
them (`includeThoughts`), and never into the history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

from ..backends.base import (
    Conversation,
    FunctionCall,
    FunctionSpec,
    LLMError,
    Sampling,
    Thought,
    Usage,
)
from ..protocol.messages import Modality, ServerMessage
from ..protocol.session import LiveSession, TurnUsage
from .context import ChatContext
from .vision import media_tokens

__all__ = ["TextResponse"]

Send = Callable[[ServerMessage], Awaitable[None]]


class TextResponse:
    """Generates one answer in text and sends it as it comes."""

    def __init__(
        self,
        session: LiveSession,
        conversation: Conversation,
        context: ChatContext,
        sampling: Sampling,
        send: Send,
        functions: Sequence[FunctionSpec] = (),
        *,
        thoughts: bool = False,
    ) -> None:
        """`thoughts`: send the model's reasoning as thought parts."""
        self._session = session
        self._functions = functions
        self._thoughts = thoughts
        self.calls: list[FunctionCall] = []
        self._conversation = conversation
        self._context = context
        self._sampling = sampling
        self._send = send
        self.sent: list[str] = []
        self.usage: Usage | None = None
        self.completed = False
        self.error: LLMError | None = None
        """Set when the backend failed; the turn then ends without completing."""

    async def run(self) -> None:
        """Stream the reply, then `generationComplete` and `turnComplete` with usage.

        Cancel-safe: cancelling stops the LLM within a token; `sent` then holds the
        text the client has been given.
        """
        messages = self._context.messages()
        try:
            # aclosing: a cancelled reply must stop the LLM before run() returns
            reply = self._conversation.reply(messages, self._sampling, self._functions)
            async with aclosing(reply) as stream:
                async for item in stream:
                    if isinstance(item, Usage):
                        self.usage = item
                    elif isinstance(item, FunctionCall):
                        self.calls.append(item)
                    elif isinstance(item, Thought):
                        if self._thoughts:
                            await self._send(self._session.model_thought(item.text))
                    else:
                        await self._send(self._session.model_text(item))
                        self.sent.append(item)
        except LLMError as exc:
            self.error = exc
            return
        if self.calls:
            return  # the turn goes on once the calls are answered
        self.completed = True
        await self._send(self._session.generation_complete())
        usage = self.usage or Usage(0, 0)
        await self._send(
            self._session.turn_complete(
                TurnUsage(
                    prompt={Modality.TEXT: usage.prompt_tokens, **media_tokens(messages)},
                    response={Modality.TEXT: usage.response_tokens},
                    thoughts=usage.thoughts_tokens,
                )
            )
        )

    @property
    def text(self) -> str:
        return "".join(self.sent)
