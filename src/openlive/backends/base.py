"""The interface every LLM backend implements, and the values it exchanges.

A backend is a model object (`LLM`) that is started once per process and shared by all
sessions. Each session opens its own `Conversation` from it, which is where a backend
keeps per-session state such as a KV cache. A conversation streams one reply at a time
as `str` deltas, or as `FunctionCall`s when it was given functions and decides to call
them, ended by one `Usage` with the token counts of that turn. A backend that reasons
before it answers (`Sampling.thinking_budget`) yields its reasoning as `Thought` deltas
first; they are never part of the answer.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "LLM",
    "ChatMessage",
    "FunctionCall",
    "FunctionResult",
    "FunctionSpec",
    "ContextOverflow",
    "Image",
    "Conversation",
    "LLMError",
    "LLMStats",
    "MalformedCall",
    "ReplyEvent",
    "Sampling",
    "TextDelta",
    "Thought",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function the model may call: a `functionDeclaration` with a JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]
    """A JSON Schema of the arguments object."""


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A call the model decided to make; `id` is given by the session, not the model."""

    name: str
    args: dict[str, Any]
    id: str = ""


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """What a call returned (the `response` object of a `FunctionResponse`), and the
    text and images of its `parts`, which its history message holds (`ChatMessage`'s
    `content` and `images`)."""

    id: str
    name: str
    response: dict[str, Any]
    text: str = ""
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Image:
    """An image the user showed: a JPEG or PNG file, as sent. `video` for a frame of
    `realtimeInput.video`; `tokens` is what it counts in usageMetadata."""

    mime_type: str
    data: bytes
    video: bool = False
    tokens: int = 258


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the history. An assistant message may hold the calls it made
    (`calls`); a ``tool`` message holds the result of one (`result`); a user message
    may hold images (`images`, for a backend that can see)."""

    role: Role
    content: str
    calls: tuple[FunctionCall, ...] = ()
    result: FunctionResult | None = None
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Sampling:
    """Decoding parameters, from `generationConfig`; None means the backend's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    thinking_budget: int = 0
    """Tokens the model may reason for before it answers: 0 for none, -1 for as many as
    the backend judges useful (its dynamic budget)."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the answer's text, about a token."""

    text: str


@dataclass(frozen=True, slots=True)
class Thought:
    """A delta of the model's reasoning: shown to clients that ask for thoughts, never
    spoken, never kept in the history."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one reply, from the model's own tokenizer."""

    prompt_tokens: int
    response_tokens: int
    cached_tokens: int = 0
    finish_reason: str = "stop"
    thoughts_tokens: int = 0
    """Tokens of reasoning, not counted in `response_tokens`."""


ReplyEvent = TextDelta | Thought | FunctionCall | Usage
"""What a reply streams (`Conversation.reply`)."""


class LLMError(Exception):
    """A backend failed (the engine is unreachable, answered an error, or crashed)."""


class MalformedCall(LLMError):
    """The model called a function that is not declared, or with arguments that are not
    JSON or do not fit the function's schema: its turn ends (`MALFORMED_FUNCTION_CALL`),
    the session goes on."""


class ContextOverflow(LLMError):
    """The conversation's newest turn alone does not fit the model's context window."""


@dataclass(slots=True)
class Capabilities:
    streaming: bool = True
    kv_cache_per_session: bool = False
    context_tokens: int = 8192
    vision: bool = False
    """Takes images with user messages (`ChatMessage.images`)."""
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LLMStats:
    """Live counters of a backend, read by the metrics endpoint."""

    generating: int = 0
    """Replies being generated right now."""
    replies: int = 0
    tokens: int = 0
    """Text deltas (about one per token) generated since start."""


class Conversation(abc.ABC):
    """One session's handle on a shared model."""

    urgent: bool = False
    """Set by the pipeline while a listener is about to wait for this reply's next words
    (a spoken answer whose audio is running out); a backend that schedules its work may
    serve it first."""

    tenant: str = ""
    """Who the session belongs to (a fingerprint of its API key), set by the pipeline; a
    backend that shares its model's time between conversations shares it between
    tenants, so that a client gains nothing by opening more sessions or reconnecting.
    Empty: the conversation is a tenant of its own."""

    held: bool = False
    """Set by the pipeline while this reply is speculative (an answer made during a pause,
    before the end of the turn is decided): nobody waits for it yet, so a backend that
    schedules its work serves it after the work others wait for."""

    @abc.abstractmethod
    def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Stream the assistant's reply to `messages` (the whole history, system first).

        Yields `TextDelta`s as they are generated (after its `Thought`s, if it reasons),
        then exactly one `Usage`. Given
        `functions`, the reply may instead be calls: `FunctionCall`s whose arguments
        validate against their function's schema (and then no text). Safe to cancel:
        cancelling the iteration stops generation within a token, and returns once the
        model is free again. Raises `LLMError` on a backend failure.
        """

    async def prepare(self, messages: Sequence[ChatMessage]) -> None:
        """The next reply's prompt will be `messages` and then a user message not known
        yet (the user is speaking it): a backend that keeps a cache may read that much
        of the prompt now, while nobody waits, so that the reply reads only the rest.
        Returns once that is under way; by default, does nothing."""

    async def aclose(self) -> None:
        """Release what the conversation holds (a saved KV cache, for instance)."""


class LLM(abc.ABC):
    """A model shared by every session of the process."""

    name: str
    capabilities: Capabilities
    stats: LLMStats

    async def start(self) -> None:
        """Load the model or check that the engine answers; called once at startup."""

    async def aclose(self) -> None:
        """Free the model."""

    async def warm_up(self) -> None:
        """Run the model once, so that the first session's reply pays no first-call
        costs; called at startup, after `start`. An engine elsewhere is not called."""

    @abc.abstractmethod
    def conversation(self) -> Conversation:
        """Open the per-session handle."""

    @abc.abstractmethod
    async def count_tokens(self, text: str) -> int:
        """The number of tokens `text` makes for this model."""
