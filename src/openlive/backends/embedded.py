"""The embedded LLM: a GGUF model run in-process by llama.cpp (llama-cpp-python).

One model is loaded per process and shared by every session. Its replies are decoded
together, a token of each per step (continuous batching, `batching.py`): a reply joins
the batch as soon as it is asked for, so sessions share the model fairly, and a long
answer in one session does not hold back the first token of another. Each step is one
job on the embedded models' scheduler, at the LLM's priority, so that voice work slips
in between steps.

Each session keeps its KV cache as its own sequence of the model's context, so a turn
evaluates only what is new since the last one. The cells are shared by all sequences
(`cache_budget_bytes`); past them, or past `sequences` conversations, the least
recently used idle cache is dropped and that session re-reads its history once.

Given functions, a reply may be calls instead of text, and given a thinking budget, a
first pass reasons before the answer: each reply's passes are `embedded_reply.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

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
    Usage,
)
from .batching import BatchDecoder, Generation, kv_bytes_per_token
from .chat_prompt import ChatPrompt
from .embedded_reply import produce
from .fitting import fit_prompt
from .models import bundled_gguf, llm_file
from .sampling import SamplerSettings
from .scheduler import Priority, Scheduler

__all__ = ["DEFAULT_SEQUENCES", "SMALL_MODEL_BYTES", "EmbeddedLLM", "bundled_gguf"]

log = logging.getLogger(__name__)

_DEFAULT_TEMPERATURE = 0.2
_DEFAULT_TOP_P = 0.9
_DEFAULT_TOP_K = 40
_DEFAULT_MAX_TOKENS = 256
"""A small model left to run on tends to repeat itself; clients may ask for more."""
_REPEAT_PENALTY = 1.1
DEFAULT_SEQUENCES = 32
"""Conversations whose KV caches stay in the context at once (and so the most replies
decoded together)."""

SMALL_MODEL_BYTES = 256 * 1024 * 1024
"""A model this small decodes a single token faster on one thread than on two: its
step is so short that the threads' waits for each other cost more than they share
(the bundled model, as shipped in Q4_1, on 2 cores: 12 ms against 9 ms on an idle
machine with OpenMP's threads spinning, 20 ms with them passive, 17 ms beside a busy
process). One thread also leaves the other cores to recognition and speech meanwhile."""

_NO_SAMPLING = SamplerSettings(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0)
"""The sampling of a prompt read ahead, which samples nothing."""


class EmbeddedLLM(LLM):
    """A GGUF model in this process."""

    def __init__(
        self,
        gguf: Path | None = None,
        *,
        context_tokens: int = 8192,
        threads: int | None = None,
        generation_threads: int | None = None,
        cache_budget_bytes: int = 512 * 1024 * 1024,
        sequences: int = DEFAULT_SEQUENCES,
        scheduler: Scheduler | None = None,
        models_dir: Path | None = None,
    ) -> None:
        """`gguf`: the model file (None: the bundled one, converted to Q8_0 in
        `models_dir` where one is given, see `models.prepare_llm`); `context_tokens`:
        the most one conversation's prompt and reply may take; `cache_budget_bytes`: the
        memory of the KV cells that all conversations share (0: no cache is kept between
        replies); `threads`: llama.cpp's threads (every CPU the process may use);
        `generation_threads`: its threads for a step that decodes a single token, a lone
        reply generating (None: one for a model of at most `SMALL_MODEL_BYTES`, else
        `threads`)."""
        self.path = gguf or bundled_gguf()
        self.name = self.path.stem
        self._models_dir = models_dir if gguf is None else None
        self.capabilities = Capabilities(kv_cache_per_session=True, context_tokens=context_tokens)
        self.stats = LLMStats()
        self._threads = threads or max(1, len(os.sched_getaffinity(0)))
        self._generation_threads = generation_threads
        self._budget = cache_budget_bytes
        self._sequences = sequences
        self._own_scheduler = scheduler is None
        self._scheduler = scheduler or Scheduler("llm")
        self._llama: Any = None
        self._prompt: ChatPrompt | None = None
        self._decoder: BatchDecoder | None = None
        self._wake = asyncio.Event()
        self._engine: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._scheduler.run(Priority.LLM, self._load)
        self._engine = asyncio.create_task(self._run(), name=f"llm-{self.name}")

    def _load(self) -> None:
        from llama_cpp import Llama

        if not self.path.is_file():
            raise LLMError(f"model file not found: {self.path}")
        if self._models_dir is not None:
            self.path = llm_file(self._models_dir, self.path)
            self.name = self.path.stem  # the file that runs, as /metrics labels it
        # The tokenizer, the chat template and the weights; the decoder has the context.
        self._llama = Llama(
            model_path=str(self.path), n_ctx=64, n_batch=64, n_threads=1, verbose=False
        )
        self._prompt = ChatPrompt(self._llama, self.path.name)
        model = self._llama._model
        generation_threads = self._generation_threads or (
            1 if self.path.stat().st_size <= SMALL_MODEL_BYTES else self._threads
        )
        per_token = kv_bytes_per_token(model.model)
        context = self.capabilities.context_tokens
        cells = max(self._budget // per_token, context if self._budget else 2 * context)
        self._decoder = BatchDecoder(
            model,
            cells=-(-cells // 256) * 256,
            sequences=self._sequences,
            threads=self._threads,
            generation_threads=generation_threads,
            keep_caches=self._budget > 0,
        )
        log.info(
            "loaded %s (%d KV cells for %d sequences, %d context tokens each, "
            "%d threads, %d for a single token)",
            self.path.name,
            self._decoder.cells,
            self._sequences,
            context,
            self._threads,
            generation_threads,
        )

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.cancel()
            await asyncio.wait([self._engine])
            self._engine = None
        if self._llama is not None:
            await self._scheduler.run(Priority.LLM, self._unload)
        if self._own_scheduler:
            self._scheduler.close()

    def _unload(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._llama.close()
        self._llama = None
        self._prompt = None

    def conversation(self) -> Conversation:
        return _EmbeddedConversation(self)

    async def warm_up(self) -> None:
        """A short reply, decoded alone and then beside a second one (the batch's other
        shapes); not counted in the stats."""
        messages = [
            ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "Hi!"),
        ]
        sampling = Sampling(temperature=0.0, max_tokens=8)

        async def once() -> None:
            conversation = self.conversation()
            try:
                async for _ in conversation.reply(messages, sampling):
                    pass
            finally:
                await conversation.aclose()

        await once()
        await asyncio.gather(once(), once())
        self.stats = LLMStats()

    async def count_tokens(self, text: str) -> int:
        return self.prompts.count(text)

    @property
    def prompts(self) -> ChatPrompt:
        """The model's chat template and tokenizer (once started)."""
        if self._prompt is None:
            raise LLMError(f"{self.name} is not loaded")
        return self._prompt

    # --- the decoder's steps -----------------------------------------------------------

    async def _run(self) -> None:
        """Step the decoder while replies are in progress; sleep while none is."""
        decoder = self._decoder
        assert decoder is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self._scheduler.run(self._step_priority(), decoder.step):
                    self.stats.generating = decoder.running
            except Exception as exc:  # a bug: every reply in progress is told
                log.exception("the LLM's decoder failed")
                await self._scheduler.run(Priority.LLM, decoder.fail_all, exc)
            self.stats.generating = decoder.running

    def _step_priority(self) -> Priority:
        """A step that a listener waits for (a reply's first clause, or the next words of
        an answer whose audio runs out) goes before recognition; the others after it."""
        assert self._decoder is not None
        return Priority.FIRST_TOKENS if self._decoder.urgent else Priority.LLM

    # --- one reply -------------------------------------------------------------------

    async def generate(
        self,
        owner: object,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        put: Callable[[str], None] | None,
        grammar: tuple[str, str] | None = None,
    ) -> tuple[str, Usage]:
        """Decode one reply to `messages` on `owner`'s sequence, its deltas to `put`
        (each pass of a reply: `embedded_reply.py`); return its text and usage."""
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

        def emit(item: str | BaseException | None) -> None:  # on the scheduler's thread
            try:
                loop.call_soon_threadsafe(deltas.put_nowait, item)
            except RuntimeError:
                pass  # the event loop is closed: nobody is listening

        reply = await self._scheduler.run(
            Priority.LLM, self._submit, owner, messages, sampling, grammar, emit
        )
        self._wake.set()
        try:
            while (item := await deltas.get()) is not None:
                if isinstance(item, BaseException):
                    raise LLMError(f"{type(item).__name__}: {item}") from item
                self.stats.tokens += 1
                if put is not None:
                    put(item)
        finally:
            reply.cancelled = True  # dropped at the decoder's next step, if still running
            self._wake.set()
        text = "".join(reply.text)
        usage = Usage(
            prompt_tokens=len(reply.prompt),
            response_tokens=self.prompts.count(text) if text else 0,
            cached_tokens=reply.cached,
            finish_reason=reply.finish_reason,
        )
        return text, usage

    async def prompt_length(self, messages: Sequence[ChatMessage]) -> int:
        return len(await self._scheduler.run(Priority.LLM, self.prompts.prompt, messages))

    async def _read_ahead(self, owner: object, messages: Sequence[ChatMessage]) -> None:
        """Read the prompt of `messages` and the next user message's header into
        `owner`'s cache (`Conversation.prepare`)."""

        def submit() -> None:
            assert self._decoder is not None
            prompt = self.prompts.head(messages)
            if 0 < len(prompt) < self.capabilities.context_tokens // 2:  # else it may not fit
                self._decoder.submit(Generation(owner, prompt, 0, _NO_SAMPLING, lambda _: None))

        await self._scheduler.run(Priority.LLM, submit)
        self._wake.set()

    def _submit(
        self,
        owner: object,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        grammar: tuple[str, str] | None,
        emit: Callable[[str | BaseException | None], None],
    ) -> Generation:
        """Fit the prompt to the context and hand the reply to the decoder (on the
        scheduler's thread)."""
        assert self._decoder is not None
        limit = self.capabilities.context_tokens
        max_tokens = min(sampling.max_tokens or _DEFAULT_MAX_TOKENS, limit // 2)
        # The system message and the newest turns that fit with room to answer, found
        # without reading what cannot fit (`fitting.py`).
        prompts = self.prompts
        prompt = fit_prompt(
            messages, limit - max_tokens, prompts.prompt, prompts.count, prompts.longest_token
        )
        reply = Generation(
            owner,
            prompt,
            max_tokens,
            SamplerSettings(
                temperature=_DEFAULT_TEMPERATURE
                if sampling.temperature is None
                else sampling.temperature,
                top_p=_DEFAULT_TOP_P if sampling.top_p is None else sampling.top_p,
                top_k=_DEFAULT_TOP_K if sampling.top_k is None else sampling.top_k,
                repeat_penalty=_REPEAT_PENALTY,
                presence_penalty=sampling.presence_penalty or 0.0,
                frequency_penalty=sampling.frequency_penalty or 0.0,
                seed=sampling.seed,
                grammar=grammar,
            ),
            emit,
            stop=sampling.stop,
        )
        self._decoder.submit(reply)
        self.stats.replies += 1
        return reply

    async def _release(self, conv: _EmbeddedConversation) -> None:
        if self._decoder is None:
            return
        for owner in (conv, conv.side):
            await self._scheduler.run(Priority.LLM, self._decoder.release, owner)


class _EmbeddedConversation(Conversation):
    def __init__(self, llm: EmbeddedLLM) -> None:
        self._llm = llm
        self.side = _Side(self)
        """The owner of the conversation's side generations (a call's arguments)."""
        self.closed = False

    async def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        # A producer task generates into a queue (bounded by maxOutputTokens and the
        # thinking budget), so that a slow reader never holds the shared model.
        queue: asyncio.Queue[ReplyEvent | BaseException | None] = asyncio.Queue()
        producer = asyncio.create_task(
            produce(self._llm, self, self.side, messages, sampling, functions, queue.put_nowait),
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
            producer.cancel()  # the decoder drops the reply at its next step
            await asyncio.wait([producer])

    async def prepare(self, messages: Sequence[ChatMessage]) -> None:
        await self._llm._read_ahead(self, messages)

    async def aclose(self) -> None:
        self.closed = True
        await self._llm._release(self)


class _Side:
    """The owner of a conversation's side generations: a sequence of its own, the
    conversation's share of the model."""

    def __init__(self, conversation: _EmbeddedConversation) -> None:
        self.conversation = conversation

    @property
    def tenant(self) -> str:
        return self.conversation.tenant
