"""One worker thread for the embedded models, serving the most urgent work first.

The VAD, the recognizer, the synthesizer and the embedded LLM are shared by every
session and run off the event loop, each using all the cores for one job. They all go
through one `Scheduler`, so that they never compete for the cores (two models running
at once on two cores would each spin and crawl), and so that a barge-in check is never
stuck behind a long job: jobs wait in a priority queue, and the worker takes the most
urgent first (ties in arrival order). The LLM submits one job per decoding step (a token
of every reply), so voice work slips in between steps. A job's owner may promote it
while it waits (`Ticket`): a speculative transcript becomes urgent once the pause it
was made in has ended the turn.

VAD jobs are the exception: they run on a lane of their own, a second thread. A frame
costs the VAD about 0.15 ms on one thread (under 1% of a core for a session streaming
in real time), too little to compete with anything, while waiting behind a job of the
main lane (a transcription takes half a second) would make a barge-in, or the end of a
turn, late by that much. The learned end of turn's model (`smart_turn.py`) runs there
too, once a pause, for the same reason: about 50 ms on one thread.

Recognition and speech on remote engines (`remote` models, `openai_audio.py`) take
neither lane: their jobs wait on the network, so they run on a pool of threads of their
own (`run_for`), and the cores' queue goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Priority", "Scheduler", "Ticket"]

T = TypeVar("T")


class Priority(enum.IntEnum):
    """From the most urgent: the work nearest to sound the user waits for goes first."""

    VAD = 0
    """Voice activity: barge-in and end-of-turn decisions."""
    NEXT_AUDIO = 1
    """The next clause of an answer that is playing and about to run out: a gap in the
    middle of an answer is worse than a later start of another."""
    FIRST_AUDIO = 2
    """The first clause of an answer: what the user waits for."""
    FIRST_TOKENS = 3
    """An LLM step while a reply in it is still before its first clause."""
    RECOGNITION = 4
    """A decided turn's transcript."""
    SPECULATION = 5
    """A transcript made during a pause, before the turn's end is certain; promoted to
    `RECOGNITION` if the pause turns out to end the turn while it still waits."""
    LLM = 6
    """One step of text generation (a spoken answer's later clauses wait for it)."""
    SYNTHESIS = 7
    """The rest of an answer, which plays behind the first clause: it has at least a
    second of audio ahead of it (`speech.MARGIN_S`), else it is `NEXT_AUDIO`."""
    INTERIM = 8
    """A partial transcript while the user speaks: shown to the client, nothing waits
    for it."""


_STOP = 1 << 30
ENGINE_THREADS = 32
"""Requests to remote engines waiting at once, across all sessions."""


async def _awaited(future: Future[T]) -> T:
    """The result of a job on another thread; cancel-safe (a job not yet started is
    dropped, a running one is waited for)."""
    wrapped = asyncio.wrap_future(future)
    try:
        return await asyncio.shield(wrapped)
    except asyncio.CancelledError:
        wrapped.add_done_callback(_retrieved)  # the caller is gone, and its job's error too
        if not future.cancel():
            await asyncio.wait([wrapped])
        raise


def _retrieved(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    run: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)


class Ticket:
    """A job's place in the queue, which its owner may move up (`promote`)."""

    def __init__(self) -> None:
        self._job: _Job | None = None
        self._lane: queue.PriorityQueue[_Job] | None = None
        self._order: itertools.count[int] | None = None

    def promote(self, priority: Priority) -> None:
        """Make the job at least this urgent, if it has not started yet."""
        job, lane = self._job, self._lane
        if job is None or lane is None or self._order is None or priority >= job.priority:
            return
        if job.future.running() or job.future.done():
            return
        # A second entry for the same job: whichever the worker takes first runs it.
        self._job = _Job(priority, next(self._order), job.run, job.future)
        lane.put(self._job)


class Scheduler:
    def __init__(self, name: str = "voice") -> None:
        self._order = itertools.count()
        self.busy: dict[Priority, float] = dict.fromkeys(Priority, 0.0)
        """Seconds of work done, by priority (written by the workers, read by /metrics)."""
        self.jobs: Counter[Priority] = Counter()
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._vad_queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._threads = [
            threading.Thread(target=self._work, args=(q,), name=n, daemon=True)
            for q, n in ((self._queue, name), (self._vad_queue, f"{name}-vad"))
        ]
        for thread in self._threads:
            thread.start()
        self._engines = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix=f"{name}-engine")

    async def run(
        self, priority: Priority, fn: Callable[..., T], *args: Any, ticket: Ticket | None = None
    ) -> T:
        """Run `fn(*args)` on the worker; cancel-safe (a job not yet started is dropped,
        a running one is waited for). `ticket` lets the caller promote the job later."""
        future: Future[T] = Future()
        lane = self._vad_queue if priority is Priority.VAD else self._queue
        job = _Job(priority, next(self._order), lambda: fn(*args), future)
        if ticket is not None:
            ticket._job, ticket._lane, ticket._order = job, lane, self._order
        lane.put(job)
        return await _awaited(future)

    async def run_for(
        self,
        model: object,
        priority: Priority,
        fn: Callable[..., T],
        *args: Any,
        ticket: Ticket | None = None,
    ) -> T:
        """`run`, unless `model` is `remote` (an engine elsewhere does the work): then on
        a thread of its own, so that a network wait never holds the cores' queue."""
        if getattr(model, "remote", False):
            return await _awaited(self._engines.submit(fn, *args))
        return await self.run(priority, fn, *args, ticket=ticket)

    def waiting(self, priority: Priority = Priority.INTERIM) -> int:
        """Jobs queued for the cores (the VAD's lane aside), not yet started, and at
        least as urgent as `priority`: a measure of how busy the models are, for work
        that should run only when they have room (speculative answers)."""
        lane = self._queue
        with lane.mutex:
            return sum(
                job.priority <= priority and not (job.future.done() or job.future.running())
                for job in lane.queue
            )

    def close(self) -> None:
        """Finish the queued jobs, then stop the workers."""
        for lane in (self._queue, self._vad_queue):
            lane.put(_Job(_STOP, next(self._order), lambda: None, Future()))
        for thread in self._threads:
            thread.join(timeout=10)
        self._engines.shutdown(wait=False, cancel_futures=True)

    def _work(self, jobs: queue.PriorityQueue[_Job]) -> None:
        while True:
            job = jobs.get()
            if job.priority == _STOP:
                return
            if job.future.running() or job.future.done():
                continue  # a promoted job's other entry, already run (or cancelled)
            if not job.future.set_running_or_notify_cancel():
                continue
            start = time.perf_counter()
            try:
                result, error = job.run(), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            # Counted before the job is done: whoever awaits it sees it counted.
            kind = Priority(job.priority)
            self.busy[kind] += time.perf_counter() - start
            self.jobs[kind] += 1
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
