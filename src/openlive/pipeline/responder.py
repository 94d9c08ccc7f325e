"""The model's side of a session: answering user turns, one at a time.

`Responder.take` hands each input (what the client sent, what the listener heard) to
the session's `TurnProtocol` and carries out the actions it returns: add to the
history, interrupt the answer, start the next one. `Responder.run`, a task of the
session's group, starts each answer as a task of its own, which an interruption
cancels; the answer tells the protocol how it went (started, waiting for its calls,
ended), and once it has ended the input held during it goes into the history.

One answer is a model turn: the reply (`TextResponse`, or `SpeechResponse` when the
session speaks) and the rounds of function calls on its way. BLOCKING calls hold it
open until the client answers them; NON_BLOCKING calls end it, and their results come
back as input of their own. A call the model makes wrongly (an engine's model calling
what is not declared) ends it too, with `MALFORMED_FUNCTION_CALL`.

Every `turnComplete` says how its turn ended (`Ending`) and whether another answer
follows (`TurnProtocol.answer_follows`).

A spoken answer may be made during the pause before its turn is decided
(`speculation.py`): the responder makes it as it would make the answer (`answer.py`),
held; the answer to the decided turn is that one if it was made from the same prompt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine

from ..backends.base import ChatMessage, ContextOverflow, LLMError, MalformedCall
from ..backends.voice import Transcript
from ..protocol.errors import InternalError, InvalidArgument
from ..protocol.listening import input_transcription, voice_activity
from ..protocol.messages import ServerMessage
from ..protocol.session import LiveSession
from ..protocol.turn import (
    Action,
    Append,
    CompleteTurn,
    Ending,
    Input,
    Interrupt,
    StartAnswer,
    TurnProtocol,
    TurnState,
)
from .answer import Answers, Cue, may_speculate
from .context import ChatContext
from .listener import (
    ListenerEvent,
    Paused,
    Resumed,
    UserSpeaking,
    UserSpoke,
    VoiceEnded,
    VoiceStarted,
)
from .parts import SessionParts, Voice
from .proactive import decide
from .response import Send
from .speculation import Recipe, Speculation, has_room
from .speech import Hold, SpeechResponse
from .tools import PendingCalls, wire_calls
from .translation import Translation

__all__ = ["MAX_CALL_ROUNDS", "Responder"]

log = logging.getLogger(__name__)

MAX_CALL_ROUNDS = 4
"""Rounds of function calls one model turn may make before it must answer in words."""


class Responder:
    def __init__(
        self,
        session: LiveSession,
        parts: SessionParts,
        context: ChatContext,
        calls: PendingCalls,
        send: Send,
        voice: Voice | None,
        *,
        idle: asyncio.Event,
        checkpoint: Callable[[], Awaitable[None]],
        busy: Callable[[], Awaitable[None]],
    ) -> None:
        """`idle` is set while no answer runs or waits to run; `checkpoint` saves what
        can be resumed once it is idle again; `busy` says that it cannot be resumed
        while an answer runs."""
        self.parts = parts
        self.turns: TurnProtocol[ChatMessage] = TurnProtocol(parts.plan.listening.interrupts)
        self.idle = idle
        self._session = session
        self._context = context
        self._calls = calls
        self._send = send
        self._voice = voice
        self._checkpoint = checkpoint
        self._busy = busy
        self._wake = asyncio.Event()
        self._answer: asyncio.Task[LLMError | None] | None = None
        self._cue = Cue()
        self._answers = Answers(session, parts, send, voice, self._answer_follows)
        self._speculation: Speculation | None = None
        if voice is not None and voice.speculate_answers and may_speculate(parts):
            self._speculation = Speculation(
                self._speculative,
                lambda: has_room(parts.llm_stats, voice.scheduler),
                voice.stats,
                self._read_ahead,
            )

    # --- input -----------------------------------------------------------------------

    async def take(self, what: Input, *messages: ChatMessage) -> None:
        """One input and the history messages it brings."""
        for action in self.turns.receive(what, messages):
            await self._act(action)

    async def user_text(self, what: Input, text: str, cue: Cue | None = None) -> None:
        """The user's words: a message with the frames that arrived before them."""
        self._cue = cue or Cue()
        await self.take(what, ChatMessage("user", text, images=self.parts.frames.take()))

    async def heard(self, event: ListenerEvent) -> None:
        """What the listener reports: the user began or stopped speaking, or a turn."""
        plan = self.parts.plan
        speculation = self._speculation
        match event:
            case Paused(guess):
                if speculation is not None:
                    speculation.begin(guess)
                return
            case Resumed():
                if speculation is not None:
                    speculation.discard()
                return
            case VoiceStarted(offset):
                if speculation is not None:
                    speculation.began()
                if plan.listening.voice_activity:
                    await self._send(voice_activity(True, offset))
                self.parts.frames.activity_started()
                await self.take(Input.SPEECH_STARTED)
            case VoiceEnded(offset):
                if plan.listening.voice_activity:
                    await self._send(voice_activity(False, offset))
                await self.take(Input.SPEECH_ENDED)
            case UserSpeaking(text):
                if plan.listening.transcribe:
                    await self._send(self._session.interim_input_transcription(text))
            case UserSpoke(transcript, _, timing, prosody):
                if plan.listening.transcribe:
                    await self._send(self._transcription(transcript))
                if plan.translation is not None:
                    await self._translate(plan.translation, event)
                    return
                if plan.features.proactive_audio and not self._for_me(transcript.text):
                    await self.take(Input.IGNORED_TURN)
                    return
                affect = self.parts.affect
                mood = affect.observe(prosody) if affect and prosody else None
                await self.user_text(Input.SPOKEN_TURN, transcript.text, Cue(timing, mood))

    async def _translate(self, translation: Translation, spoke: UserSpoke) -> None:
        """A spoken turn of a translation session: answered by its translation, spoken
        back as heard, or (the target language without echo) not at all."""
        heard = spoke.transcript
        answer = translation.spoken(heard.language, heard.text, spoke.translation)
        if answer == "":
            await self.take(Input.IGNORED_TURN)
            return
        await self.user_text(Input.SPOKEN_TURN, heard.text, Cue(spoke.timing, verbatim=answer))

    def _transcription(self, transcript: Transcript) -> ServerMessage:
        """`inputTranscription` of a spoken turn: its text, its language as the session
        names it, and its words' offsets if they were asked for."""
        listening = self.parts.plan.listening
        return input_transcription(
            transcript.text,
            language_code=listening.languages.tag(transcript.language) or None,
            words=[(w.text, w.start, w.end) for w in transcript.words]
            if listening.word_times
            else None,
        )

    def _for_me(self, text: str) -> bool:
        """Proactive audio: whether a spoken turn is addressed to the model."""
        history = [m.content for m in self._context.turns if m.role != "tool" and m.content]
        decision = decide(text, self._context.system_instruction, history)
        verdict = "answer" if decision.answer else "ignore"
        log.info("proactive audio: %s (%s)", verdict, decision.reason)
        return decision.answer

    async def _act(self, action: Action[ChatMessage]) -> None:
        match action:
            case Append(messages):
                for message in messages:
                    self._context.append(message)
            case StartAnswer():
                self._wake.set()
            case Interrupt(calls):
                await self._interrupt(calls)
            case CompleteTurn():
                await self._turn_complete(Ending.NOT_ADDRESSED)

    async def _turn_complete(self, ending: Ending, more: bool | None = None) -> None:
        """A bare `turnComplete` (without usage) for a turn that ended so; `more`:
        whether another answer follows (by default, as the protocol says now)."""
        more = self.turns.answer_follows if more is None else more
        await self._send(self._session.turn_complete(ending=ending, more=more))

    async def _interrupt(self, calls: bool) -> None:
        """Stop the answer, tell the client, and wait for its task to end."""
        task = self._answer
        assert task is not None, "an answer is open"
        # Tell the client first: a cancelled answer sends nothing more, and waiting for
        # its models to stop (a sentence being synthesized, say) would delay the news.
        waited_for = self._calls.blocking_ids if calls else []
        more = self.turns.answer_follows  # known now: by the time it is sent, it may run
        task.cancel()
        if waited_for:
            await self._send(self._session.tool_call_cancellation(waited_for))
        await self._send(self._session.interrupted())
        await self._turn_complete(Ending.INTERRUPTED, more)
        await asyncio.wait([task])
        self._ended(task)
        self._calls.cancel(waited_for)

    # --- answering -------------------------------------------------------------------

    async def run(self) -> None:
        """Start each answer the protocol asks for, in a task of its own; raise the
        error of one that failed."""
        async with asyncio.TaskGroup() as tasks:
            if self._speculation is not None:
                self._speculation.start(tasks)
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.turns.state is TurnState.ANSWER_PENDING:
                    self.idle.clear()
                    await self._busy()
                    answer = tasks.create_task(self._model_turn(), name="model-turn")
                    self._answer = answer
                    await self.take(Input.ANSWER_STARTED)
                    await asyncio.wait([answer])
                    self._ended(answer)
                    if answer.cancelled() or answer.exception() is not None:
                        continue  # interrupted, or failed (the task group has the error)
                    error = answer.result()
                    if isinstance(error, ContextOverflow):
                        raise InvalidArgument(str(error)) from error
                    if error is not None:
                        log.error("LLM failed: %s", error)
                        raise InternalError() from error
                await self._checkpoint()
                self.idle.set()

    def _ended(self, answer: asyncio.Task[LLMError | None]) -> None:
        """The answer's task is over (whoever sees it first says so, once): the input
        held during it goes into the history, and the next answer may start."""
        if self._answer is not answer:
            return
        self._answer = None
        for action in self.turns.receive(Input.ANSWER_ENDED):
            match action:  # all that ending an answer can ask for
                case Append(messages):
                    for message in messages:
                        self._context.append(message)
                case StartAnswer():
                    self._wake.set()

    async def _model_turn(self) -> LLMError | None:
        """One model turn. The history keeps what the client was sent, even when the
        turn is cancelled."""
        cue = self._cue
        self._cue = Cue(mood=cue.mood)  # the timing is this turn's; the mood stays
        try:
            return await self._rounds(cue)
        finally:
            if cue.timing is not None and self._voice is not None:
                self._voice.stats.record(cue.timing)

    async def _rounds(self, cue: Cue) -> LLMError | None:
        plan, window, context = self.parts.plan, self.parts.window, self._context
        for round in range(MAX_CALL_ROUNDS + 1):
            functions = plan.functions.specs if round < MAX_CALL_ROUNDS else ()
            if window is not None:
                await window.slide(context.turns)
            taken = None
            if self._speculation is not None and self._speculation.pending:
                recipe = Recipe(plan, tuple(context.messages()), tuple(functions))
                taken = await self._speculation.take(recipe)
            response = (
                taken.response if taken is not None else self._answers.make(context, cue, functions)
            )
            try:
                await (taken.run(cue.timing) if taken is not None else response.run())
            finally:
                context.append_model(response.text)
            if window is not None and response.usage is not None:
                window.observe(response.usage, context.turns)
            if isinstance(response.error, MalformedCall):
                log.info("the model's function call is malformed: %s", response.error)
                await self._turn_complete(Ending.MALFORMED_CALL)
                return None
            if response.error is not None or not response.calls:
                return response.error
            calls = self._calls.issue(response.calls, plan.functions)
            context.append_calls(calls)
            await self._send(self._session.tool_call(wire_calls(calls)))
            waiting = [c.id for c in calls if c.name in plan.functions.blocking]
            if not waiting:
                await self._turn_complete(Ending.CALLS_RUNNING)
                return None
            await self.take(Input.CALLS_BLOCKING)
            results = await self._calls.wait(waiting)
            await self.take(Input.CALLS_ANSWERED)
            for result in results:
                context.append(context.result(result))
        return None

    @property
    def _answering(self) -> bool:
        """An answer is open or about to start."""
        return not self.turns.idle or self._answer is not None

    def _read_ahead(self) -> Coroutine[None, None, None] | None:
        """The LLM reading the history ahead of the user's new turn, if an answer to it
        would follow that history now."""
        if self._answering:
            return None
        return self.parts.conversation.prepare(self._context.messages())

    def _speculative(self, text: str) -> tuple[Recipe, SpeechResponse] | None:
        """The held answer to the user saying `text` now, and its recipe; None while an
        answer is open or about to start (it answers something else)."""
        if self._answering:
            return None
        plan = self.parts.plan
        message = ChatMessage("user", text)
        context = ChatContext(self._context.system_instruction, [*self._context.turns, message])
        functions = plan.functions.specs
        response = self._answers.make(context, Cue(), functions, hold=Hold(self.parts.conversation))
        assert isinstance(response, SpeechResponse)
        return Recipe(plan, tuple(context.messages()), tuple(functions)), response

    def _answer_follows(self) -> bool:
        return self.turns.answer_follows
