"""The ASGI application: the Live WebSocket endpoint, the models resource, ephemeral
tokens, health, and the playground page.

The same app serves both listeners (plain and TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..backends.registry import Backends
from ..pipeline.input_rate import UNLIMITED, InputRate, RateBook
from ..pipeline.lifetime import ConnectionLimits
from ..pipeline.outbox import ClientGone
from ..pipeline.parts import Voice
from ..pipeline.resumption import ResumptionSettings
from ..pipeline.runner import SessionRunner
from ..protocol.errors import (
    CAPACITY_REASON,
    InvalidArgument,
    LiveError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TokenExpiredInSession,
    Unavailable,
)
from .admission import Admission
from .audio_api import audio_routes
from .auth import (
    INVALID_REASON,
    Credential,
    KeyChecker,
    find_credential,
    find_token,
    key_fingerprint,
)
from .metrics import render
from .origins import OriginPolicy
from .playground import playground_routes
from .routes import LiveRoute, match_auth_tokens, match_live, match_models
from .tokens import Tokens, TokenSession

__all__ = ["AppState", "create_app"]

log = logging.getLogger(__name__)

_REFUSAL_WAIT = 5.0
"""Seconds a refused client has to send its first message before the close."""


@dataclass(slots=True)
class AppState:
    backends: Backends
    keys: KeyChecker
    tokens: Tokens
    voice: Voice | None = None
    resumption: ResumptionSettings | None = None
    """Where resumption handles are kept; None: sessions cannot be resumed."""
    limits: ConnectionLimits | None = None
    admission: Admission = field(default_factory=lambda: Admission(None))
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    """Which web pages may open sessions, besides the server's own."""
    accepting: bool = True
    sessions: set[object] = field(default_factory=set)
    sessions_started: int = 0
    close_codes: Counter[int] = field(default_factory=Counter)
    engine_requests: Counter[str] = field(default_factory=Counter)
    """Requests answered on the audio API, by route ("transcriptions", "speech")."""


class _StarletteTransport:
    def __init__(
        self, websocket: WebSocket, state: AppState, gone: Callable[[], None] = lambda: None
    ) -> None:
        """`gone` is called when the client disconnects (the session then only winds
        down: its admission slot can go back at once)."""
        self._ws = websocket
        self._state = state
        self._gone = gone

    async def receive(self) -> str | bytes | None:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            self._gone()
            return None
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        try:
            await self._ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise ClientGone from exc

    async def close(self, code: int, reason: str) -> None:
        self._state.close_codes[code] += 1
        if self._ws.application_state is WebSocketState.DISCONNECTED:
            return
        try:
            await self._ws.close(code, reason)
        except (RuntimeError, OSError):
            pass  # the client left first


