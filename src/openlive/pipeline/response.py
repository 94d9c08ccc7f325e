"""One model turn: streaming the LLM's reply to the client, and stopping it.

`ModelResponse` holds what every answer shares: the reply stream read event by event
(text deltas, thoughts, function calls, usage), and the ending (`generationComplete`,
then `turnComplete` with usage). When the model calls functions instead of answering,
the calls are kept in `calls` and the turn is left open for the runner. The model's
reasoning (`Thought`s) goes to the client as thought parts when it asked for them
(`includeThoughts`), and never into the history.

`TextResponse` adds only its own part: each delta sent as text as it comes, recorded,
so that an interrupted turn leaves in the history only what the client received, never
what was generated after. `SpeechResponse` (`speech.py`) speaks the deltas instead.
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
    TextDelta,
    Thought,
    Usage,
)
from ..protocol.messages import Modality, ServerMessage
from ..protocol.session import LiveSession, TurnUsage
from .context import ChatContext
from .vision import media_tokens

__all__ = ["ModelResponse", "Send", "TextResponse"]

Send = Callable[[ServerMessage], Awaitable[None]]


def _nothing_follows() -> bool:
    return False


class ModelResponse:
    """One answer to the context as it stands: what text and spoken answers share."""

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
        more: Callable[[], bool] = _nothing_follows,
    ) -> None:
        """`thoughts`: send the model's reasoning as thought parts. `more`: whether
        another answer follows this one (asked when it completes)."""
        self._session = session
        self._conversation = conversation
        self._context = context
        self._sampling = sampling
        self._send = send
        self._functions = functions
        self._thoughts = thoughts
        self._more = more
        self._media: dict[Modality, int] = {}
        """Prompt tokens of the images the answer was asked with, by modality."""
        self.calls: list[FunctionCall] = []
        """Functions the model called instead of answering; the turn is then left open."""
        self.usage: Usage | None = None
        self.error: LLMError | None = None
        """Set when the backend failed; the turn then ends without completing."""

    async def _read(self, text: Callable[[str], Awaitable[None]]) -> None:
        """Stream the reply: each text delta to `text`, thoughts to the client if it
        asked, calls and usage kept. Cancel-safe: cancelling stops the LLM within a
        token, before this returns. Raises `LLMError` when the backend fails."""
        messages = self._context.messages()
        self._media = media_tokens(messages)
        reply = self._conversation.reply(messages, self._sampling, self._functions)
        async with aclosing(reply) as stream:
            async for event in stream:
                match event:
                    case TextDelta(piece):
                        await text(piece)
                    case Thought(thought):
                        if self._thoughts:
                            await self._send(self._session.model_thought(thought))
                    case FunctionCall():
                        self.calls.append(event)
                    case Usage():
                        self.usage = event

    async def _complete(self, response: dict[Modality, int]) -> None:
        """`generationComplete`, then `turnComplete` with the usage: the prompt's text
        and images, and `response` (the answer's tokens by modality)."""
        usage = self.usage or Usage(0, 0)
        await self._send(self._session.generation_complete())
        prompt = {Modality.TEXT: usage.prompt_tokens, **self._media}
        await self._send(
            self._session.turn_complete(
                TurnUsage(prompt=prompt, response=response, thoughts=usage.thoughts_tokens),
                more=self._more(),
            )
        )


class TextResponse(ModelResponse):
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
        more: Callable[[], bool] = _nothing_follows,
    ) -> None:
        super().__init__(
            session, conversation, context, sampling, send, functions, thoughts=thoughts, more=more
        )
        self.sent: list[str] = []
        """The text the client has been given."""

    async def run(self) -> None:
        """Stream the reply, then `generationComplete` and `turnComplete` with usage.

        Cancel-safe: cancelling stops the LLM within a token; `sent` then holds the
        text the client has been given.
        """
        try:
            await self._read(self._text)
        except LLMError as exc:
            self.error = exc
            return
        if self.calls:
            return  # the turn goes on once the calls are answered
        usage = self.usage or Usage(0, 0)
        await self._complete({Modality.TEXT: usage.response_tokens})

    async def _text(self, piece: str) -> None:
        await self._send(self._session.model_text(piece))
        self.sent.append(piece)

    @property
    def text(self) -> str:
        return "".join(self.sent)
