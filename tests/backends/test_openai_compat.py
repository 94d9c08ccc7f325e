"""The chat engine client's failures: whatever an engine sends mid-answer, and however
long it goes silent, the answer ends with an `LLMError` (the session's 1011) within the
engine's `timeout`, never with another exception or a wait of its own. A real socket on
loopback plays the engine."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openlive.backends.base import ChatMessage, LLMError, ReplyEvent, Sampling, TextDelta, Usage
from openlive.backends.openai_compat import OpenAICompatibleLLM
from openlive.backends.registry import build_llm
from openlive.config import LLMSpec

SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
HTML = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    b"<!doctype html><html><body>Bad gateway: try again</body></html>"
)
LIMIT = 0.5
"""The engine's `timeout` in these tests."""


def data(body: Any) -> bytes:
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def chunk(delta: Any = None, finish: Any = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return data({"id": "c", "object": "chat.completion.chunk", "choices": [choice], **extra})


START = chunk({"role": "assistant", "content": ""}) + chunk({"content": "Once"})


class Engine:
    """Answers each request with `reply`, then closes the connection, or (`hold`) keeps
    it open, sending `hold` every 0.1 s until the client goes."""

    def __init__(self, reply: bytes, hold: bytes | None = None) -> None:
        self.reply, self.hold = reply, hold
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/v1"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            read(conn)
            try:
                conn.sendall(self.reply)
                while self.hold is not None:
                    time.sleep(0.1)
                    conn.sendall(self.hold)
            except OSError:
                pass  # the client went

    def close(self) -> None:
        self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self._server.close()
        self._thread.join(5)


def read(conn: socket.socket) -> None:
    """One request, to the end of its body: an engine that answers before it has read
    the request would have it reset."""
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(65536)
    head, _, body = request.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    reply, hold = request.param
    running = Engine(reply, hold)
    yield running
    running.close()


async def answer(url: str) -> tuple[list[ReplyEvent], LLMError | None, float]:
    """The events of one answer, the error it ended with, and how long it took."""
    llm = OpenAICompatibleLLM(url, "m", timeout=LIMIT)
    events: list[ReplyEvent] = []
    started = time.monotonic()
    try:
        async for event in llm.stream([ChatMessage("user", "Hello.")], Sampling()):
            events.append(event)
    except LLMError as exc:
        return events, exc, time.monotonic() - started
    finally:
        await llm.aclose()
    return events, None, time.monotonic() - started


FAILURES = [
    (START + b"data: <p>Once upon</p>\n\n", None, "sent data that is not JSON"),
    (START + data({"choices": "upon"}), None, "sent a malformed chunk: its choices are not a list"),
    (START + data(42), None, "sent a malformed chunk: int, not an object"),
    (
        START + data({"choices": ["upon"]}),
        None,
        "sent a malformed chunk: a choice is not an object",
    ),
    (START + chunk("upon"), None, "sent a malformed chunk: a delta is not an object"),
    (START + chunk({"content": 42}), None, "sent a malformed chunk: content is not a string"),
    (START + chunk(finish=7), None, "sent a malformed chunk: finish_reason is not a string"),
    (START + chunk({"tool_calls": {}}), None, "sent a malformed chunk: tool_calls is not a list"),
    (
        START + chunk({"tool_calls": [{"index": 0, "function": "f"}]}),
        None,
        "sent a malformed chunk: a tool call's function is not an object",
    ),
    (
        START + chunk({"tool_calls": [{"function": {"name": "f"}}]}),
        None,
        "sent a malformed chunk: a tool call is not an object with an index",
    ),
    (
        START + data({"choices": [], "usage": {"prompt_tokens": "9"}}),
        None,
        "sent a malformed chunk: its token counts are not integers",
    ),
    (START, None, "ended its stream before a finish_reason"),
    (START, b": keep-alive\n\n", f"sent nothing for {LIMIT:g} s"),  # pings, no chunk
    (b"", b"", f"sent nothing for {LIMIT:g} s"),  # the headers, then nothing
]
"""(what the engine streams after the headers, what it then sends every 0.1 s while the
client stays, the error): after the start of an answer, its failure."""


@pytest.mark.parametrize(
    ("engine", "error"),
    [((SSE + body, hold), error) for body, hold, error in FAILURES],
    indirect=["engine"],
)
async def test_an_engine_failing_mid_answer_fails_the_answer(engine: Engine, error: str) -> None:
    events, failed, took = await answer(engine.url)
    assert failed is not None and str(failed).startswith(f"{engine.url} {error}"), failed
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == (["Once"] if START in engine.reply else [])
    assert not any(isinstance(e, Usage) for e in events)
    assert took < LIMIT + 2


@pytest.mark.parametrize(
    ("engine", "error"),
    [
        ((HTML, None), "ended its stream before a finish_reason (not one chunk, as text/html)"),
        ((b"", b""), f"sent nothing for {LIMIT:g} s"),  # not even the headers
    ],
    indirect=["engine"],
)
async def test_an_engine_that_does_not_stream_fails_the_answer(engine: Engine, error: str) -> None:
    events, failed, took = await answer(engine.url)
    assert failed is not None and str(failed) == f"{engine.url} {error}"
    assert events == []
    assert took < LIMIT + 2  # a request without an answer is tried again within the limit


@pytest.mark.parametrize(
    "engine",
    [(SSE + START + chunk({"content": " upon"}, "stop") + b"data: [DONE]\n\n", None)],
    indirect=True,
)
async def test_a_whole_answer(engine: Engine) -> None:
    events, failed, _ = await answer(engine.url)
    assert failed is None, failed
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Once", " upon"]
    assert isinstance(events[-1], Usage) and events[-1].finish_reason == "stop"


@pytest.mark.parametrize(
    "engine", [(SSE + START + b": ping\n\n" + chunk(finish="length"), None)], indirect=True
)
async def test_a_finish_without_usage_or_done_ends_an_answer(engine: Engine) -> None:
    """Neither `[DONE]` nor usage is needed (llama-cpp-python sends no usage): the
    finish_reason ends the answer, and its counts are estimated when nothing counts."""
    events, failed, _ = await answer(engine.url)
    assert failed is None, failed
    assert isinstance(events[-1], Usage) and events[-1].finish_reason == "length"


def test_the_llm_table_takes_a_timeout() -> None:
    raw = {"kind": "openai", "base_url": "http://e/v1", "model": "m"}
    assert LLMSpec.from_dict(raw).timeout == 30.0
    spec = LLMSpec.from_dict({**raw, "timeout": 5})
    assert spec.timeout == 5.0
    assert spec.key != LLMSpec.from_dict(raw).key  # another client
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="llm timeout must be a positive number"):
            LLMSpec.from_dict({**raw, "timeout": bad})


async def test_the_backend_has_its_tables_timeout() -> None:
    llm = build_llm(LLMSpec.from_dict({**TABLE, "timeout": 7}))
    assert isinstance(llm, OpenAICompatibleLLM) and llm.timeout == 7.0
    await llm.aclose()


TABLE = {"kind": "openai", "base_url": "http://e/v1", "model": "m"}
