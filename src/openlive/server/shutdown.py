"""The server's side of session resumption: stopping gracefully, and purging old state.

`drain` is what SIGTERM and SIGINT start, before the listeners close:

1. new sessions are refused (1011 "The service is currently unavailable.", and
   `/healthz` answers 503 so that a load balancer stops sending clients);
2. every open session is sent `goAway` with `timeLeft` = the grace period;
3. a turn in progress may finish within the grace period;
4. each session stores a final snapshot (when it asked for resumption) and closes with
   1012. The client resumes with its last handle on the restarted server.

`purge_expired` runs for the server's life and removes what the store no longer needs:
handles past their expiry (they are refused from that moment anyway) and tokens a day
past theirs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..pipeline.outbox import FLUSH_TIMEOUT
from ..pipeline.runner import SessionRunner
from .app import AppState
from .store import TOKEN_RETENTION, Store

__all__ = ["PURGE_EVERY", "drain", "purge_expired"]

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0
"""Seconds between two purges of the store."""


async def drain(state: AppState, grace: float) -> None:
    """Stop accepting sessions, then end every open one within `grace` seconds (plus
    the time to flush and close)."""
    state.accepting = False
    runners = [s for s in state.sessions if isinstance(s, SessionRunner)]
    if runners:
        log.info("stopping: %d session(s) have %g s to finish", len(runners), grace)
    for runner in runners:
        runner.stop(grace)
    try:
        async with asyncio.timeout(grace + FLUSH_TIMEOUT + 1.0):
            # The sessions leave `state.sessions` as their handlers return.
            while any(r in state.sessions for r in runners):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        log.warning("stopping: sessions still open after the grace period")


async def purge_expired(
    store: Store, clock: Callable[[], float], every: float = PURGE_EVERY
) -> None:
    """Purge the store now and every `every` seconds, until cancelled."""
    while True:
        try:
            removed = await store.purge(clock() - TOKEN_RETENTION)
            if removed:
                log.info("purged %d expired token(s) and handle(s)", removed)
        except Exception:
            log.exception("purging the store failed")
        await asyncio.sleep(every)
