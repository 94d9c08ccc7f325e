"""A spoken answer's synthesis keeps ahead of its playout: a clause is synthesized as
urgently as a first clause once the audio ready to play runs under the margin."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from openlive.audio.pcm import Samples
from openlive.backends.base import Sampling
from openlive.backends.scheduler import Priority, Scheduler, Ticket
from openlive.backends.voice import TTS
from openlive.pipeline.context import ChatContext
from openlive.pipeline.speech import MARGIN_S, SpeechResponse
from openlive.protocol.messages import ClientMessage, ServerMessage, Setup
from openlive.protocol.session import LiveSession, validate_setup
from tests.fakes import Reply, ScriptedLLM

T = TypeVar("T")
SECONDS_PER_WORD = 0.4
CLAUSE = "Alpha beta gamma delta."  # 1.6 s of audio


class SlowTTS(TTS):
    name = "slow"
    sample_rate = 24_000

    def synthesize(self, text: str, **_: Any) -> Iterator[Samples]:
        n = round(24_000 * SECONDS_PER_WORD * len(text.split()))
        yield (0.1 * np.sin(np.arange(n) * 0.1)).astype(np.float32)


class RecordingScheduler(Scheduler):
    """Records the priority of each job, and when it was asked for."""

    def __init__(self) -> None:
        super().__init__("test")
        self.asked: list[tuple[Priority, float]] = []

    async def run(
        self, priority: Priority, fn: Callable[..., T], *args: Any, ticket: Ticket | None = None
    ) -> T:
        self.asked.append((priority, time.monotonic()))
        return await super().run(priority, fn, *args, ticket=ticket)


def session() -> LiveSession:
    live = LiveSession()
    live.receive(ClientMessage(setup=Setup(model="models/m")))
    live.complete_setup(validate_setup(Setup(model="models/m")))
    return live


async def test_a_clause_the_listener_is_about_to_wait_for_is_urgent() -> None:
    # Two clauses at once, then a third only when the first two have nearly played.
    llm = ScriptedLLM(Reply([f"{CLAUSE} ", f"{CLAUSE} ", CLAUSE], pause_before=2))
    conversation = llm.conversation()
    context = ChatContext()
    context.append_user("Speak.")
    audio_at: list[float] = []

    async def send(message: ServerMessage) -> None:
        content = message.to_wire().get("serverContent", {})
        if any("inlineData" in p for p in content.get("modelTurn", {}).get("parts", [])):
            audio_at.append(time.monotonic())

    scheduler = RecordingScheduler()
    try:
        response = SpeechResponse(
            session(),
            conversation,
            context,
            Sampling(),
            send,
            SlowTTS(),
            scheduler,
            transcribe=False,
        )
        running = asyncio.create_task(response.run())
        while not audio_at:  # noqa: ASYNC110 (the fake transport has no event)
            await asyncio.sleep(0.01)
        await llm.calls[0].paused.wait()
        # 3.2 s of audio is ready; let the model go on when less than the margin is left.
        await asyncio.sleep(3.2 - (MARGIN_S - 0.4) - (time.monotonic() - audio_at[0]))
        # Its audio running out, the answer asks the model to hurry.
        assert conversation.urgent
        llm.calls[0].resume.set()
        await running
        assert not conversation.urgent
    finally:
        scheduler.close()
    priorities = [p for p, _ in scheduler.asked]
    assert priorities == [Priority.FIRST_AUDIO, Priority.SYNTHESIS, Priority.NEXT_AUDIO]
    gaps = np.diff(audio_at)
    assert gaps.max() < 0.3, "the answer stalled"