def create_app(state: AppState) -> Starlette:
    # The input buckets of ended connections, by key, for the key's next connections.
    rates = RateBook(state.limits.rate if state.limits is not None else UNLIMITED)

    async def healthz(request: Request) -> Response:
        admission = state.admission
        status = "draining" if not state.accepting else "full" if admission.full else "ok"
        body = {"status": status, "sessions": admission.held, "capacity": admission.capacity}
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    async def metrics(request: Request) -> Response:
        return Response(render(state), media_type=CONTENT_TYPE_LATEST)

    def refuse(credential: Credential | None) -> Response | None:
        """The REST answer to a credential that does not pass, else None."""
        try:
            state.keys.check(credential)
        except PermissionDenied as exc:
            if exc.reason == INVALID_REASON:
                return _rest_error(400, "INVALID_ARGUMENT", exc.reason)
            return _rest_error(403, "PERMISSION_DENIED", exc.reason)
        return None

    async def create_token(request: Request) -> Response:
        credential = find_credential(request.headers, request.query_params)
        if (refusal := refuse(credential)) is not None:
            return refusal
        assert credential is not None
        try:
            # The Python SDK sends no body at all for a request with no fields.
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _rest_error(
                400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token."
            )
        try:
            name = await state.tokens.create(body, credential.value)
        except InvalidArgument as exc:
            return _rest_error(400, "INVALID_ARGUMENT", exc.reason)
        except Unavailable as exc:  # the state store is down: retry later
            return _rest_error(503, "UNAVAILABLE", exc.reason)
        return JSONResponse({"name": name})

    async def rest(request: Request) -> Response:
        if request.method == "POST" and match_auth_tokens(request.url.path):
            return await create_token(request)
        route = match_models(request.url.path)
        if route is None or request.method != "GET":
            return _rest_error(404, "NOT_FOUND", f"Method not found: {request.url.path}")
        if (refusal := refuse(find_credential(request.headers, request.query_params))) is not None:
            return refusal
        catalogue = state.backends.catalogue
        if route.name is not None:
            try:
                return JSONResponse(catalogue.lookup(route.name).to_rest())
            except NotFound:
                return _rest_error(
                    404,
                    "NOT_FOUND",
                    f"models/{route.name} is not found for API version {route.version}.",
                )
        entries = [entry.to_rest() for entry in catalogue]
        try:
            size = max(1, min(1000, int(request.query_params.get("pageSize", 50))))
            start = int(request.query_params.get("pageToken") or 0)
            if start < 0:
                raise ValueError(start)
        except ValueError:
            return _rest_error(400, "INVALID_ARGUMENT", "Invalid pageSize or pageToken.")
        body: dict[str, object] = {"models": entries[start : start + size]}
        if start + size < len(entries):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    async def admit(route: LiveRoute, websocket: WebSocket) -> tuple[TokenSession | None, str]:
        """Check the credentials: a token's session on `...Constrained`, else None for
        a key; and the credential's fingerprint, which the session's resumption handles
        are bound to. Raises the `LiveError` to close with."""
        token = find_token(websocket.headers, websocket.query_params)
        if route.constrained and token is not None:
            return await state.tokens.admit(token), key_fingerprint(token)
        credential = find_credential(websocket.headers, websocket.query_params)
        state.keys.check(credential)
        return None, key_fingerprint(credential.value if credential else "")

    async def live(websocket: WebSocket) -> None:
        route = match_live(websocket.url.path)
        if route is None:
            await websocket.send_denial_response(PlainTextResponse("Not Found", 404))
            return
        refusal = state.origins.refusal(websocket.headers, websocket.url.scheme == "wss")
        if refusal is not None:  # a web page of another site: refused before any work
            await websocket.send_denial_response(PlainTextResponse(refusal, 403))
            return
        await websocket.accept()
        held = False
        key: str | None = None  # once the session counts against its key's limit

        def give_back() -> None:  # once, at the first of: refusal, disconnect, the end
            nonlocal held, key
            if key is not None:
                state.admission.give_back_for(key)
                key = None
            if held:
                held = False
                state.admission.give_back()

        transport = _StarletteTransport(websocket, state, give_back)
        if not state.accepting:
            error = Unavailable()
            await transport.close(error.code, error.reason)
            return
        if not state.admission.take():  # before any await: no two connections race past
            await refuse_session(transport, ResourceExhausted(CAPACITY_REASON))
            return
        held = True
        try:
            guard, owner = await admit(route, websocket)
        except LiveError as exc:
            give_back()  # a refused client holds no slot while it waits
            await refuse_session(transport, exc)
            return
        counted = guard.creator if guard is not None else owner  # a token's, its maker's
        if not state.admission.take_for(counted):  # this key holds its share of the node
            give_back()
            await refuse_session(transport, ResourceExhausted(CAPACITY_REASON))
            return
        key = counted
        rate = rates.take(counted, time.monotonic())
        try:
            # Sessions share the models' time by key; keyless ones each have a share.
            tenant = "" if counted == key_fingerprint("") else counted
            await run_session(route, guard, owner, transport, rate, tenant)
        finally:
            give_back()
            rates.give_back(counted, rate)  # for the key's next connection

    async def refuse_session(transport: _StarletteTransport, error: LiveError) -> None:
        """Close in answer to the first message, as the hosted service does: the Python
        SDK sends `setup` at once and reports a close only after it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_REFUSAL_WAIT):
                await transport.receive()
        await transport.close(error.code, error.reason)

    async def run_session(
        route: LiveRoute,
        guard: TokenSession | None,
        owner: str,
        transport: _StarletteTransport,
        rate: InputRate | None = None,
        tenant: str = "",
    ) -> None:
        runner = SessionRunner(
            transport,
            state.backends,
            state.voice,
            guard=guard,
            api_version=route.version,
            resumption=state.resumption,
            limits=state.limits,
            rate=rate,
            owner=owner,
            tenant=tenant,
        )
        state.sessions.add(runner)
        state.sessions_started += 1
        try:
            if guard is None:
                await runner.run()
            else:
                # A token's session ends at the token's expireTime, as on the hosted service.
                try:
                    async with asyncio.timeout(guard.expire_time - state.tokens.clock()):
                        await runner.run()
                except TimeoutError:
                    expired = TokenExpiredInSession()
                    await transport.close(expired.code, expired.reason)
        finally:
            state.sessions.discard(runner)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            *playground_routes(state.backends.catalogue, refuse),
            *audio_routes(state.voice, refuse, state.engine_requests),
            Route("/{path:path}", rest, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            WebSocketRoute("/{path:path}", live),
        ]
    )


def _rest_error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )
