"""An LLM served by any OpenAI-compatible chat-completions engine.

vLLM, llama.cpp's server, llama-cpp-python's server, Ollama, LM Studio and hosted
services all speak `POST /v1/chat/completions` with server-sent events. The engine does
its own batching and prefix caching, so a conversation here holds no state.

Token counts come from the engine. Most report them at the end of the stream
(`stream_options.include_usage`). llama-cpp-python's server ignores that option; for an
engine like it, the prompt's count comes from the same messages sent again for one
token without streaming (an answer that is not streamed always has `usage`, and the
engine's prefix cache makes the repeat cheap), and the reply's from the engine's
tokenize endpoint. Only what no endpoint answers is estimated from the length of the
text, with a warning in the logs.

An engine serving a reasoning model streams the reasoning apart from the answer, as
`reasoning_content` deltas (llama.cpp's server, vLLM, DeepSeek) or `reasoning` deltas
(newer vLLM, Ollama, OpenRouter); both become `Thought`s. How long the engine's model
reasons is the engine's setting: a thinking budget is not passed on, except that a
budget of 0 drops the reasoning it streams anyway.

Images the user showed go with their message as `image_url` parts holding data URLs,
which engines serving a vision model take (llama.cpp's server with an mmproj, vLLM,
Ollama, LM Studio). A function's result is a `tool` message: its `response` as JSON,
then the text of its parts; the images of its parts follow the results of that round
as a user message (a `tool` message holds text only).

A call the engine's model makes to a function that is not declared, or with arguments
that do not fit the schema, ends the turn (`MalformedCall`), not the session.

An engine that fails mid-answer fails the answer (`LLMError`; the session closes with
1011), and nothing else:

- an engine that stalls: no chunk for `timeout` seconds, before the first one (the
  request's answer included) or between two. A keep-alive comment in the stream is not a
  chunk, so an engine that pings but no longer answers is a stalled one;
- an engine that answers what is not a chat-completions stream: data that is not JSON, a
  chunk of the wrong shape (`choices` not a list, text that is not a string, counts that
  are not integers), or a stream that ends before a choice gave its `finish_reason`
  (a cut stream, or a page of HTML, which holds no events at all). Each chunk is
  checked as it comes (`openai_stream.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import openai
from openai import _base_client
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageParam,
)
from openai.types.completion_usage import CompletionUsage

from ..config import DEFAULT_LLM_TIMEOUT
from .base import (
    LLM,
    Capabilities,
    ChatMessage,
    Conversation,
    FunctionSpec,
    LLMError,
    LLMStats,
    ReplyEvent,
    Sampling,
    TextDelta,
    Usage,
)
from .openai_messages import chat_messages, tool
from .openai_stream import StreamedReply, function_call

__all__ = ["OpenAICompatibleLLM"]

log = logging.getLogger(__name__)


_T = TypeVar("_T")


def _transport_errors() -> tuple[type[Exception], ...]:
    errors: set[type[Exception]] = {openai.OpenAIError, httpx.HTTPError}
    for name in ("httpx", "httpx2"):  # the HTTP library under the client, by version
        if (library := getattr(_base_client, name, None)) is not None:
            errors.add(library.HTTPError)
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()
"""What an engine's request can fail with: the client's own errors, and the errors of the
HTTP library under it (`httpx`, or the `httpx2` of newer clients), which a transport
failure in the middle of a stream lets through as they are."""


@dataclass(frozen=True, slots=True)
class _Tokenizer:
    """A tokenize endpoint: its path under the engine's root (the API root without
    `/v1`) and its request for (model, text). Each answers `{"tokens": [...]}`."""

    path: str
    body: Callable[[str, str], dict[str, Any]]


_TOKENIZERS = (
    # llama.cpp's server reads `content`, vLLM `prompt`; told so, neither adds a BOS.
    _Tokenizer(
        "/tokenize",
        lambda model, text: {
            "model": model,
            "content": text,
            "prompt": text,
            "add_special_tokens": False,
        },
    ),
    # llama-cpp-python's server, which adds the model's BOS (if it has one).
    _Tokenizer("/extras/tokenize", lambda model, text: {"model": model, "input": text}),
)


class OpenAICompatibleLLM(LLM):
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_LLM_TIMEOUT,
    ) -> None:
        """`timeout`: seconds the engine may send nothing before an answer fails."""
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Images go to the engine, which refuses them if its model cannot see.
        self.capabilities = Capabilities(kv_cache_per_session=False, vision=True)
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "openlive",
            timeout=timeout,
            max_retries=1,
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url.removesuffix("/v1"),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
            timeout=5.0,
        )
        self._tokenizer: _Tokenizer | None = None
        self._bos_tokens = 0
        """What the tokenizer adds to any text, taken off its counts."""
        self._estimated = False
        self.stats = LLMStats()

    async def start(self) -> None:
        """Check that the engine answers and serves the model (logged, not fatal:
        the engine may come up after us)."""
        try:
            models = await self._client.models.list()
            names = [m.id for m in models.data]
            if names and self.name not in names:
                log.warning(
                    "%s does not list model %r (it serves %s)",
                    self.base_url,
                    self.name,
                    ", ".join(names),
                )
        except openai.OpenAIError as exc:
            log.warning("the engine at %s does not answer yet: %s", self.base_url, exc)

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()

    def conversation(self) -> Conversation:
        return _RemoteConversation(self)

    async def count_tokens(self, text: str) -> int:
        counted = await self._tokenize(text)
        if counted is not None:
            return counted
        if not self._estimated:
            log.warning("%s counts no tokens; estimating them", self.base_url)
            self._estimated = True
        return -(-len(text) // 4)

    async def _tokenize(self, text: str) -> int | None:
        """The engine's count for `text`, from the first tokenize endpoint that answers
        (then that one only), or None."""
        for tokenizer in (self._tokenizer,) if self._tokenizer else _TOKENIZERS:
            counted = await self._count_with(tokenizer, text)
            if counted is None:
                continue
            if self._tokenizer is None:
                self._tokenizer = tokenizer
                self._bos_tokens = await self._count_with(tokenizer, "") or 0
            return max(0, counted - self._bos_tokens)
        return None

    async def _count_with(self, tokenizer: _Tokenizer, text: str) -> int | None:
        try:
            response = await self._http.post(tokenizer.path, json=tokenizer.body(self.name, text))
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        tokens = body.get("tokens") if isinstance(body, dict) else None
        return len(tokens) if isinstance(tokens, list) else None

    async def _prompt_tokens(self, messages: list[ChatCompletionMessageParam]) -> int | None:
        """The engine's count for the prompt `messages` make (chat template included),
        from a one-token answer without streaming, or None."""
        try:
            completion = await self._within(
                self._client.chat.completions.create(
                    model=self.name, messages=messages, max_tokens=1, stream=False
                )
            )
        except LLMError:  # silent, or not JSON
            return None
        except TRANSPORT_ERRORS:
            return None
        # An engine answering anything but a completion (a page of HTML) counts nothing.
        usage = completion.usage if isinstance(completion, ChatCompletion) else None
        prompt = usage.prompt_tokens if isinstance(usage, CompletionUsage) else None
        return prompt if isinstance(prompt, int) else None

    async def _within(self, step: Awaitable[_T]) -> _T:
        """`step` (a request to the engine, or the next chunk of its stream), or an
        `LLMError` when the engine sends nothing for `timeout` seconds or sends what is
        not JSON."""
        try:
            async with asyncio.timeout(self.timeout):
                return await step
        except TimeoutError:
            raise LLMError(f"{self.base_url} sent nothing for {self.timeout:g} s") from None
        except ValueError as exc:  # JSON, or UTF-8, that does not decode
            raise LLMError(f"{self.base_url} sent data that is not JSON: {exc}") from exc

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        chat = chat_messages(messages)
        request: dict[str, Any] = {
            "model": self.name,
            "messages": chat,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if functions:
            request["tools"] = [tool(f) for f in functions]
        optional = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
            "presence_penalty": sampling.presence_penalty,
            "frequency_penalty": sampling.frequency_penalty,
            "stop": list(sampling.stop) or None,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        extra = {"top_k": sampling.top_k} if sampling.top_k is not None else None
        reply = StreamedReply(self.base_url, thoughts=bool(sampling.thinking_budget))
        try:
            stream = await self._within(
                self._client.chat.completions.create(**request, extra_body=extra)
            )
            self.stats.replies += 1
            self.stats.generating += 1
            try:
                async with stream:
                    chunks = aiter(stream)
                    while (chunk := await self._within(anext(chunks, None))) is not None:
                        for event in reply.take(chunk):
                            if isinstance(event, TextDelta):
                                self.stats.tokens += 1
                            yield event
            finally:
                self.stats.generating -= 1
        except openai.APIStatusError as exc:
            raise LLMError(f"{self.base_url} answered {exc.status_code}: {exc.message}") from exc
        except TRANSPORT_ERRORS as exc:
            raise LLMError(f"{self.base_url}: {exc}") from exc
        if reply.finish is None:
            kind = stream.response.headers.get("content-type") or "no content type"
            sent = "" if reply.chunks else f" (not one chunk, as {kind})"
            raise LLMError(f"{self.base_url} ended its stream before a finish_reason{sent}")
        specs = {f.name: f for f in functions}
        for _, partial in sorted(reply.calls.items()):
            yield function_call(partial, specs)
        usage = reply.usage
        if usage is None:
            prompt = await self._prompt_tokens(chat)
            if prompt is None:
                prompt = await self.count_tokens("\n".join(m.content for m in messages))
            text = "".join(reply.text)
            usage = Usage(prompt, await self.count_tokens(text) if text else 0)
        yield Usage(
            usage.prompt_tokens,
            usage.response_tokens,
            finish_reason=reply.finish,
            thoughts_tokens=usage.thoughts_tokens or reply.thought_deltas,
        )


class _RemoteConversation(Conversation):
    def __init__(self, llm: OpenAICompatibleLLM) -> None:
        self._llm = llm

    def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        return self._llm.stream(messages, sampling, functions)
