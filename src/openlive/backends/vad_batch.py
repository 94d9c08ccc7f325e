"""Voice activity for every session's audio in as few model calls as the load allows.

Each session's listener asks for the probabilities of its newest frames. The requests
go into one queue, and each request also submits a job to the scheduler's VAD lane;
the job that runs first takes *every* request waiting, and scores them together, a
frame of each stream per model call (`VAD.probabilities`). The later jobs find their
requests done and return at once.

So batching costs no latency: a lone request is scored at once, as before. Requests
merge when they arrive while the lane is busy, which is when it matters: under load,
the VAD's thread competes with the recognizer and the LLM for the two cores, requests
pile up behind it, and ten sessions' frames are scored by one call instead of ten.
"""

from __future__ import annotations

import queue
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .scheduler import Priority, Scheduler
from .voice import VAD, VADStream

__all__ = ["VADBatcher"]


@dataclass(eq=False, slots=True)
class _Request:
    stream: VADStream
    frames: npt.NDArray[np.float32]
    """Frames in rows, oldest first."""
    result: list[float] = field(default_factory=list)
    error: Exception | None = None
    done: bool = False


class VADBatcher:
    """Scores the frames of many streams of one `VAD` model together."""

    def __init__(self, vad: VAD, scheduler: Scheduler) -> None:
        self.vad = vad
        self._scheduler = scheduler
        self._waiting: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self.calls = 0
        """Model calls made."""
        self.batch_sizes: Counter[int] = Counter()
        """How many streams each model call scored (size -> calls)."""

    async def score(self, stream: VADStream, frames: npt.NDArray[np.float32]) -> list[float]:
        """The speech probability of each row of `frames`, the next frames of `stream`.

        Cancel-safe, with one caveat: a cancelled request may still be scored (its
        stream's state then moves on), which only matters to a stream that is kept."""
        if len(frames) == 0:
            return []
        request = _Request(stream, frames)
        self._waiting.put(request)
        await self._scheduler.run(Priority.VAD, self._drain)
        # The job ran after the request was queued, so it or an earlier one scored it.
        assert request.done
        if request.error is not None:
            raise request.error
        return request.result

    def _drain(self) -> None:
        """Score every waiting request (on the VAD lane's thread)."""
        batch: list[_Request] = []
        while True:
            try:
                batch.append(self._waiting.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        try:
            self._score(batch)
        except Exception as exc:  # a bad frame or a model failure: each requester is told
            for request in batch:
                request.error = exc
        for request in batch:
            request.done = True

    def _score(self, batch: list[_Request]) -> None:
        depth = max(len(r.frames) for r in batch)
        for row in range(depth):
            live = [r for r in batch if row < len(r.frames)]
            scores = self.vad.probabilities(
                [r.stream for r in live], np.stack([r.frames[row] for r in live])
            )
            self.calls += 1
            self.batch_sizes[len(live)] += 1
            for request, score in zip(live, scores, strict=True):
                request.result.append(score)
