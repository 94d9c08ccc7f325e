"""A part of a session run as a task for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


@contextlib.asynccontextmanager
async def running(run: Callable[[], Awaitable[Any]], scheduler: Any) -> AsyncIterator[None]:
    """`run()` as a task for the body; then cancelled, waited for, and `scheduler`
    closed."""
    task = asyncio.ensure_future(run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        scheduler.close()
