"""One model turn spoken: LLM text → clauses → speech → audio paced at real time.

Three tasks, each owned by the response's task group, linked by small bounded queues:

- the writer reads the LLM's deltas and cuts them into clauses;
- the synthesizer speaks each clause on the voice scheduler (the first clause of an
  answer goes ahead of other sessions' bulk work, and any later one goes ahead of
  everything but voice activity once the audio ready to play runs under `MARGIN_S`);
- the player sends the audio in 40 ms chunks, released at real time with a short lead,
  so that an interruption stops the sound within a chunk or two; each clause's text
  goes out as `outputTranscription` when its audio starts.

The model's reasoning (`Thought`s) is never spoken: it goes to the client as thought
parts when the client asked for them (`includeThoughts`), before the answer's audio.

`heard` holds what reached the client: whole clauses, and the share of the words of
a clause cut short that matches the share of its audio that was sent. An interrupted
turn keeps only that in the history.

A response may be made speculatively, before the turn it answers is decided
(`speculation.py`): a `Hold` then keeps it to itself. It sends nothing, and synthesizes
its first clause only, below the decided work of every session, until it is released
(`SpeechResponse.release`), when it goes on as any answer does; or it is cancelled, and
nothing of it ever reached the client.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..audio.pcm import OUTPUT_RATE, float_to_pcm16
from ..backends.base import Conversation, FunctionSpec, LLMError, Sampling
from ..backends.scheduler import Priority, Scheduler, Ticket
from ..backends.voice import TTS, Delivery
from ..protocol.messages import Modality, ServerMessage
from ..protocol.session import LiveSession
from .context import ChatContext
from .response import ModelResponse, Send
from .timing import TurnTiming

__all__ = ["CHUNK_MS", "LEAD_MS", "AUDIO_TOKENS_PER_SECOND", "Hold", "SpeechResponse", "clauses"]

CHUNK_MS = 40
"""Audio per message: small, so that an interruption takes effect quickly."""
LEAD_MS = 200
"""How far ahead of real time audio is released (covers network jitter)."""
AUDIO_TOKENS_PER_SECOND = 32
MARGIN_S = 1.0
"""Synthesis stays this far ahead of playout: a clause whose answer has less audio than
this left to play goes ahead even of other answers' first clauses (under load, behind
the other sessions' work, it would come too late and the answer would stall)."""

_CLAUSE_END = re.compile(r"([.!?;:]+[\"')\]]*|\n)\s+")
_SOFT_BREAK = re.compile(r",\s+|(?<!\d),$|[!?]$")
_FIRST_CLAUSE_MIN_CHARS = 4
"""The first clause is cut at its first comma past this many characters ("Sure, ..."),
so that the first audio is a short piece, quick to synthesize; and it is cut at a comma,
an exclamation or a question mark as soon as the mark comes, without waiting for the
next word (a token later) to show a space after it, except a comma after a digit
("1,500")."""


def clauses(buffer: str, *, first: bool, final: bool) -> tuple[list[str], str]:
    """Cut complete clauses off the front of `buffer`; return them and the rest."""
    out: list[str] = []
    while True:
        match = _CLAUSE_END.search(buffer)
        if match is None and first and not out:
            match = _SOFT_BREAK.search(buffer, _FIRST_CLAUSE_MIN_CHARS)
        if match is None:
            break
        clause, buffer = buffer[: match.end()].strip(), buffer[match.end() :]
        if clause:
            out.append(clause)
    if final and buffer.strip():
        out.append(buffer.strip())
        buffer = ""
    return out, buffer


