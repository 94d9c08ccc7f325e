"""One Live session, from its first frame to its close.

`SessionRunner.run` owns every task of the session in one task group:

- the reader decodes client frames, feeds them to the protocol core and acts on the
  events it returns;
- the writer drains the bounded outbox to the socket (its bound is what slows a
  generation down when the client reads slowly);
- the responder answers user turns one at a time, each in a task of its own that an
  interruption cancels.

When the client goes away, or a `LiveError` ends the session, the group cancels what is
left and waits for it; then the socket is closed with the error's code and reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from ..backends.base import (
    ChatMessage,
    ContextOverflow,
    Conversation,
    FunctionSpec,
    LLMError,
)
from ..backends.registry import Backends, VoiceModels
from ..backends.scheduler import Scheduler
from ..backends.vad_batch import VADBatcher
from ..protocol import codec
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
from ..protocol.messages import (
    FunctionResponse,
    Scheduling,
    ServerMessage,
    Setup,
)
from ..protocol.resumption import resumed_setup
from ..protocol.session import LiveSession
from ..protocol.tokens import SessionGuard
from .affect import AffectTracker, Mood, delivery, instruction
from .compression import SlidingWindow
from .context import ChatContext
from .lifetime import ConnectionLimits, Lifetime
from .listener import Listener, ListenerEvent, UserSpeaking, UserSpoke, VoiceStarted
from .plan import SessionPlan, plan_session
from .proactive import decide
from .response import TextResponse
from .resumption import Resumption, ResumptionSettings, restore, snapshot_of
from .speech import SpeechResponse
from .timing import TurnTiming, VoiceStats
from .tools import PendingCalls, scheduling, wire_calls
from .turns import TurnDetector
from .vision import Frames

__all__ = ["FLUSH_TIMEOUT", "OUTBOX_SIZE", "ClientGone", "SessionRunner", "Transport"]

log = logging.getLogger(__name__)

OUTBOX_SIZE = 64
"""Server messages waiting for the socket. Small on purpose: a full outbox makes the
response wait, so a slow client slows its own answer instead of filling memory. (A
backend that shares one model between sessions, like the embedded one, does not hold
the model for a slow reader: it finishes the reply into a buffer bounded by
maxOutputTokens.)"""

FLUSH_TIMEOUT = 2.0
"""Seconds given to sending what is queued before an error closes the session."""

MAX_CALL_ROUNDS = 4
"""Rounds of function calls one model turn may make before it must answer in words."""


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next client frame, or None once the client has gone."""

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class ClientGone(Exception):
    """The client closed the connection; ends the session quietly."""


