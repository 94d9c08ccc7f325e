"""An LLM served by any OpenAI-compatible chat-completions engine.

vLLM, llama.cpp's server, llama-cpp-python's server, Ollama, LM Studio and hosted
services all speak `POST /v1/chat/completions` with server-sent events. The engine does
its own batching and prefix caching, so a conversation here holds no state. Token counts
come from the engine (`stream_options.include_usage`); an engine that reports none gets
its counts from its `/tokenize` endpoint (vLLM, llama.cpp) or, failing that, from the
length of the text (marked as an estimate in the logs).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import openai

from .base import (
    LLM,
    Capabilities,
    ChatMessage,
    Conversation,
    LLMError,
    LLMStats,
    Sampling,
    Usage,
)

__all__ = ["OpenAICompatibleLLM"]

log = logging.getLogger(__name__)


class OpenAICompatibleLLM(LLM):
    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.capabilities = Capabilities(kv_cache_per_session=False)
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "openlive",
            timeout=timeout,
            max_retries=1,
        )
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

    def conversation(self) -> Conversation:
        return _RemoteConversation(self)

    async def count_tokens(self, text: str) -> int:
        root = self.base_url.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                response = await http.post(
                    f"{root}/tokenize", json={"model": self.name, "content": text, "prompt": text}
                )
                if response.status_code == 200:
                    body = response.json()
                    tokens = body.get("tokens")
                    if isinstance(tokens, list):
                        return len(tokens)
                    if isinstance(body.get("count"), int):
                        return int(body["count"])
        except (httpx.HTTPError, ValueError):
            pass
        if not self._estimated:
            log.warning("%s reports no token counts; estimating them", self.base_url)
            self._estimated = True
        return max(1, len(text) // 4)

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: Sampling
    ) -> AsyncIterator[str | Usage]:
        request: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
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
        text: list[str] = []
        usage: Usage | None = None
        finish = "stop"
        self.stats.generating += 1
        self.stats.replies += 1
        try:
            stream = await self._client.chat.completions.create(**request, extra_body=extra)
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = Usage(
                            prompt_tokens=chunk.usage.prompt_tokens,
                            response_tokens=chunk.usage.completion_tokens,
                        )
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            self.stats.tokens += 1
                            text.append(choice.delta.content)
                            yield choice.delta.content
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except openai.APIStatusError as exc:
            raise LLMError(f"{self.base_url} answered {exc.status_code}: {exc.message}") from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"{self.base_url}: {exc}") from exc
        finally:
            self.stats.generating -= 1
        if usage is None:
            prompt = "\n".join(m.content for m in messages)
            usage = Usage(
                prompt_tokens=await self.count_tokens(prompt),
                response_tokens=await self.count_tokens("".join(text)) if text else 0,
            )
        yield Usage(usage.prompt_tokens, usage.response_tokens, finish_reason=finish)


class _RemoteConversation(Conversation):
    def __init__(self, llm: OpenAICompatibleLLM) -> None:
        self._llm = llm

    def reply(
        self, messages: Sequence[ChatMessage], sampling: Sampling
    ) -> AsyncIterator[str | Usage]:
        return self._llm.stream(messages, sampling)