class Hold:
    """Keeps a speculative answer to itself until `release`: its messages wait, and of
    its clauses only the first is synthesized, at `Priority.SPECULATION` (promoted to
    `FIRST_AUDIO` when released). Its conversation is `held` meanwhile, so the LLM
    serves the reply after the work others wait for."""

    def __init__(self, conversation: Conversation) -> None:
        self._released = asyncio.Event()
        self._conversation = conversation
        self.ticket = Ticket()
        """The first clause's synthesis job, promoted when released."""
        conversation.held = True

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    def release(self) -> None:
        self._conversation.held = False
        self.ticket.promote(Priority.FIRST_AUDIO)
        self._released.set()

    async def wait(self) -> None:
        await self._released.wait()

    def gate(self, send: Callable[[ServerMessage], Awaitable[None]]) -> Send:
        """`send`, once released."""

        async def gated(message: ServerMessage) -> None:
            await self._released.wait()
            await send(message)

        return gated


@dataclass(slots=True)
class _Spoken:
    text: str
    samples: int
    sent: int = 0


class SpeechResponse(ModelResponse):
    """Generates one answer as speech."""

    def __init__(
        self,
        session: LiveSession,
        conversation: Conversation,
        context: ChatContext,
        sampling: Sampling,
        send: Send,
        tts: TTS,
        scheduler: Scheduler,
        *,
        transcribe: bool,
        timing: TurnTiming | None = None,
        functions: Sequence[FunctionSpec] = (),
        voice: str | None = None,
        language: str | None = None,
        thoughts: bool = False,
        delivery: Delivery | None = None,
        more: Callable[[], bool] = lambda: False,
        hold: Hold | None = None,
    ) -> None:
        """`voice` and `language` are the TTS's: a voice name and a ``languageCode``,
        None for its defaults. `thoughts`: send the model's reasoning as thought parts.
        `delivery`: how this answer is spoken (affective dialog), None as the voice is.
        `more`: whether another answer follows this one (asked when it completes).
        `hold`: the answer is speculative, kept to itself until `release`."""
        if hold is not None:
            send = hold.gate(send)
        super().__init__(
            session, conversation, context, sampling, send, functions, thoughts=thoughts, more=more
        )
        self._delivery = delivery
        self._tts = tts
        self._scheduler = scheduler
        self._transcribe = transcribe
        self._voice = voice
        self._language = language
        self.timing = timing
        """The spoken turn this answers, if any: its first token and audio are marked."""
        self._hold = hold
        self._tokens = False
        """Some of the reply's text has come."""
        self._spoken: list[_Spoken] = []
        self._written = False
        """The LLM's reply has ended (every clause is queued for synthesis)."""
        self._ready = 0
        """Samples synthesized so far."""
        self._play_started: float | None = None
        """When sample 0 played (moved on by an underrun); None before it plays."""

    @property
    def text(self) -> str:
        """What the client heard (see the module docstring)."""
        words: list[str] = []
        for part in self._spoken:
            if part.sent >= part.samples:
                words.append(part.text)
            elif part.sent:
                parts = part.text.split()
                words.append(" ".join(parts[: math.floor(len(parts) * part.sent / part.samples)]))
        return " ".join(w for w in words if w)

    @property
    def synthesized_seconds(self) -> float:
        """Audio made so far (sent or not)."""
        return self._ready / OUTPUT_RATE

    @property
    def audio_seconds(self) -> float:
        return sum(p.sent for p in self._spoken) / OUTPUT_RATE

    def release(self, timing: TurnTiming | None) -> None:
        """A held answer becomes the answer to the spoken turn `timing` marks: what it
        made already counts from now, and it goes on as any answer does."""
        self.timing = timing
        if timing is not None and self._tokens:
            timing.token()
        if self._hold is not None:
            self._hold.release()

    async def run(self) -> None:
        """Speak the reply, then `generationComplete` and `turnComplete` with usage.

        Cancel-safe: cancelling stops the LLM, the synthesis and the sound at once."""
        texts: asyncio.Queue[str | None] = asyncio.Queue(maxsize=4)
        audio: asyncio.Queue[tuple[str, np.ndarray] | None] = asyncio.Queue(maxsize=2)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._write(texts), name="speech-writer")
                tasks.create_task(self._synthesize(texts, audio), name="speech-synth")
                tasks.create_task(self._play(audio), name="speech-player")
        except* LLMError as group:
            error = group.exceptions[0]
            assert isinstance(error, LLMError)
            self.error = error
        finally:
            self._conversation.urgent = False
            self._conversation.held = False
        if self.error is not None or self.calls:
            return
        await self._complete({Modality.AUDIO: round(self.audio_seconds * AUDIO_TOKENS_PER_SECOND)})

    async def _write(self, texts: asyncio.Queue[str | None]) -> None:
        """Read the reply, cutting its text into clauses for the synthesizer."""
        buffer = ""
        first = True

        async def cut(piece: str) -> None:
            nonlocal buffer, first
            self._tokens = True
            if self.timing is not None:
                self.timing.token()
            ready, buffer = clauses(buffer + piece, first=first, final=False)
            for clause in ready:
                first = False
                await texts.put(clause)

        await self._read(cut)
        self._written = True
        ready, _ = clauses(buffer, first=first, final=True)
        for clause in ready:
            await texts.put(clause)
        await texts.put(None)

    async def _synthesize(
        self,
        texts: asyncio.Queue[str | None],
        audio: asyncio.Queue[tuple[str, np.ndarray] | None],
    ) -> None:
        hold, spoken = self._hold, 0
        while (text := await texts.get()) is not None:
            if hold is not None and hold.held and spoken:
                await hold.wait()  # held: the first clause only
            if hold is not None and hold.held:
                speech = await self._scheduler.run_for(
                    self._tts, Priority.SPECULATION, self._speak, text, ticket=hold.ticket
                )
            else:
                speech = await self._scheduler.run_for(
                    self._tts, self._priority(), self._speak, text
                )
            spoken += 1
            if len(speech):
                self._ready += len(speech)
                await audio.put((text, speech))
        await audio.put(None)

    def _priority(self) -> Priority:
        """How urgent the next clause's synthesis is."""
        if self._play_started is None and not self._ready:
            return Priority.FIRST_AUDIO
        if self._ahead() < MARGIN_S:
            return Priority.NEXT_AUDIO
        return Priority.SYNTHESIS

    def _ahead(self) -> float:
        """Seconds of synthesized audio not yet played."""
        ready = self._ready / OUTPUT_RATE
        if self._play_started is None:
            return ready
        return self._play_started + ready - time.monotonic()

    def _speak(self, text: str) -> np.ndarray:
        pieces = list(
            self._tts.synthesize(
                text, voice=self._voice, language=self._language, delivery=self._delivery
            )
        )
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    async def _play(self, audio: asyncio.Queue[tuple[str, np.ndarray] | None]) -> None:
        chunk = OUTPUT_RATE * CHUNK_MS // 1000
        played = 0  # samples released since the start of the answer
        while (item := await audio.get()) is not None:
            if self._hold is not None:
                await self._hold.wait()  # the clock starts when the answer is let out
            text, speech = item
            spoken = _Spoken(text, len(speech))
            self._spoken.append(spoken)
            if self._transcribe:
                await self._send(self._session.output_transcription(text + " "))
            for offset in range(0, len(speech), chunk):
                now = time.monotonic()
                started = self._play_started
                if started is None or now - (started + played / OUTPUT_RATE) > LEAD_MS / 1000:
                    started = now - played / OUTPUT_RATE  # the start, or after an underrun
                    self._play_started = started
                delay = started + played / OUTPUT_RATE - LEAD_MS / 1000 - now
                if delay > 0:
                    await asyncio.sleep(delay)
                piece = speech[offset : offset + chunk]
                await self._send(self._session.model_audio(float_to_pcm16(piece)))
                if self.timing is not None:
                    self.timing.audio()
                spoken.sent += len(piece)
                # The model's next words are wanted soon if the audio ready is running out.
                self._conversation.urgent = not self._written and self._ahead() < 2 * MARGIN_S
                played += len(piece)
