"""The engine clients' failures: whatever way an engine fails, the session is told it is
unavailable (`EngineUnavailable`, a 1011), never an internal error. A real socket on
loopback plays the failing engine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import numpy as np
import openai
import pytest

from openlive.backends.openai_audio import EngineASR, EngineTTS, EngineUnavailable
from openlive.config import EngineSpec

HALF_A_STREAM = (
    b"HTTP/1.1 200 OK\r\nContent-Type: audio/pcm\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"10\r\n" + b"\x01\x00" * 8 + b"\r\n"
)
"""The start of an answer's audio, then the engine dies: the stream is cut mid-answer."""


@pytest.fixture
def dying_engine() -> Iterator[str]:
    """An engine that answers every request with the start of a stream, then closes."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(HALF_A_STREAM)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/v1"
    server.close()
    thread.join(5)


def test_speech_cut_mid_stream_is_unavailable(dying_engine: str) -> None:
    tts = EngineTTS(EngineSpec(dying_engine, "tts-1", timeout=5))
    with pytest.raises(EngineUnavailable) as failed:
        list(tts.synthesize("Hello there."))
    # the HTTP library's own error, let through by the client mid-stream, is mapped
    assert failed.value.__cause__ is not None
    assert not isinstance(failed.value.__cause__, openai.OpenAIError)
    assert failed.value.code == 1011
    assert failed.value.reason == "The service is currently unavailable."
    assert str(failed.value).startswith(f"speech engine tts-1 at {dying_engine}: ")


def test_an_engine_that_is_not_there_is_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:  # a port nobody answers on
        port = held.getsockname()[1]
    asr = EngineASR(EngineSpec(f"http://127.0.0.1:{port}/v1", "whisper-1", timeout=5))
    with pytest.raises(EngineUnavailable, match="transcription engine whisper-1 at"):
        asr.transcribe(np.zeros(16000, dtype=np.float32), "en")
