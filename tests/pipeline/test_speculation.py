"""Speculative answers with fakes: a held answer sends nothing and synthesizes its first
clause only, below decided work; the responder takes it as the turn's answer when the
transcript is the guess, and otherwise (the user went on, or said something else)
throws it away without a trace in the history, the messages or the usage."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from openlive.audio.pcm import Samples
from openlive.backends.base import ChatMessage, LLMStats, Sampling, Usage
from openlive.backends.batching import BatchDecoder
from openlive.backends.registry import VoiceModels
from openlive.backends.scheduler import Priority, Scheduler
from openlive.backends.voice import TTS, Transcript
from openlive.pipeline.context import ChatContext
from openlive.pipeline.listener import Paused, Resumed, UserSpoke, VoiceEnded, VoiceStarted
from openlive.pipeline.parts import Voice, equip
from openlive.pipeline.plan import plan_session
from openlive.pipeline.responder import Responder
from openlive.pipeline.speculation import Recipe, Speculation, has_room
from openlive.pipeline.speech import Hold, SpeechResponse
from openlive.pipeline.timing import TurnTiming, VoiceStats
from openlive.pipeline.tools import PendingCalls
from openlive.protocol.messages import ClientMessage, ServerMessage, Setup
from openlive.protocol.session import LiveSession
from tests.fakes import Reply, ScriptedLLM, eventually, fake_backends

from .running import running
from .test_listener import DescribingASR, LoudnessVAD, quiet, sound
from .test_listener import Ear as Listening
from .test_speech_margin import RecordingScheduler, session

MODEL = "models/gemini-live-2.5-flash-preview"
USAGE = Usage(prompt_tokens=7, response_tokens=4)


class ShortTTS(TTS):
    """20 ms of sound per word, so that answers play quickly."""

    name = "short"
    sample_rate = 24_000

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def synthesize(self, text: str, **_: Any) -> Iterator[Samples]:
        self.spoken.append(text)
        yield np.full(480 * len(text.split()), 0.1, dtype=np.float32)


def kinds(sent: list[ServerMessage]) -> list[str]:
    """Each message as the key of what it carries."""
    out = []
    for message in sent:
        wire = message.to_wire()
        content = wire.get("serverContent", {})
        out += [k for k in content if k not in ("waitingForInput", "interactionStatus")]
        out += [k for k in wire if k not in ("serverContent", "usageMetadata")]
    return out


async def test_a_held_answer_sends_nothing_and_speaks_its_first_clause_below_decided_work() -> None:
    llm = ScriptedLLM(Reply(["One two. ", "Three four. ", "Five six."], usage=USAGE))
    conversation = llm.conversation()
    context = ChatContext()
    context.append_user("Speak.")
    sent: list[ServerMessage] = []

    async def send(message: ServerMessage) -> None:
        sent.append(message)

    scheduler = RecordingScheduler()
    tts = ShortTTS()
    hold = Hold(conversation)
    try:
        response = SpeechResponse(
            session(), conversation, context, Sampling(), send, tts, scheduler,
            transcribe=False, hold=hold,
        )  # fmt: skip
        assert conversation.held
        running = asyncio.create_task(response.run())
        await eventually(lambda: bool(llm.calls) and llm.calls[0].finished)
        await eventually(lambda: len(tts.spoken) == 1)
        await asyncio.sleep(0.05)
        assert sent == [] and tts.spoken == ["One two."]
        assert [p for p, _ in scheduler.asked] == [Priority.SPECULATION]
        timing = TurnTiming(speech_end=0.0, decided=0.0, recognized=0.0, speculative=True)
        response.release(timing)
        assert not conversation.held
        await running
    finally:
        scheduler.close()
    assert tts.spoken == ["One two.", "Three four.", "Five six."]
    assert kinds(sent)[-2:] == ["generationComplete", "turnComplete"]
    assert timing.first_token is not None and timing.first_audio is not None
    assert response.text == "One two. Three four. Five six."


@dataclass
class Made:
    """What a fake `make` was asked for, and the held answers it made."""

    texts: list[str] = field(default_factory=list)
    responses: list[SpeechResponse] = field(default_factory=list)


def maker(
    llm: ScriptedLLM, scheduler: RecordingScheduler, sent: list[ServerMessage], made: Made
) -> Callable[[str], tuple[Recipe, SpeechResponse] | None]:
    conversation = llm.conversation()

    async def send(message: ServerMessage) -> None:
        sent.append(message)

    def make(text: str) -> tuple[Recipe, SpeechResponse]:
        made.texts.append(text)
        context = ChatContext("Be brief.", [ChatMessage("user", text)])
        response = SpeechResponse(
            session(), conversation, context, Sampling(), send, ShortTTS(), scheduler,
            transcribe=False, hold=Hold(conversation),
        )  # fmt: skip
        made.responses.append(response)
        return Recipe("plan", tuple(context.messages()), ()), response

    return make


def recipe(text: str) -> Recipe:
    return Recipe("plan", (ChatMessage("system", "Be brief."), ChatMessage("user", text)), ())


def guessed(text: str) -> asyncio.Task[Transcript]:
    async def transcribe() -> Transcript:
        return Transcript(text, "en", 1.0, 1.0)

    return asyncio.create_task(transcribe())


@pytest.fixture
async def speculating() -> AsyncIterator[tuple[Speculation, ScriptedLLM, list[Any], Made, Any]]:
    llm = ScriptedLLM(*[Reply(["Yes, ", "surely."], usage=USAGE, delay=0.01)] * 4)
    scheduler = RecordingScheduler()
    sent: list[ServerMessage] = []
    made = Made()
    room = {"room": True}
    stats = VoiceStats()
    speculation = Speculation(maker(llm, scheduler, sent, made), lambda: room["room"], stats)
    try:
        async with asyncio.TaskGroup() as tasks:
            speculation.start(tasks)
            yield speculation, llm, sent, made, (room, stats)
            await speculation.take(recipe("nothing"))  # whatever is left goes
    finally:
        scheduler.close()


async def test_the_answer_to_the_decided_turn_is_the_speculative_one(speculating: Any) -> None:
    speculation, llm, sent, made, (_, stats) = speculating
    speculation.begin(guessed("Is it?"))
    await eventually(lambda: bool(llm.calls) and llm.calls[0].finished)
    assert sent == []
    taken = await speculation.take(recipe("Is it?"))
    assert taken is not None and taken.response is made.responses[0]
    await taken.run(None)
    assert kinds(sent)[-2:] == ["generationComplete", "turnComplete"]
    assert len(llm.calls) == 1
    assert (stats.answers_speculated, stats.answers_used, stats.answers_discarded) == (1, 1, 0)


async def test_an_answer_made_from_another_prompt_is_thrown_away(speculating: Any) -> None:
    speculation, llm, sent, _, (_, stats) = speculating
    speculation.begin(guessed("Is it"))
    await eventually(lambda: bool(llm.calls))
    assert await speculation.take(recipe("Is it raining?")) is None
    assert llm.calls[0].stopped and sent == []  # stopped before take returned
    assert (stats.answers_used, stats.answers_discarded) == (0, 1)


async def test_going_on_after_the_pause_throws_the_answer_away(speculating: Any) -> None:
    speculation, llm, sent, made, _ = speculating
    speculation.begin(guessed("Is it"))
    await eventually(lambda: bool(llm.calls))
    speculation.discard()
    speculation.begin(guessed("Is it raining?"))  # waits for the first to stop
    await eventually(lambda: len(llm.calls) == 2)
    assert llm.calls[0].stopped and not llm.calls[1].overlapped
    taken = await speculation.take(recipe("Is it raining?"))
    assert taken is not None and taken.response is made.responses[1]
    await taken.run(None)
    assert kinds(sent).count("turnComplete") == 1


async def test_no_speculation_without_room(speculating: Any) -> None:
    speculation, llm, _, made, (room, _) = speculating
    room["room"] = False
    speculation.begin(guessed("Is it?"))
    await asyncio.sleep(0.05)
    assert made.texts == [] and llm.calls == []
    assert await speculation.take(recipe("Is it?")) is None


@pytest.fixture
async def listener() -> AsyncIterator[Listening]:
    ear = Listening(speculate=True)
    async with running(ear.listener.run, ear.scheduler):
        yield ear


async def test_the_listener_reports_each_pause_and_the_user_going_on(listener: Listening) -> None:
    await listener.play(quiet(320), sound(600), quiet(256), sound(600), quiet(800))
    await eventually(lambda: bool(listener.spoken))
    said = [type(e).__name__ for e in listener.events if not isinstance(e, VoiceStarted)]
    assert said == ["Paused", "Resumed", "Paused", "VoiceEnded", "UserSpoke"]
    guesses = [e.guess for e in listener.events if isinstance(e, Paused)]
    assert guesses[0].cancelled() or guesses[0].result().text == "1 bursts"
    assert guesses[1].result() == listener.spoken[0].transcript


async def test_room_is_models_idle_but_for_work_that_comes_after_speculation() -> None:
    scheduler, stats = Scheduler("test"), LLMStats()
    started, gate = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        gate.wait()

    try:
        jobs = [asyncio.create_task(scheduler.run(Priority.LLM, block))]
        await eventually(started.is_set)
        assert has_room(stats, scheduler)
        jobs.append(asyncio.create_task(scheduler.run(Priority.INTERIM, int)))
        await eventually(lambda: scheduler.waiting() == 1)
        assert has_room(stats, scheduler), "an interim transcript runs after it anyway"
        jobs.append(asyncio.create_task(scheduler.run(Priority.RECOGNITION, int)))
        await eventually(lambda: scheduler.waiting() == 2)
        assert not has_room(stats, scheduler), "a decided turn waits"
        gate.set()
        await asyncio.gather(*jobs)
        assert has_room(stats, scheduler)
        stats.generating = 1
        assert not has_room(stats, scheduler), "a reply is being generated"
    finally:
        gate.set()
        scheduler.close()


def test_a_held_reply_is_not_urgent_until_released() -> None:
    """The LLM's steps for a reply before its first clause go ahead of recognition, unless
    the reply is speculative (its conversation `held`): nobody waits for it yet."""
    conversation = ScriptedLLM().conversation()
    starting = SimpleNamespace(
        _replies=[SimpleNamespace(_produced=0, _pending=[], reads_only=False, owner=conversation)]
    )
    urgent = BatchDecoder.urgent.fget
    assert urgent is not None and urgent(starting)
    hold = Hold(conversation)
    assert not urgent(starting)
    hold.release()
    assert urgent(starting)
    conversation.held, conversation.urgent = True, True  # its audio is running out
    assert urgent(starting)


# --- through the responder --------------------------------------------------------------


class Ear:
    """A responder of a spoken session, fed what a listener would hear."""

    def __init__(self, llm: ScriptedLLM, *, speculate: bool = True) -> None:
        self.llm = llm
        self.scheduler = RecordingScheduler()
        self.tts = ShortTTS()
        self.voice = Voice(
            VoiceModels(vad=LoudnessVAD(), asr=DescribingASR(), tts=self.tts),
            self.scheduler,
            speculate_answers=speculate,
        )
        self.sent: list[ServerMessage] = []
        self.session = LiveSession()
        setup = Setup.model_validate(
            {"model": MODEL, "generationConfig": {"responseModalities": ["AUDIO"]}}
        )
        self.session.receive(ClientMessage(setup=setup))
        plan = plan_session(setup, fake_backends(llm).catalogue, "v1beta", can_speak=True)
        self.session.complete_setup(plan.config)
        self.context = ChatContext("Be brief.")
        self.idle = asyncio.Event()
        self.responder = Responder(
            self.session,
            equip(plan, fake_backends(llm), self.voice, self.heard),
            self.context,
            PendingCalls(),
            self.send,
            self.voice,
            idle=self.idle,
            checkpoint=self.nothing,
            busy=self.nothing,
        )

    async def heard(self, event: Any) -> None:
        await self.responder.heard(event)

    async def send(self, message: ServerMessage) -> None:
        self.sent.append(message)

    async def nothing(self) -> None:
        pass

    async def turn(self, *guesses: str, said: str) -> None:
        """The user pauses after each of `guesses` (going on after all but the last),
        and the turn ends with `said`."""
        await self.heard(VoiceStarted())
        for i, guess in enumerate(guesses):
            await self.heard(Paused(guessed(guess)))
            if self.voice.speculate_answers:
                await eventually(partial(self.asked, guess))
            if i < len(guesses) - 1:
                await self.heard(Resumed())
        await self.heard(VoiceEnded())
        timing = TurnTiming(speech_end=0.0, decided=0.0, recognized=0.0, speculative=True)
        await self.heard(UserSpoke(Transcript(said, "en", 1.0, 1.0), 1.0, timing))
        await eventually(self.idle.is_set)  # the answer is over, and in the history

    def asked(self, guess: str) -> bool:
        """The LLM has been asked to answer `guess`."""
        return any(c.messages[-1].content == guess for c in self.llm.calls)

    def usage(self) -> list[dict[str, Any]]:
        return [m.to_wire()["usageMetadata"] for m in self.sent if m.usage_metadata is not None]


@asynccontextmanager
async def listening(*, speculate: bool = True) -> AsyncIterator[Ear]:
    replies = [Reply(["Sure, ", "it is."], usage=USAGE, delay=0.01)] * 4
    ear = Ear(ScriptedLLM(*replies), speculate=speculate)
    async with running(ear.responder.run, ear.scheduler):
        yield ear


@pytest.fixture
async def ear() -> AsyncIterator[Ear]:
    async with listening() as ear:
        yield ear


async def without_speculation(said: str) -> tuple[list[ChatMessage], list[dict[str, Any]]]:
    """The history and usage of the same turn answered by a session that does not
    speculate."""
    async with listening(speculate=False) as ear:
        await ear.turn(said, said=said)
        assert ear.voice.stats.answers_speculated == 0
        return ear.context.turns, ear.usage()


async def test_a_spoken_turn_is_answered_by_its_speculative_answer(ear: Ear) -> None:
    await ear.turn("Is it raining?", said="Is it raining?")
    assert len(ear.llm.calls) == 1, "the speculative answer was the answer"
    assert ear.context.turns == [
        ChatMessage("user", "Is it raining?"),
        ChatMessage("assistant", "Sure, it is."),
    ]
    assert (ear.context.turns, ear.usage()) == await without_speculation("Is it raining?")
    assert ear.voice.stats.answers_used == 1


async def test_an_answer_to_half_a_sentence_leaves_no_trace(ear: Ear) -> None:
    await ear.turn("Is it", "Is it raining?", said="Is it raining?")
    first, second = ear.llm.calls
    assert first.cancelled and first.messages[-1] == ChatMessage("user", "Is it")
    assert ear.context.turns == [
        ChatMessage("user", "Is it raining?"),
        ChatMessage("assistant", "Sure, it is."),
    ]
    assert kinds(ear.sent).count("turnComplete") == 1
    assert (ear.context.turns, ear.usage()) == await without_speculation("Is it raining?")
    assert (ear.voice.stats.answers_used, ear.voice.stats.answers_discarded) == (1, 1)


async def test_a_transcript_other_than_the_guess_gets_a_fresh_answer(ear: Ear) -> None:
    await ear.turn("Is it raining", said="Is it raining today?")
    first, second = ear.llm.calls
    assert first.cancelled and first.stopped and not second.overlapped
    assert second.messages[-1] == ChatMessage("user", "Is it raining today?")
    assert (ear.context.turns, ear.usage()) == await without_speculation("Is it raining today?")


async def test_the_history_is_read_ahead_when_the_user_begins_a_turn(ear: Ear) -> None:
    await ear.turn("Is it raining?", said="Is it raining?")
    await ear.turn("And tomorrow?", said="And tomorrow?")
    system = ChatMessage("system", "Be brief.")
    assert ear.llm.conversations[0].prepared == [
        [system],
        [system, ChatMessage("user", "Is it raining?"), ChatMessage("assistant", "Sure, it is.")],
    ]


async def test_nothing_is_read_ahead_while_an_answer_is_open(ear: Ear) -> None:
    ear.llm.script[0] = Reply(["Sure, ", "it is."], usage=USAGE, pause_before=1)
    await ear.heard(VoiceStarted())
    await ear.heard(VoiceEnded())
    timing = TurnTiming(speech_end=0.0, decided=0.0, recognized=0.0, speculative=False)
    await ear.heard(UserSpoke(Transcript("Hello?", "en", 1.0, 1.0), 1.0, timing))
    await eventually(lambda: bool(ear.llm.calls) and ear.llm.calls[0].paused.is_set())
    await ear.heard(VoiceStarted())  # the user speaks over the answer
    assert len(ear.llm.conversations[0].prepared) == 1
    ear.llm.calls[0].resume.set()
