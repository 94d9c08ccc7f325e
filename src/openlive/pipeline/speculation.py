"""Speculative answers: the answer to a pause, made before the end of the turn is decided.

When a pause begins, the listener transcribes the speech so far (`recognition.py`) and
says so (`Paused`, with the guess's task). Once that guess is ready, and if the models
have room, `Speculation` starts the answer to it: the history as it stands plus the
guess as the user's message, run as a `SpeechResponse` under a `Hold`. The LLM writes,
and the first clause is synthesized, while the silence window runs; nothing is sent.

When the turn is decided, the responder asks for the answer it is about to make
(`take`, with its `Recipe`: the plan, the prompt's messages and the functions). If the
speculative answer was made from exactly the same (the transcript is the guess, and the
history has not changed since), it is that answer: it is released (`Taken.run`), and
its first audio leaves as soon as it is ready (at once, if its first clause was
synthesized in time). Otherwise, or when the user goes on speaking (`discard`),
its task is cancelled: it sent nothing, and it added nothing to the history, whose
answers are recorded by the responder only from what was sent. Its usage is never
reported either, since `turnComplete` is one of the messages it holds.

Speculation costs the cores work that may be thrown away, so it runs only when they
have room (`has_room`): no other reply is being generated and no job that someone
waits for is queued. Once started, it stays below everything others wait for: its
reply's steps are not urgent (`Conversation.held`) and its synthesis is
`Priority.SPECULATION`.

Before any of that, when the user begins a turn, the LLM may read the history the
turn's answer will follow (`began`, `Conversation.prepare`): the answer then reads
only the user's words and what follows them.

Every task is one of the responder's group. One speculation at a time: a new one waits
until the one before it has ended (a conversation has one reply at a time), and `take`
waits for a discarded one before the real answer starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

from ..backends.base import ChatMessage, FunctionSpec, LLMStats
from ..backends.scheduler import Priority, Scheduler
from ..backends.voice import Transcript
from .speech import SpeechResponse
from .timing import TurnTiming, VoiceStats

__all__ = ["Recipe", "Speculation", "Taken", "has_room"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recipe:
    """What an answer is made from. Two answers of the same recipe are the same answer."""

    plan: object
    """The session's plan (a `contextUpdate` of the tools replaces it)."""
    messages: tuple[ChatMessage, ...]
    """The prompt: system instruction and history, the user's turn last."""
    functions: tuple[FunctionSpec, ...]


Make = Callable[[str], tuple[Recipe, SpeechResponse] | None]
"""The responder's side: the answer to the user saying `text` now, under a `Hold`, and
its recipe; None where this session does not speculate now (an answer is open, say)."""
ReadAhead = Callable[[], Coroutine[None, None, None] | None]
"""The responder's side: reading the history ahead of the user's new turn
(`Conversation.prepare`), or None where no answer would follow it now."""


def has_room(stats: LLMStats, scheduler: Scheduler) -> bool:
    """Whether the models are idle enough for work that may be thrown away: no reply is
    being generated, and no job that someone waits for is queued (the rest of an answer
    playing with audio to spare, or an interim transcript, runs after speculation's
    work anyway)."""
    return stats.generating == 0 and scheduler.waiting(Priority.SPECULATION) == 0


class _Answer:
    """One speculative answer and its task."""

    def __init__(self) -> None:
        self.made: tuple[Recipe, SpeechResponse] | None = None
        self.task: asyncio.Task[None] | None = None
        self.failed = False
        self.taken = False
        self.started = 0.0
        """When it was made (`time.monotonic()`)."""


class Taken:
    """A speculative answer taken as the turn's answer."""

    def __init__(self, response: SpeechResponse, task: asyncio.Task[None]) -> None:
        self.response = response
        self._task = task

    async def run(self, timing: TurnTiming | None) -> None:
        """Release it and wait until it has ended; cancelling this cancels it (and
        waits for it), as cancelling `SpeechResponse.run` does."""
        self.response.release(timing)
        try:
            await asyncio.wait([self._task])
        except asyncio.CancelledError:
            self._task.cancel()
            await asyncio.wait([self._task])
            raise


