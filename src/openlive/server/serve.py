"""Running the server: load the models, warm them up, then listen in plain HTTP and in TLS.

Both listeners are uvicorn servers in one event loop, sharing one app and one set of
models. SIGINT and SIGTERM stop both: first every session is sent `goAway` and given
`shutdown_grace` seconds to finish its turn and save its state (`shutdown.drain`);
a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from ..backends.catalogue import Catalogue
from ..backends.registry import Backends, load_voice
from ..backends.scheduler import Scheduler
from ..config import ServerConfig
from ..pipeline.input_rate import RateSettings
from ..pipeline.lifetime import ConnectionLimits
from ..pipeline.parts import Voice
from ..pipeline.resumption import ResumptionSettings
from ..pipeline.warmup import warm_up
from .admission import Admission
from .app import AppState, create_app
from .auth import KeyChecker
from .origins import OriginPolicy
from .shutdown import drain, purge_expired
from .store import Store, open_store
from .tls import TLSFiles, ensure_tls_files
from .tokens import Tokens

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(config: ServerConfig) -> None:
    store = await open_store(config.state_url, config.data_dir)  # first: fail fast
    try:
        await _serve(config, store)
    finally:
        await store.close()


async def _serve(config: ServerConfig, store: Store) -> None:
    catalogue = Catalogue(config.llm, config.models, [v.name for v in config.voices])
    scheduler = Scheduler()  # every embedded model's work, by priority, on one thread
    backends = Backends(catalogue, scheduler=scheduler, models_dir=config.data_dir / "models")
    voice_models, _ = await asyncio.gather(
        asyncio.to_thread(
            load_voice,
            config.data_dir,
            config.voices,
            config.whisper,
            [entry.recognizer for entry in catalogue if entry.recognizer is not None],
            [entry.speech for entry in catalogue if entry.speech is not None],
            config.learned_end_of_turn,
        ),
        backends.start(),
    )
    voice = Voice(
        voice_models,
        scheduler,
        speculate=config.speculative_recognition,
        speculate_answers=config.speculative_recognition and config.speculative_answers,
    )
    if config.warm_up:
        await warm_up(backends, voice)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    keys = KeyChecker(config.api_keys)
    state = AppState(
        backends=backends,
        keys=keys,
        tokens=Tokens(store, creator_valid=keys.made_by_a_key),
        voice=voice,
        resumption=ResumptionSettings(store, ttl=config.resumption_ttl),
        admission=Admission(config.max_sessions, config.max_sessions_per_key),
        origins=OriginPolicy.of(config.allowed_origins),
        limits=ConnectionLimits(
            config.connection_limit,
            config.go_away_before,
            session=config.session_limit,
            video_session=config.video_session_limit,
            setup=config.setup_timeout,
            rate=RateSettings(
                config.max_messages_per_second,
                config.max_input_bytes_per_second,
                burst_bytes=config.max_message_bytes,
            ),
        ),
    )
    app = create_app(state)
    servers = [_listener(app, config, config.port)]
    urls = [f"http://{config.host}:{config.port}"]
    if config.tls_port is not None:
        tls = ensure_tls_files(config.data_dir, (config.host,))
        servers.append(_listener(app, config, config.tls_port, tls))
        urls.append(f"https://{config.host}:{config.tls_port}")

    loop = asyncio.get_running_loop()

    def stop() -> None:
        state.accepting = False
        for server in servers:
            server.should_exit = True

    draining: list[asyncio.Task[None]] = []

    def stop_gracefully() -> None:
        """First signal: goAway to every session, then stop; a second one stops now."""
        if draining:
            stop()
            return
        task = loop.create_task(drain(state, config.shutdown_grace), name="drain")
        task.add_done_callback(lambda _: stop())
        draining.append(task)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_gracefully)
    purging = loop.create_task(purge_expired(store, time.time), name="purge")
    try:
        tasks = [
            asyncio.create_task(s.serve(), name=f"listener-{i}") for i, s in enumerate(servers)
        ]
        # uvicorn has a `started` flag but no event to wait on
        while not all(s.started for s in servers) and not any(t.done() for t in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if all(s.started for s in servers):
            print(f"OpenLive ready on {' and '.join(urls)}", flush=True)
        else:
            stop()
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for task in (purging, *draining):
            task.cancel()
        await asyncio.gather(purging, *draining, return_exceptions=True)
        await backends.aclose()
        voice.scheduler.close()


def _listener(
    app: ASGIApp, config: ServerConfig, port: int, tls: TLSFiles | None = None
) -> _Server:
    return _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=port,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=config.max_message_bytes,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
