"""One Live session, from its first frame to its close.

`SessionRunner.run` owns every task of the session in one task group:

- the reader decodes client frames, feeds them to the protocol core (`LiveSession`)
  and hands the events it returns to the parts that act on them;
- the writer drains the bounded outbox to the socket (its bound is what slows a
  generation down when the client reads slowly);
- the lifetime ends the connection at its time limit or when the server stops;
- once the setup is accepted, the responder answers user turns one at a time
  (`responder.py`), and the listener turns audio into spoken turns (`listener.py`).

When the client goes away, or a `LiveError` ends the session, the group cancels what is
left and waits for it; then the socket is closed with the error's code and reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from ..backends.registry import Backends
from ..protocol.errors import ConnectionDeadline, InternalError, InvalidArgument, LiveError
from ..protocol.events import (
    ActivityEnded,
    ActivityStarted,
    AudioReceived,
    AudioStreamEnded,
    ContentAppended,
    ContextUpdated,
    Event,
    SetupRequested,
    TextReceived,
    ToolResponsesReceived,
    VideoReceived,
)
from ..protocol.messages import FunctionResponse, Scheduling, Setup
from ..protocol.resumption import resumed_setup
from ..protocol.session import LiveSession
from ..protocol.tokens import SessionGuard
from ..protocol.turn import Input
from .context import ChatContext
from .decoding import Decoder
from .input_rate import InputRate
from .lifetime import ConnectionLimits, Lifetime
from .listener import ListenerEvent
from .outbox import ClientGone, Outbox, Transport
from .parts import Voice, equip
from .plan import SessionPlan, plan_session
from .replica import replicate
from .responder import Responder
from .resumption import Resumption, ResumptionSettings, restore, snapshot_of
from .tools import PendingCalls, result_media, scheduling

__all__ = ["SessionRunner"]

log = logging.getLogger(__name__)

RESULTS = {Scheduling.SILENT: Input.SILENT_RESULT, Scheduling.INTERRUPT: Input.INTERRUPTING_RESULT}
"""The input a NON_BLOCKING function's result is, by its scheduling (else WHEN_IDLE)."""


