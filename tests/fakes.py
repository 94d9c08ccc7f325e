"""Fakes that follow a script: a transport the test drives, and an LLM that replies as told.

No socket and no model: a test feeds client frames to a `FakeTransport`, reads back what
the server sent, and scripts each reply of a `ScriptedLLM` (its deltas, a delay between
them, a point where it waits for the test, an error). The fakes record what happened
(the messages each reply was asked with, whether it was cancelled) for the asserts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openlive.backends.base import (
    LLM,
    Capabilities,
    ChatMessage,
    Conversation,
    FunctionCall,
    FunctionSpec,
    LLMStats,
    ReplyEvent,
    Sampling,
    TextDelta,
    Usage,
)
from openlive.backends.catalogue import Catalogue
from openlive.backends.registry import Backends
from openlive.config import LLMSpec

__all__ = [
    "FakeTransport",
    "Reply",
    "ReplyRecord",
    "PATIENCE",
    "ScriptedLLM",
    "eventually",
    "fake_backends",
]


PATIENCE = 2.0
"""Seconds a test waits for something that takes a few loop steps before it fails."""


async def eventually(predicate: Callable[[], bool]) -> None:
    """Let the loop run until `predicate()` holds; fail after `PATIENCE` seconds."""
    async with asyncio.timeout(PATIENCE):
        # Polling on purpose: the predicate reads several fakes, and one step is cheap.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0)


class FakeTransport:
    """The runner's socket, driven by the test.

    `feed` queues client frames (`None` means the client has gone); `sent` holds every
    server message, decoded from JSON; `closed` the close code and reason, if any.
    Clearing `send_gate` makes `send` block, as a client that does not read would.
    """

    def __init__(self) -> None:
        self._incoming: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._idle = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.send_gate = asyncio.Event()
        self.send_gate.set()

    # --- the test's side ---------------------------------------------------------------

    def feed(self, frame: str | bytes | dict[str, Any] | None) -> None:
        """Queue one client frame; a dict is sent as JSON, None disconnects."""
        if isinstance(frame, dict):
            frame = json.dumps(frame)
        self._idle.clear()
        self._incoming.put_nowait(frame)

    async def until_read(self) -> None:
        """Wait until the server has taken and handled every frame fed so far."""
        async with asyncio.timeout(PATIENCE):
            await self._idle.wait()

    async def until_sent(self, count: int) -> list[dict[str, Any]]:
        """Wait until the server has sent at least `count` messages; return them all."""
        await eventually(lambda: len(self.sent) >= count)
        return self.sent

    # --- the runner's side (the `Transport` protocol) ------------------------------------

    async def receive(self) -> str | bytes | None:
        if self._incoming.empty():
            self._idle.set()
        return await self._incoming.get()

    async def send(self, text: str) -> None:
        await self.send_gate.wait()
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        assert self.closed is None, "closed twice"
        self.closed = (code, reason)


@dataclass(frozen=True)
class Reply:
    """The script of one reply.

    The reply waits `delay` seconds (`asyncio.sleep`, so 0 still yields to the loop)
    before each delta; if `pause_before` is set, it first waits for the test to set the
    record's `resume` before the delta of that index (`len(deltas)`: after the last).
    After the deltas it raises `error` if given, else yields `usage`. `calls` are yielded
    first, as a model that calls functions instead of answering does. Ended early with
    `hold_stop`, it frees the model only once the test sets the record's `release`, as
    an engine finishing its current token would.
    """

    deltas: Sequence[str]
    usage: Usage = Usage(prompt_tokens=5, response_tokens=3)
    delay: float = 0.0
    pause_before: int | None = None
    error: Exception | None = None
    hold_stop: bool = False
    calls: Sequence[FunctionCall] = ()


@dataclass
class ReplyRecord:
    """What happened to one reply."""

    messages: list[ChatMessage]
    sampling: Sampling
    functions: list[FunctionSpec] = field(default_factory=list)
    produced: list[str] = field(default_factory=list)
    """The deltas yielded to the consumer."""
    finished: bool = False
    """Yielded its `Usage`: the reply ran to its end."""
    failed: bool = False
    """Raised its scripted error."""
    cancelled: bool = False
    """Ended early by its consumer (cancelled or closed)."""
    stopped: bool = False
    """Over, however it ended, and the model free again."""
    overlapped: bool = False
    """Began while another reply of the same LLM had not stopped."""
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the reply reaches its `pause_before` point."""
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return not (self.finished or self.failed or self.cancelled)


class ScriptedLLM(LLM):
    """An LLM whose replies, across all its conversations, follow `script` in order."""

    def __init__(self, *script: Reply, name: str = "scripted") -> None:
        self.name = name
        self.capabilities = Capabilities()
        self.stats = LLMStats()
        self.script = list(script)
        self.calls: list[ReplyRecord] = []
        self.conversations: list[ScriptedConversation] = []

    def conversation(self) -> ScriptedConversation:
        conversation = ScriptedConversation(self)
        self.conversations.append(conversation)
        return conversation

    async def count_tokens(self, text: str) -> int:
        return len(text.split())


class ScriptedConversation(Conversation):
    def __init__(self, llm: ScriptedLLM) -> None:
        self._llm = llm
        self.closed = False
        self.prepared: list[list[ChatMessage]] = []
        """The histories read ahead (`prepare`), in order."""

    async def prepare(self, messages: Sequence[ChatMessage]) -> None:
        self.prepared.append(list(messages))

    async def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncIterator[ReplyEvent]:
        llm = self._llm
        index = len(llm.calls)
        assert index < len(llm.script), f"ScriptedLLM: no reply scripted for call {index}"
        script = llm.script[index]
        record = ReplyRecord(list(messages), sampling, list(functions))
        record.overlapped = any(not call.stopped for call in llm.calls)
        llm.calls.append(record)
        try:
            for call in script.calls:
                yield call
            for i, delta in enumerate(script.deltas):
                if i == script.pause_before:
                    record.paused.set()
                    await record.resume.wait()
                await asyncio.sleep(script.delay)
                record.produced.append(delta)
                yield TextDelta(delta) if isinstance(delta, str) else delta
            if script.pause_before == len(script.deltas):
                record.paused.set()
                await record.resume.wait()
            if script.error is not None:
                record.failed = True
                raise script.error
            record.finished = True
            yield script.usage
        finally:
            if not (record.finished or record.failed):
                record.cancelled = True
                if script.hold_stop:
                    await record.release.wait()
            record.stopped = True

    async def aclose(self) -> None:
        self.closed = True


def fake_backends(llm: LLM) -> Backends:
    """Every built-in model name, served by `llm`."""
    spec = LLMSpec()
    return Backends(Catalogue(spec), prebuilt={spec: llm})
