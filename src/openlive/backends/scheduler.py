"""One worker thread for the embedded models, serving the most urgent work first.

The VAD, the recognizer, the synthesizer and the embedded LLM are shared by every
session and run off the event loop, each using all the cores for one job. They all go
through one `Scheduler`, so that they never compete for the cores (two models running
at once on two cores would each spin and crawl), and so that a barge-in check is never
stuck behind a long job: jobs wait in a priority queue, and the worker takes the most
urgent first (ties in arrival order). The LLM submits one job per token, so voice work
slips in between tokens.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Priority", "Scheduler"]

T = TypeVar("T")


class Priority(enum.IntEnum):
    VAD = 0
    """Voice activity: barge-in and end-of-turn decisions."""
    FIRST_AUDIO = 1
    """The first sentence of an answer: what the user waits for."""
    RECOGNITION = 2
    SYNTHESIS = 3
    """The rest of an answer, which plays behind the first sentence."""
    LLM = 4
    """One step of text generation."""


_STOP = 1 << 30


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    run: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)


class Scheduler:
    def __init__(self, name: str = "voice") -> None:
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    async def run(self, priority: Priority, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the worker; cancel-safe (a job not yet started is dropped,
        a running one is waited for)."""
        future: Future[T] = Future()
        self._queue.put(_Job(priority, next(self._order), lambda: fn(*args), future))
        wrapped = asyncio.wrap_future(future)
        try:
            return await asyncio.shield(wrapped)
        except asyncio.CancelledError:
            if not future.cancel():
                await asyncio.wait([wrapped])
            raise

    def close(self) -> None:
        """Finish the queued jobs, then stop the worker."""
        stop: Future[None] = Future()
        self._queue.put(_Job(_STOP, next(self._order), lambda: None, stop))
        self._thread.join(timeout=10)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job.priority == _STOP:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(job.run())
            except BaseException as exc:  # handed to the awaiting coroutine
                job.future.set_exception(exc)