class SessionRunner:
    def __init__(
        self,
        transport: Transport,
        backends: Backends,
        voice: Voice | None = None,
        guard: SessionGuard | None = None,
        resumption: ResumptionSettings | None = None,
        limits: ConnectionLimits | None = None,
        rate: InputRate | None = None,
        api_version: str = "v1beta",
        owner: str = "",
        session_id: str | None = None,
        tenant: str = "",
    ) -> None:
        """`api_version`: the one in the connection's path (v1, v1beta or v1alpha);
        `owner`: a fingerprint of the credential the session was opened with (its
        resumption handles are bound to it); `rate`: the buckets its input is charged
        to (else full ones of `limits.rate`); `session_id`: the id of a new session
        (`setupComplete.sessionId`; a random UUID by default). A resumed session keeps
        the id of the session it resumes; `tenant`: whose share of the shared models it
        uses (the key it is counted against; empty: a share of its own)."""
        self._tenant = tenant
        self._transport = transport
        self._api_version = api_version
        self._backends = backends
        self._voice = voice
        self._guard = guard
        """Set for a session on an ephemeral token: it applies the token's locks."""
        self._session = LiveSession()
        self._session_id = session_id or str(uuid.uuid4())
        self._outbox = Outbox(transport)
        self._context = ChatContext()
        self._calls = PendingCalls()
        self._responder: Responder | None = None  # what answers, once the setup is done
        self._tasks: asyncio.TaskGroup | None = None
        self._resumption = Resumption(resumption, self._outbox.put, owner)
        self._idle = asyncio.Event()  # set while no answer runs or waits to run
        self._idle.set()
        limits = limits or ConnectionLimits(None, session=None, video_session=None)
        self._lifetime = Lifetime(limits, self._outbox.put, self._idle, self._save)
        self._decoder = Decoder(rate or InputRate(limits.rate, time.monotonic()))

    def stop(self, grace: float) -> None:
        """The server is stopping: `goAway`, let a turn in progress finish within
        `grace` seconds, save what can be resumed, close with 1012."""
        self._lifetime.stop(grace)

    @property
    def plan(self) -> SessionPlan:
        """What the session does (once its setup is done)."""
        return self._answers.parts.plan

    @property
    def _answers(self) -> Responder:
        assert self._responder is not None, "the session has no setup yet"
        return self._responder

    async def run(self) -> None:
        """Serve the session until the client leaves or an error closes it."""
        error: LiveError | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                tasks.create_task(self._outbox.run(), name="writer")
                tasks.create_task(self._lifetime.run(), name="lifetime")
                await self._read()
        except* ClientGone:
            pass
        except* LiveError as group:
            first = _first(group)
            assert isinstance(first, LiveError)
            error = first
        except* Exception as group:
            log.exception("session failed", exc_info=_first(group))
            error = InternalError()
        finally:
            self._session.close()
            if self._responder is not None:
                await self._responder.parts.conversation.aclose()
            await self._resumption.ended()
        if error is not None:
            detail = str(error)  # an engine or store that is down says which, and why
            log.info(
                "closing session: %d %s%s", error.code, error.reason,
                f" ({detail})" * (detail != error.reason),
            )  # fmt: skip
            await self._outbox.flush()
            await self._transport.close(error.code, error.reason)

    # --- tasks -----------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async with asyncio.timeout(self._lifetime.setup_timeout):
                frame = await self._transport.receive()
        except TimeoutError:  # as the hosted service ends what runs out of time
            raise ConnectionDeadline() from None
        while True:
            if frame is None:
                raise ClientGone
            message = await self._decoder.decode(frame)  # waits while over the byte rate
            for event in self._session.receive(message):
                await self._handle(event)
            frame = await self._transport.receive()

    async def _checkpoint(self) -> None:
        """Send a new resumption handle if the session asked for them and no call
        holds a turn open."""
        setup = self._resumption.setup
        if setup is None or self._calls.blocking_ids:
            return
        snapshot = snapshot_of(
            setup,
            self._context.turns,
            self._calls.snapshot(),
            self._session.client_message_index,
            elapsed=self._lifetime.elapsed,
            video=self._lifetime.video_seen,
            session_id=self._session_id,
        )
        await self._resumption.checkpoint(snapshot)

    async def _save(self) -> None:
        """Before the server ends the connection: stop an answer in progress (the
        history keeps what was sent), then store what can be resumed."""
        if self._responder is not None:
            await self._responder.take(Input.GOING_AWAY)
        await self._checkpoint()

    # --- events ------------------------------------------------------------------------

    async def _handle(self, event: Event) -> None:
        if self._guard is not None and isinstance(event, ContextUpdated):
            event = self._guard.context_update(event)
        if isinstance(event, SetupRequested):
            await self._setup(event.setup)
            return
        answers = self._answers
        parts = answers.parts
        match event:
            case ContentAppended(turns, turn_complete):
                messages = self._context.messages_of(turns, parts.frames.images_of(turns))
                kind = Input.CONTENT_TURN if turn_complete else Input.CONTENT
                await answers.take(kind, *messages)
                if not turn_complete and answers.turns.idle:
                    await self._checkpoint()  # seeded history is resumable at once
            case TextReceived(text) if text:
                await answers.user_text(Input.TEXT, text)
            case TextReceived():
                await answers.take(Input.TEXT)  # nothing to answer; it may interrupt
            case AudioReceived(blob):
                if parts.listener is None:
                    raise InvalidArgument("Audio input is not available on this server.")
                parts.listener.feed(blob)
            case VideoReceived(blob):
                parts.frames.video(blob)
                self._lifetime.saw_video()
            case AudioStreamEnded():
                if parts.listener is not None:
                    parts.listener.audio_stream_end()
            case ActivityStarted():
                parts.frames.activity_started()
                await answers.take(Input.SPEECH_STARTED)
                if parts.listener is not None:
                    parts.listener.activity_start()
            case ActivityEnded():
                await answers.take(Input.SPEECH_ENDED)
                if parts.listener is not None:
                    parts.listener.activity_end()
            case ToolResponsesReceived(responses):
                for response in responses:
                    await self._function_response(response)
            case ContextUpdated(system_instruction, tools):
                self._resumption.context_updated(system_instruction, tools)
                if system_instruction is not None:
                    self._context.system_instruction = system_instruction.text
                if tools is not None:
                    parts.plan = parts.plan.with_tools(tools)
                if answers.turns.idle:
                    await self._checkpoint()

    async def _function_response(self, response: FunctionResponse) -> None:
        media = result_media(response, self._answers.parts.frames.image)
        taken = self._calls.answer(response, media)
        if taken is None:
            return  # a late answer to a call cancelled or finished
        if taken.blocking:
            return  # the model turn waiting for it takes it
        kind = RESULTS.get(scheduling(response), Input.IDLE_RESULT)
        result = () if taken.result is None else (self._context.result(taken.result),)
        await self._answers.take(kind, *result)

    async def _setup(self, setup: Setup) -> None:
        if self._guard is not None:
            setup = await self._guard.setup(setup)
        handle = setup.session_resumption.handle if setup.session_resumption else None
        snapshot = await self._resumption.load(handle) if handle else None
        if snapshot is not None:
            setup = resumed_setup(snapshot.setup, setup)
        plan = plan_session(
            setup, self._backends.catalogue, self._api_version, can_speak=self._voice is not None
        )
        if self._voice is not None:
            plan = await replicate(plan, self._voice)  # a voice from a sample, if any
        self._responder = responder = Responder(
            self._session,
            equip(plan, self._backends, self._voice, self._heard, self._tenant),
            self._context,
            self._calls,
            self._outbox.put,
            self._voice,
            idle=self._idle,
            checkpoint=self._checkpoint,
            busy=self._resumption.busy,
        )
        assert self._tasks is not None
        self._tasks.create_task(responder.run(), name="responder")
        if responder.parts.listener is not None:
            self._tasks.create_task(responder.parts.listener.run(), name="listener")
        self._context.system_instruction = plan.config.system_instruction
        if snapshot is not None:
            self._context.turns, pending = restore(snapshot)
            self._calls.restore(pending)
            self._lifetime.resumed(snapshot.elapsed)
            self._session_id = snapshot.session_id or self._session_id
        if responder.parts.window is None:  # without compression, sessions are limited
            self._lifetime.uncompressed()
        if snapshot is not None and snapshot.video:
            self._lifetime.saw_video()
        self._resumption.start(setup)
        resumed = snapshot is not None
        await self._outbox.put(
            self._session.complete_setup(plan.config, self._session_id, resumed=resumed)
        )
        await self._checkpoint()

    async def _heard(self, event: ListenerEvent) -> None:
        await self._answers.heard(event)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
