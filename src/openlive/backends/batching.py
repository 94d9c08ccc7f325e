"""Continuous batching on one llama.cpp context: every session's reply decoded together.

llama.cpp decodes several sequences in one `llama_decode` call: each token of a batch
carries the id of the sequence it belongs to, and attends only to the KV cells of that
sequence. `BatchDecoder` keeps one sequence per conversation in a single context with a
unified KV cache, so each session's history stays cached as its own sequence, and runs
*steps*: one step feeds every reply in progress its last sampled token, adds a chunk of
the prompt of replies that are starting, decodes them all at once and samples the next
token of each. A new reply joins at the next step, without waiting for the others to
end, and a long reply no longer holds back another's first token.

On two cores a step of ten one-token sequences costs little more than a step of one (the
weights are read once per step), so the model's throughput grows with the number of
replies in flight while each reply's speed falls only a little.

All of this class runs on one thread (the embedded models' scheduler), one method call
at a time: it has no locks. What crosses threads is `Generation.cancelled` (set by the
event loop, read here) and `Generation.emit` (called here; it must hand over to the
loop thread-safely).
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .kv_sequences import KVSequence, Sequences
from .prompt_share import SHORT_TOKENS, PromptShare
from .sampling import SamplerSettings, sampler_chain

__all__ = ["BatchDecoder", "Generation", "kv_bytes_per_token", "tenant_of"]

log = logging.getLogger(__name__)

STEP_TOKENS: Final = 512
"""The most tokens one step decodes (llama.cpp's batch size)."""
FIRST_TOKENS: Final = 12
"""The tokens of a reply that come before about its first clause ("Sure, I can help")."""


Emit = Callable[[str | BaseException | None], None]
"""Takes each text delta, then None at the end (or an exception instead)."""


@dataclass(eq=False, slots=True)
class Generation:
    """One reply: its prompt, how to sample it, and where its text goes."""

    owner: object
    """The conversation it belongs to: its sequence keeps that conversation's cache."""
    prompt: list[int]
    max_tokens: int
    """0: the prompt is read into the sequence's cache, and nothing is generated
    (`reads_only`)."""
    sampling: SamplerSettings
    emit: Emit
    stop: tuple[str, ...] = ()
    cancelled: bool = False
    """Set from the event loop; the decoder drops the reply at its next step."""
    # What the decoder keeps while the reply runs:
    cached: int = 0
    """Prompt tokens the sequence already held when the reply started."""
    finish_reason: str = "cancelled"
    text: list[str] = field(default_factory=list)
    _pending: list[int] = field(default_factory=list)
    """Prompt tokens not yet evaluated."""
    _next: int | None = None
    """The token sampled last, to be fed at the next step."""
    _produced: int = 0
    _held: str = ""
    """Text held back because it may be the start of a stop sequence."""
    _sampler: Any = None
    _decoder: Any = None
    _seq: KVSequence | None = None

    @property
    def reads_only(self) -> bool:
        """The start of a prompt read ahead, for the reply that will follow it."""
        return self.max_tokens == 0


def tenant_of(owner: object) -> object:
    """Whose share of the model a reply of `owner` uses: its `tenant`, else its
    conversation."""
    tenant = getattr(owner, "tenant", "")
    return tenant or getattr(owner, "conversation", owner)


def kv_bytes_per_token(model: Any) -> int:
    """The size of one KV cell of `model` (a `llama_model_p`), keys and values in f16."""
    import llama_cpp

    layers = llama_cpp.llama_model_n_layer(model)
    head_dim = llama_cpp.llama_model_n_embd(model) // llama_cpp.llama_model_n_head(model)
    return int(2 * 2 * layers * head_dim * llama_cpp.llama_model_n_head_kv(model))


class BatchDecoder:
    """Steps many replies together on one context of `model` (llama-cpp-python's
    `_internals.LlamaModel`)."""

    def __init__(
        self,
        model: Any,
        *,
        cells: int,
        sequences: int,
        threads: int,
        generation_threads: int | None = None,
        keep_caches: bool = True,
    ) -> None:
        """`cells`: KV cells shared by all sequences (tokens of history held at once);
        `sequences`: how many conversations keep a cache at a time (and so the most
        replies decoded together); `threads`: llama.cpp's threads for a step of more
        than one token, `generation_threads` for a step of one (a lone reply
        generating; None: `threads`); `keep_caches`: keep a conversation's cells
        between its replies (False: every reply reads its whole prompt)."""
        import llama_cpp

        self._llama_cpp = llama_cpp
        self._vocab = model.vocab
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = cells
        params.n_batch = STEP_TOKENS
        params.n_ubatch = STEP_TOKENS
        params.n_seq_max = sequences
        params.kv_unified = True
        params.n_threads = generation_threads or threads  # llama.cpp: for 1-token batches
        params.n_threads_batch = threads
        params.no_perf = True
        from llama_cpp._utils import suppress_stdout_stderr

        with suppress_stdout_stderr(disable=False):  # llama.cpp's start-up notes
            self._ctx = llama_cpp.llama_init_from_model(model.model, params)
        if self._ctx is None:
            raise RuntimeError(f"llama.cpp could not make a context of {cells} cells")
        self._batch = llama_cpp.llama_batch_init(STEP_TOKENS, 0, 1)
        self._sequences = Sequences(llama_cpp, llama_cpp.llama_get_memory(self._ctx), sequences)
        self._keep = keep_caches
        self._replies: list[Generation] = []
        self._steps = 0
        self._share = PromptShare()
        self.cells = cells

    # --- called by the owner, on the scheduler's thread --------------------------------

    @property
    def running(self) -> int:
        return len(self._replies)

    @property
    def urgent(self) -> bool:
        """Whether someone waits on the next step: a reply in progress is still before its
        first `FIRST_TOKENS` tokens (what a spoken answer's first clause waits for), with
        no more than a step's chunk of its prompt left to read and not `held`
        (speculative: nobody waits for it yet), or its owner says it is `urgent` (its
        audio is running out).

        A long prompt being read is not urgent: its steps would otherwise go before
        every job of a lower priority for as long as it is read, and a client sending
        long prompts back to back would hold up the other sessions' new replies (their
        submission is an LLM job), their transcripts and their synthesis."""
        return any(
            (
                r._produced < FIRST_TOKENS
                and len(r._pending) <= SHORT_TOKENS
                and not r.reads_only
                and not getattr(r.owner, "held", False)
            )
            or getattr(r.owner, "urgent", False)
            for r in self._replies
        )

    def submit(self, reply: Generation) -> None:
        """Start `reply` at the next step, on its owner's sequence."""
        for other in [r for r in self._replies if r.owner is reply.owner]:
            self._end(other, "cancelled")  # a conversation has one reply at a time
        seq = self._sequences.of(reply.owner)
        if seq is None:
            reply.emit(RuntimeError("every sequence of the model is answering"))
            return
        common = _common_prefix(seq.tokens, reply.prompt)
        if common == len(reply.prompt) and not reply.reads_only:
            common -= 1  # evaluate the last prompt token again, for its logits
        self._sequences.forget(seq, common)
        seq.busy = True
        seq.used = self._steps
        reply.cached = common
        reply._seq = seq
        reply._pending = reply.prompt[common:]
        if reply.reads_only and not reply._pending:  # read ahead already
            reply.finish_reason = "length"
            self._finish(reply)
            reply.emit(None)
            return
        if not reply.reads_only:
            reply._sampler = sampler_chain(self._llama_cpp, self._vocab, reply.sampling)
        reply._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._replies.append(reply)

    def release(self, owner: object) -> None:
        """Forget `owner`'s cache (its session ended)."""
        for reply in [r for r in self._replies if r.owner is owner]:
            self._end(reply, "cancelled")
        self._sequences.release(owner)
        if tenant_of(owner) is owner:  # a tenant's use outlives its sessions, decaying
            self._share.forget(owner)

    def step(self) -> bool:
        """Decode one step of every reply in progress; return whether any remains."""
        self._steps += 1
        for reply in [r for r in self._replies if r.cancelled]:
            self._end(reply, "cancelled")
        if not self._replies:
            return False
        rows = self._fill()
        if rows:
            self._decode(rows)
        return bool(self._replies)

    def fail_all(self, error: BaseException) -> None:
        """End every reply in progress with `error`, and drop their caches."""
        for reply in list(self._replies):
            self._fail(reply, error)
        self._sequences.clear()

    def close(self) -> None:
        for reply in list(self._replies):
            self._end(reply, "cancelled")
        self._llama_cpp.llama_batch_free(self._batch)
        self._llama_cpp.llama_free(self._ctx)

    # --- one step --------------------------------------------------------------------

    def _fill(self) -> list[tuple[Generation, int, int]]:
        """Put this step's tokens in the batch: the next token of every reply that is
        generating, then prompt chunks. Returns (reply, tokens fed, row of its logits
        or -1)."""
        batch = self._batch
        n = 0
        rows: list[tuple[Generation, int, int]] = []

        def add(reply: Generation, tokens: Sequence[int], logits: bool) -> None:
            nonlocal n
            seq = reply._seq
            assert seq is not None
            start = len(seq.tokens)
            for i, token in enumerate(tokens):
                batch.token[n] = token
                batch.pos[n] = start + i
                batch.seq_id[n][0] = seq.id
                batch.n_seq_id[n] = 1
                batch.logits[n] = False
                n += 1
            batch.logits[n - 1] = logits
            rows.append((reply, len(tokens), n - 1 if logits else -1))

        for reply in self._replies:
            if reply._next is not None:
                add(reply, [reply._next], True)
        generating = [tenant_of(reply.owner) for reply, _, _ in rows]
        starting = [reply for reply in self._replies if reply._pending]
        takes = self._share.plan(
            [(tenant_of(r.owner), len(r._pending)) for r in starting], generating
        )
        for reply, take in zip(starting, takes, strict=True):
            chunk = reply._pending[: min(take, STEP_TOKENS - n)]
            if chunk:
                add(reply, chunk, len(chunk) == len(reply._pending) and not reply.reads_only)
        batch.n_tokens = n
        return rows

    def _decode(self, rows: list[tuple[Generation, int, int]]) -> None:
        llama_cpp = self._llama_cpp
        started = time.perf_counter()
        status = llama_cpp.llama_decode(self._ctx, self._batch)
        while status == 1 and self._sequences.evict():  # no room for the batch in the KV cache
            status = llama_cpp.llama_decode(self._ctx, self._batch)
        if status != 0:
            # Nothing was decoded: the replies that were starting give way; if none
            # was, the running ones end (else the next step would fail the same way).
            error = RuntimeError(f"the model's context is full (llama_decode {status})")
            starting = [reply for reply, _, _ in rows if reply._pending]
            for reply in starting or [reply for reply, _, _ in rows]:
                self._fail(reply, error)
            return
        self._share.measured(
            time.perf_counter() - started,
            [(tenant_of(reply.owner), fed) for reply, fed, _ in rows if reply._pending],
            [tenant_of(reply.owner) for reply, _, _ in rows if not reply._pending],
        )
        for reply, fed, row in rows:
            seq = reply._seq
            assert seq is not None
            if reply._next is not None and fed == 1 and not reply._pending:
                seq.tokens.append(reply._next)
                reply._next = None
            else:
                seq.tokens.extend(reply._pending[:fed])
                del reply._pending[:fed]
            seq.used = self._steps
            if row >= 0:
                token = llama_cpp.llama_sampler_sample(reply._sampler, self._ctx, row)
                self._took(reply, token)
            elif reply.reads_only and not reply._pending:
                self._end(reply, "length")  # read ahead: nothing to generate

    def _took(self, reply: Generation, token: int) -> None:
        if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._end(reply, "stop")
            return
        reply._produced += 1
        reply._held += reply._decoder.decode(self._piece(token))
        if self._release_text(reply):
            self._end(reply, "stop")
        elif reply._produced >= reply.max_tokens:
            self._end(reply, "length")
        else:
            reply._next = token

    def _release_text(self, reply: Generation) -> bool:
        """Emit what of the held text cannot be a stop sequence; True if one was hit."""
        held = reply._held
        for stop in reply.stop:
            at = held.find(stop)
            if at >= 0:
                reply._held = ""
                self._emit_text(reply, held[:at])
                return True
        keep = max(
            (
                k
                for s in reply.stop
                for k in range(min(len(s) - 1, len(held)), 0, -1)
                if held.endswith(s[:k])
            ),
            default=0,
        )
        self._emit_text(reply, held[: len(held) - keep])
        reply._held = held[len(held) - keep :]
        return False

    def _emit_text(self, reply: Generation, text: str) -> None:
        if text:
            reply.text.append(text)
            reply.emit(text)

    def _end(self, reply: Generation, reason: str) -> None:
        if reply not in self._replies:
            return
        self._replies.remove(reply)
        if reason != "cancelled":
            tail = reply._held + reply._decoder.decode(b"", final=True)
            reply._held = ""
            self._emit_text(reply, tail)
        reply.finish_reason = reason
        self._finish(reply)
        reply.emit(None)

    def _fail(self, reply: Generation, error: BaseException) -> None:
        self._replies.remove(reply)
        self._finish(reply)
        reply.emit(error)

    def _finish(self, reply: Generation) -> None:
        seq = reply._seq
        if seq is not None:
            seq.busy = False
            if not self._keep:
                self._sequences.forget(seq, 0)
        if reply._sampler is not None:
            self._llama_cpp.llama_sampler_free(reply._sampler)
            reply._sampler = None

    # --- sampling and text -----------------------------------------------------------

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        return buf.raw[: max(n, 0)]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
