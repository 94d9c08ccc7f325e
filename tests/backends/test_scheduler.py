"""The scheduler: one lane by priority for the models, and a lane of its own for the VAD."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator

import pytest

from openlive.backends.scheduler import Priority, Scheduler, Ticket


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler("test")
    yield scheduler
    scheduler.close()


async def test_the_most_urgent_waiting_job_runs_first(scheduler: Scheduler) -> None:
    gate = threading.Event()
    order: list[str] = []
    blocker = asyncio.create_task(scheduler.run(Priority.LLM, gate.wait, 5))
    await asyncio.sleep(0.05)  # the blocker holds the worker
    jobs = [
        asyncio.create_task(scheduler.run(priority, order.append, name))
        for priority, name in (
            (Priority.INTERIM, "interim"),
            (Priority.SYNTHESIS, "synthesis"),
            (Priority.LLM, "llm"),
            (Priority.SPECULATION, "speculation"),
            (Priority.RECOGNITION, "recognition"),
            (Priority.FIRST_TOKENS, "first tokens"),
            (Priority.FIRST_AUDIO, "first audio"),
            (Priority.NEXT_AUDIO, "next audio"),
        )
    ]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(blocker, *jobs)
    assert order == [
        "next audio",
        "first audio",
        "first tokens",
        "recognition",
        "speculation",
        "llm",
        "synthesis",
        "interim",
    ]


async def test_vad_is_not_stuck_behind_a_long_job(scheduler: Scheduler) -> None:
    gate = threading.Event()
    long_job = asyncio.create_task(scheduler.run(Priority.RECOGNITION, gate.wait, 5))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(scheduler.run(Priority.VAD, lambda: 0.9), 1) == 0.9
    assert not long_job.done()
    gate.set()
    assert await long_job


async def test_a_cancelled_job_that_has_not_started_never_runs(scheduler: Scheduler) -> None:
    gate = threading.Event()
    ran: list[int] = []
    blocker = asyncio.create_task(scheduler.run(Priority.LLM, gate.wait, 5))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(scheduler.run(Priority.LLM, ran.append, 1))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    gate.set()
    await blocker
    await scheduler.run(Priority.LLM, lambda: None)  # after the cancelled job's turn
    assert ran == []


async def test_a_waiting_job_promoted_runs_at_its_new_priority_once(scheduler: Scheduler) -> None:
    gate = threading.Event()
    order: list[str] = []
    blocker = asyncio.create_task(scheduler.run(Priority.LLM, gate.wait, 5))
    await asyncio.sleep(0.05)
    ticket = Ticket()
    guess = asyncio.create_task(
        scheduler.run(Priority.SPECULATION, order.append, "guess", ticket=ticket)
    )
    other = asyncio.create_task(scheduler.run(Priority.RECOGNITION, order.append, "decided"))
    await asyncio.sleep(0.05)
    ticket.promote(Priority.FIRST_AUDIO)
    ticket.promote(Priority.SYNTHESIS)  # never demoted
    gate.set()
    await asyncio.gather(blocker, guess, other)
    await scheduler.run(Priority.INTERIM, order.append, "last")  # the old entry is gone
    assert order == ["guess", "decided", "last"]


async def test_promoting_a_job_that_ran_changes_nothing(scheduler: Scheduler) -> None:
    ticket = Ticket()
    ran: list[int] = []
    await scheduler.run(Priority.SPECULATION, ran.append, 1, ticket=ticket)
    ticket.promote(Priority.FIRST_AUDIO)
    await scheduler.run(Priority.LLM, ran.append, 2)
    assert ran == [1, 2]


async def test_work_is_counted_by_priority(scheduler: Scheduler) -> None:
    await scheduler.run(Priority.RECOGNITION, time.sleep, 0.05)
    await scheduler.run(Priority.VAD, lambda: None)
    assert scheduler.jobs[Priority.RECOGNITION] == 1 and scheduler.jobs[Priority.VAD] == 1
    assert scheduler.busy[Priority.RECOGNITION] >= 0.05
    assert scheduler.jobs[Priority.LLM] == 0


class _Engine:
    remote = True


async def test_a_remote_engine_waits_beside_the_cores_queue(scheduler: Scheduler) -> None:
    gate = threading.Event()
    long_job = asyncio.create_task(scheduler.run(Priority.RECOGNITION, gate.wait, 5))
    await asyncio.sleep(0.05)  # the cores' lane is held
    engine = scheduler.run_for(_Engine(), Priority.FIRST_AUDIO, threading.current_thread)
    thread = await asyncio.wait_for(engine, 1)
    assert thread.name.startswith("test-engine")
    local = asyncio.create_task(
        scheduler.run_for(object(), Priority.FIRST_AUDIO, threading.current_thread)
    )
    await asyncio.sleep(0.05)
    assert not local.done(), "a model here waits its turn in the queue"
    gate.set()
    assert (await local).name == "test" and await long_job


async def test_a_cancelled_engine_call_is_waited_for(scheduler: Scheduler) -> None:
    finished = threading.Event()

    def request() -> None:
        time.sleep(0.2)
        finished.set()

    call = asyncio.create_task(scheduler.run_for(_Engine(), Priority.SYNTHESIS, request))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert finished.is_set(), "the cancelled call ended only once its thread was done"


async def test_the_error_of_a_job_whose_caller_left_is_not_reported_as_lost(
    scheduler: Scheduler,
) -> None:
    """A running job's caller is cancelled twice (an answer interrupted, then its
    session closed), then the job fails: the error goes with the caller, and asyncio
    reports no exception that was never retrieved."""
    reported: list[object] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda _, context: reported.append(context.get("message"))
    )
    started = threading.Event()

    def failing() -> None:
        started.set()
        time.sleep(0.2)
        raise ValueError("the prompt does not fit")

    task = asyncio.create_task(scheduler.run(Priority.FIRST_TOKENS, failing))
    await asyncio.to_thread(started.wait)
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.wait([task])  # (no traceback kept: it would keep the job's future alive)
    assert task.cancelled()
    del task
    await asyncio.sleep(0.4)  # the job has failed by now
    await scheduler.run(Priority.FIRST_TOKENS, lambda: None)  # the worker lets it go
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []
