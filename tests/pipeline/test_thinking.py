"""Thoughts in a model turn: sent as thought parts only when asked for, never spoken, never
transcribed, never in the history; counted apart in usageMetadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from openlive.audio.pcm import Samples
from openlive.backends.base import Sampling, Thought, Usage
from openlive.backends.scheduler import Scheduler
from openlive.backends.voice import TTS
from openlive.pipeline.context import ChatContext
from openlive.pipeline.response import TextResponse
from openlive.pipeline.speech import SpeechResponse
from openlive.protocol.messages import ClientMessage, ServerMessage, Setup
from openlive.protocol.session import LiveSession, validate_setup
from tests.fakes import Reply, ScriptedLLM

Json = dict[str, Any]
USAGE = Usage(prompt_tokens=9, response_tokens=2, thoughts_tokens=5)
SCRIPT = Reply([Thought("Two and three "), Thought("make five."), "Five."], usage=USAGE)


class ToneTTS(TTS):
    """Says each text as 40 ms of tone per word, and remembers what it was asked to say."""

    name = "tone"
    sample_rate = 24_000

    def __init__(self) -> None:
        self.said: list[str] = []

    def synthesize(self, text: str, **_: Any) -> Iterator[Samples]:
        self.said.append(text)
        n = 960 * len(text.split())
        yield (0.2 * np.sin(np.arange(n) * 0.1)).astype(np.float32)


def session() -> LiveSession:
    live = LiveSession()
    live.receive(ClientMessage(setup=Setup(model="models/m")))
    live.complete_setup(validate_setup(Setup(model="models/m")))
    return live


def thought_parts(sent: list[Json]) -> list[str]:
    return [
        p["text"]
        for m in sent
        for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
        if p.get("thought")
    ]


def answer_parts(sent: list[Json]) -> list[str]:
    return [
        p["text"]
        for m in sent
        for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
        if "text" in p and not p.get("thought")
    ]


def usage_of(sent: list[Json]) -> Json:
    [usage] = [m["usageMetadata"] for m in sent if "usageMetadata" in m]
    return usage


async def text_turn(thoughts: bool) -> tuple[TextResponse, list[Json]]:
    sent: list[Json] = []

    async def send(message: ServerMessage) -> None:
        sent.append(message.to_wire())

    llm = ScriptedLLM(SCRIPT)
    context = ChatContext()
    context.append_user("What is two and three?")
    response = TextResponse(
        session(),
        llm.conversation(),
        context,
        Sampling(thinking_budget=-1),
        send,
        thoughts=thoughts,
    )
    await response.run()
    assert llm.calls[0].sampling.thinking_budget == -1
    return response, sent


async def test_thoughts_are_sent_as_thought_parts_when_asked_for() -> None:
    response, sent = await text_turn(thoughts=True)
    assert thought_parts(sent) == ["Two and three ", "make five."]
    assert answer_parts(sent) == ["Five."]
    assert response.text == "Five.", "thoughts never go into the history"
    assert usage_of(sent) == {
        "promptTokenCount": 9,
        "responseTokenCount": 2,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 16,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
        "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 2}],
    }


async def test_thoughts_are_not_sent_unless_asked_for() -> None:
    response, sent = await text_turn(thoughts=False)
    assert thought_parts(sent) == []
    assert answer_parts(sent) == ["Five."]
    assert usage_of(sent)["thoughtsTokenCount"] == 5


@pytest.mark.parametrize("thoughts", [True, False])
async def test_thoughts_are_never_spoken_nor_transcribed(thoughts: bool) -> None:
    sent: list[Json] = []

    async def send(message: ServerMessage) -> None:
        sent.append(message.to_wire())

    tts = ToneTTS()
    llm = ScriptedLLM(SCRIPT)
    context = ChatContext()
    context.append_user("What is two and three?")
    scheduler = Scheduler("test")
    try:
        response = SpeechResponse(
            session(),
            llm.conversation(),
            context,
            Sampling(thinking_budget=-1),
            send,
            tts,
            scheduler,
            transcribe=True,
            thoughts=thoughts,
        )
        await response.run()
    finally:
        scheduler.close()
    assert tts.said == ["Five."]
    transcribed = [
        m["serverContent"]["outputTranscription"]["text"]
        for m in sent
        if "outputTranscription" in m.get("serverContent", {})
    ]
    assert transcribed == ["Five. "]
    assert thought_parts(sent) == (["Two and three ", "make five."] if thoughts else [])
    assert answer_parts(sent) == []
    assert response.text == "Five."
    assert usage_of(sent)["thoughtsTokenCount"] == 5