@dataclass(frozen=True, slots=True)
class Voice:
    """The voice models and the scheduler they run on; None where there is no voice."""

    models: VoiceModels
    scheduler: Scheduler
    speculate: bool = True
    """Transcribe during pauses, before the end of the turn is certain."""
    stats: VoiceStats = field(default_factory=VoiceStats)
    vad: VADBatcher = field(init=False)
    """Every session's voice activity, scored in batches."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "vad", VADBatcher(self.models.vad, self.scheduler))


class SessionRunner:
    def __init__(
        self,
        transport: Transport,
        backends: Backends,
        voice: Voice | None = None,
        guard: SessionGuard | None = None,
        resumption: ResumptionSettings | None = None,
        limits: ConnectionLimits | None = None,
        api_version: str = "v1beta",
        owner: str = "",
    ) -> None:
        """`api_version`: the one in the connection's path (v1, v1beta or v1alpha);
        `owner`: a fingerprint of the credential the session was opened with (its
        resumption handles are bound to it)."""
        self._transport = transport
        self._api_version = api_version
        self._plan: SessionPlan | None = None
        """What the session does, resolved from its setup; None before it."""
        self._affect: AffectTracker | None = None
        """The user's vocal baseline, with affective dialog."""
        self._mood: Mood | None = None
        """How the user sounded in the turn being answered (affective dialog)."""
        self._frames = Frames(can_see=False, model="")
        self._guard = guard
        """Set for a session on an ephemeral token: it applies the token's locks."""
        self._backends = backends
        self._voice = voice
        self._listener: Listener | None = None
        self._voice_models: VoiceModels | None = None
        """The voice stack of the session's model (its own recognizer or engines)."""
        self._session = LiveSession()
        self._outbox: asyncio.Queue[ServerMessage] = asyncio.Queue(OUTBOX_SIZE)
        self._context = ChatContext()
        self._conversation: Conversation | None = None
        self._answer_pending = False
        self._held: list[ChatMessage] = []
        """Input that arrived during an answer it did not interrupt (user text, results
        of NON_BLOCKING calls): added to the history once the answer ends."""
        self._window: SlidingWindow | None = None
        """`contextWindowCompression`: the history's oldest turns make room for new ones."""
        self._calls = PendingCalls()
        self._timing: TurnTiming | None = None
        """The spoken turn the next answer answers."""
        self._wake = asyncio.Event()
        self._response_task: asyncio.Task[LLMError | None] | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._idle = asyncio.Event()
        """Set while no model turn runs or waits to run."""
        self._idle.set()
        self._resumption = Resumption(resumption, self._outbox.put, owner)
        self._limits = limits or ConnectionLimits(None, session=None, video_session=None)
        self._lifetime = Lifetime(self._limits, self._outbox.put, self._idle, self._save)
        self._video_seen = False
        """Whether the session has been sent video: without compression, it then ends
        sooner."""

    def stop(self, grace: float) -> None:
        """The server is stopping: `goAway`, let a turn in progress finish within
        `grace` seconds, save what can be resumed, close with 1012."""
        self._lifetime.stop(grace)

    @property
    def plan(self) -> SessionPlan:
        """What the session does (once its setup is done)."""
        assert self._plan is not None, "the session has no setup yet"
        return self._plan

    async def run(self) -> None:
        """Serve the session until the client leaves or an error closes it."""
        error: LiveError | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                tasks.create_task(self._write(), name="writer")
                tasks.create_task(self._respond(), name="responder")
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
            if self._conversation is not None:
                await self._conversation.aclose()
            await self._resumption.ended()
        if error is not None:
            detail = str(error)  # an engine or store that is down says which, and why
            log.info(
                "closing session: %d %s%s", error.code, error.reason,
                f" ({detail})" * (detail != error.reason),
            )  # fmt: skip
            await self._flush()
            await self._transport.close(error.code, error.reason)

    async def _flush(self) -> None:
        """Send what the outbox still holds, so that nothing before the error is lost."""
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                while not self._outbox.empty():
                    await self._transport.send(codec.encode(self._outbox.get_nowait()))
        except (TimeoutError, ClientGone):
            pass

    # --- tasks -----------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async with asyncio.timeout(self._limits.setup):
                frame = await self._transport.receive()
        except TimeoutError:  # as the hosted service ends what runs out of time
            raise ConnectionDeadline() from None
        while True:
            if frame is None:
                raise ClientGone
            message = codec.decode(frame)
            for event in self._session.receive(message):
                await self._handle(event)
            frame = await self._transport.receive()

    async def _write(self) -> None:
        while True:
            message = await self._outbox.get()
            await self._transport.send(codec.encode(message))

    async def _respond(self) -> None:
        assert self._tasks is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._answer_pending:
                self._answer_pending = False
                self._idle.clear()
                await self._resumption.busy()
                task = self._tasks.create_task(self._model_turn(), name="model-turn")
                self._response_task = task
                await asyncio.wait([task])
                self._response_task = None
                for message in self._held:
                    self._context.append(message)
                self._held.clear()
                if task.cancelled() or task.exception() is not None:
                    continue  # interrupted, or failed (the task group has the error)
                error = task.result()
                if isinstance(error, ContextOverflow):
                    raise InvalidArgument(str(error)) from error
                if error is not None:
                    log.error("LLM failed: %s", error)
                    raise InternalError() from error
            await self._checkpoint()
            self._idle.set()

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
            video=self._video_seen,
        )
        await self._resumption.checkpoint(snapshot)

    def _saw_video(self) -> None:
        self._video_seen = True
        if self._window is None and self._conversation is not None:
            self._lifetime.limit_session(self._limits.video_session)

    async def _save(self) -> None:
        """Before the server ends the connection: stop an answer in progress (the
        history keeps what was sent), then store what can be resumed."""
        await self._interrupt()
        await self._checkpoint()

    async def _model_turn(self) -> LLMError | None:
        """One model turn: the answer, and the rounds of function calls on its way.

        The history keeps what the client was sent, even when the turn is cancelled.
        BLOCKING calls hold the turn open until the client answers them; NON_BLOCKING
        calls end it, and their results come back as input of their own."""
        timing, self._timing = self._timing, None
        try:
            for round in range(MAX_CALL_ROUNDS + 1):
                functions = self.plan.functions.specs if round < MAX_CALL_ROUNDS else ()
                if self._window is not None:
                    await self._window.slide(self._context.turns)
                response = self._response(timing, functions)
                try:
                    await response.run()
                finally:
                    self._context.append_model(response.text)
                if self._window is not None and response.usage is not None:
                    self._window.observe(response.usage, self._context.turns)
                if response.error is not None or not response.calls:
                    return response.error
                calls = self._calls.issue(response.calls, self.plan.functions)
                self._context.append_calls(calls)
                await self._outbox.put(self._session.tool_call(wire_calls(calls)))
                waiting = [c.id for c in calls if c.name in self.plan.functions.blocking]
                if not waiting:
                    await self._outbox.put(self._session.turn_complete())
                    return None
                for result in await self._calls.wait(waiting):
                    self._context.append(self._context.result(result))
            return None
        finally:
            if timing is not None and self._voice is not None:
                self._voice.stats.record(timing)

    def _response(
        self, timing: TurnTiming | None, functions: tuple[FunctionSpec, ...]
    ) -> TextResponse | SpeechResponse:
        assert self._conversation is not None
        context = self._context
        if note := instruction(self._mood):  # affective dialog: this answer only
            system = f"{context.system_instruction}\n\n{note}".strip()
            context = ChatContext(system, context.turns)
        plan = self.plan
        if not plan.speak:
            return TextResponse(
                self._session,
                self._conversation,
                context,
                plan.sampling,
                self._outbox.put,
                functions,
                thoughts=plan.features.include_thoughts,
            )
        assert self._voice is not None and self._voice_models is not None
        return SpeechResponse(
            self._session,
            self._conversation,
            context,
            plan.sampling,
            self._outbox.put,
            self._voice_models.tts,
            self._voice.scheduler,
            transcribe=plan.transcribe_output,
            timing=timing,
            functions=functions,
            thoughts=plan.features.include_thoughts,
            voice=plan.voice,
            language=plan.language.code if plan.language else None,
            delivery=delivery(self._mood),
        )

    async def _heard(self, event: ListenerEvent) -> None:
        """What the listener reports: the user began to speak, or finished a turn."""
        match event:
            case VoiceStarted():
                if self.plan.listening.interrupts:
                    await self._interrupt()
            case UserSpeaking(text):
                if self.plan.listening.transcribe:
                    await self._outbox.put(self._session.interim_input_transcription(text))
            case UserSpoke(transcript, _, timing, prosody):
                if self.plan.listening.transcribe:
                    await self._outbox.put(self._session.input_transcription(transcript.text))
                if self.plan.features.proactive_audio and not self._for_me(transcript.text):
                    await self._outbox.put(self._session.turn_complete())
                    return
                mood = self._affect.observe(prosody) if self._affect and prosody else None
                await self._user_text(transcript.text, timing, mood)

    def _for_me(self, text: str) -> bool:
        """Proactive audio: whether a spoken turn is addressed to the model."""
        history = [m.content for m in self._context.turns if m.role != "tool" and m.content]
        decision = decide(text, self._context.system_instruction, history)
        verdict = "answer" if decision.answer else "ignore"
        log.info("proactive audio: %s (%s)", verdict, decision.reason)
        return decision.answer

    async def _user_text(
        self, text: str, timing: TurnTiming | None = None, mood: Mood | None = None
    ) -> None:
        self._add(ChatMessage("user", text, images=self._frames.take()))
        self._timing = timing
        self._mood = mood
        self._answer()

    def _add(self, message: ChatMessage) -> None:
        """Add input to the history, after the answer in progress if there is one."""
        if self._response_task is not None and not self._response_task.done():
            self._held.append(message)
        else:
            self._context.append(message)

    async def _interrupt(self) -> None:
        """Stop the answer being generated, if any, and tell the client."""
        task = self._response_task
        if task is None or task.done():
            return
        # Tell the client first: a cancelled answer sends nothing more, and waiting for
        # its models to stop (a sentence being synthesized, say) would delay the news.
        waited_for = self._calls.blocking_ids
        task.cancel()
        if waited_for:
            await self._outbox.put(self._session.tool_call_cancellation(waited_for))
        await self._outbox.put(self._session.interrupted())
        await self._outbox.put(self._session.turn_complete())
        await asyncio.wait([task])
        self._calls.cancel(waited_for)

    def _answer(self) -> None:
        self._answer_pending = True
        self._wake.set()

    # --- events ------------------------------------------------------------------------

    async def _handle(self, event: Event) -> None:
        if self._guard is not None and isinstance(event, ContextUpdated):
            event = self._guard.context_update(event)
        match event:
            case SetupRequested(setup):
                await self._setup(setup)
            case ContentAppended(turns, turn_complete):
                await self._interrupt()
                self._context.append_contents(turns, self._frames.images_of(turns))
                if turn_complete:
                    self._answer()
                elif self._idle.is_set():
                    await self._checkpoint()  # seeded history is resumable at once
            case TextReceived(text):
                if self.plan.listening.interrupts:
                    await self._interrupt()
                if text:
                    await self._user_text(text)
            case AudioReceived(blob):
                if self._listener is None:
                    raise InvalidArgument("Audio input is not available on this server.")
                self._listener.feed(blob)
            case VideoReceived(blob):
                self._frames.video(blob)
                self._saw_video()
            case AudioStreamEnded():
                if self._listener is not None:
                    self._listener.audio_stream_end()
            case ActivityStarted():
                if self.plan.listening.interrupts:
                    await self._interrupt()
                if self._listener is not None:
                    self._listener.activity_start()
            case ActivityEnded():
                if self._listener is not None:
                    self._listener.activity_end()
            case ToolResponsesReceived(responses):
                for response in responses:
                    await self._function_response(response)
            case ContextUpdated(system_instruction, tools):
                self._resumption.context_updated(system_instruction, tools)
                if system_instruction is not None:
                    self._context.system_instruction = system_instruction.text
                if tools is not None:
                    self._plan = self.plan.with_tools(tools)
                if self._idle.is_set():
                    await self._checkpoint()

    async def _function_response(self, response: FunctionResponse) -> None:
        taken = self._calls.answer(response)
        if taken is None:
            return  # a late answer to a cancelled call
        result, blocking = taken
        if blocking:
            return  # the model turn waiting for it takes it
        match scheduling(response):
            case Scheduling.SILENT:
                self._add(self._context.result(result))
            case Scheduling.INTERRUPT:
                await self._interrupt()
                self._add(self._context.result(result))
                self._answer()
            case _:  # WHEN_IDLE: after the answer in progress, if any
                self._add(self._context.result(result))
                self._answer()

    async def _setup(self, setup: Setup) -> None:
        if self._guard is not None:
            setup = await self._guard.setup(setup)
        handle = setup.session_resumption.handle if setup.session_resumption else None
        snapshot = await self._resumption.load(handle) if handle else None
        if snapshot is not None:
            setup = resumed_setup(snapshot.setup, setup)
        self._plan = plan = plan_session(
            setup, self._backends.catalogue, self._api_version, can_speak=self._voice is not None
        )
        config, entry = plan.config, plan.entry
        self._affect = AffectTracker() if plan.features.affective_dialog else None
        if self._voice is not None:
            self._voice_models = self._voice.models.for_model(entry.recognizer, entry.speech)
            assert self._tasks is not None
            self._listener = self._listen()
            self._tasks.create_task(self._listener.run(), name="listener")
        self._context.system_instruction = config.system_instruction
        if snapshot is not None:
            self._context.turns, pending = restore(snapshot)
            self._calls.restore(pending)
        llm = self._backends.llm(entry.llm)
        self._frames = Frames(
            llm.capabilities.vision, entry.name, config.generation.media_resolution
        )
        self._conversation = llm.conversation()
        self._window = SlidingWindow(*plan.window, llm.count_tokens) if plan.window else None
        if snapshot is not None:
            self._lifetime.resumed(snapshot.elapsed)
            if snapshot.video:
                self._saw_video()
        if self._window is None:  # without compression, sessions are limited in time
            self._lifetime.limit_session(self._limits.session)
        self._resumption.start(setup)
        await self._outbox.put(self._session.complete_setup(config))
        await self._checkpoint()

    def _listen(self) -> Listener:
        assert self._voice is not None and self._voice_models is not None
        plan = self.plan
        listening = plan.listening
        return Listener(
            self._voice_models,
            self._voice.scheduler,
            TurnDetector(listening.turns),
            automatic=listening.automatic,
            language=plan.language.whisper if plan.language else None,
            emit=self._heard,
            speculate=self._voice.speculate,
            interim=listening.transcribe,
            all_input=listening.all_input,
            stats=self._voice.stats,
            affect=plan.features.affective_dialog,
            vad=self._voice.vad,
        )


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