class Speculation:
    def __init__(
        self,
        make: Make,
        room: Callable[[], bool],
        stats: VoiceStats,
        read_ahead: ReadAhead = lambda: None,
    ) -> None:
        """`make` builds the held answer; `room`: whether the models have room for it
        now; `stats` counts the answers speculated and those used; `read_ahead` reads
        the history ahead of a new turn."""
        self._make = make
        self._read_ahead = read_ahead
        self._room = room
        self._stats = stats
        self._tasks: asyncio.TaskGroup | None = None
        self._current: _Answer | None = None
        self._discarded: list[asyncio.Task[None]] = []
        """Cancelled tasks not yet seen to their end."""

    def start(self, tasks: asyncio.TaskGroup) -> None:
        """Run speculative answers in `tasks` (the responder's group)."""
        self._tasks = tasks

    @property
    def pending(self) -> bool:
        """A speculative answer is in the making or made."""
        return self._current is not None

    def began(self) -> None:
        """The user began a turn: a speculation before it is stale (discarded), and the
        history its answer will follow is read ahead."""
        self.discard()
        if self._tasks is not None and (reading := self._read_ahead()) is not None:
            self._tasks.create_task(reading, name="read-ahead")

    def begin(self, guess: asyncio.Task[Transcript]) -> None:
        """A pause began and `guess` transcribes it: answer it once it is ready (any
        earlier speculation is discarded first)."""
        if self._tasks is None:
            return
        self.discard()
        answer = _Answer()
        before = list(self._discarded)
        answer.task = self._tasks.create_task(
            self._speculate(answer, guess, before), name="speculative-answer"
        )
        self._current = answer

    def discard(self) -> None:
        """The user went on (or the turn is another's): drop the speculative answer.
        Does not wait; `take` and the next speculation do."""
        answer, self._current = self._current, None
        if answer is None or answer.task is None:
            return
        answer.task.cancel()
        self._discarded = [t for t in self._discarded if not t.done()] + [answer.task]
        if answer.made is not None:
            self._stats.answers_discarded += 1

    async def take(self, recipe: Recipe) -> Taken | None:
        """The speculative answer if it was made from `recipe`, else None, once every
        discarded one has ended (the conversation is free for the answer)."""
        answer = self._current
        taken: Taken | None = None
        if answer is not None and answer.task is not None and not answer.failed:
            made = answer.made
            if made is not None and made[0] == recipe:
                self._current = None
                answer.taken = True
                self._stats.answers_used += 1
                if made[1].synthesized_seconds:
                    self._stats.answers_ready += 1
                taken = Taken(made[1], answer.task)
                log.debug(
                    "speculative answer taken, %.2f s of audio ready after %.3f s",
                    made[1].synthesized_seconds,
                    time.monotonic() - answer.started,
                )
            elif made is not None:
                log.debug("speculative answer not taken: made for another prompt")
        if taken is None:
            self.discard()
        await self.settle()
        return taken

    async def settle(self) -> None:
        """Wait until the discarded answers have ended."""
        while self._discarded:
            tasks, self._discarded = self._discarded, []
            await asyncio.wait(tasks)

    async def _speculate(
        self,
        answer: _Answer,
        guess: asyncio.Task[Transcript],
        before: Sequence[asyncio.Task[None]],
    ) -> None:
        if before:
            await asyncio.wait(before)  # one reply at a time on the conversation
        await asyncio.wait([guess])
        if guess.cancelled() or guess.exception() is not None:
            return  # the listener has it
        text = guess.result().text
        if not text or not self._room():
            log.debug("no speculative answer (%s)", "no room" if text else "no words")
            return
        try:
            made = self._make(text)
            if made is None:
                return
            answer.made = made
            answer.started = time.monotonic()
            self._stats.answers_speculated += 1
            log.debug("speculative answer to %r", text)
            await made[1].run()
        except Exception:
            if answer.taken:
                raise  # the answer failed: the session's group has the error
            log.exception("a speculative answer failed")  # a fresh one is made if wanted
            answer.failed = True
