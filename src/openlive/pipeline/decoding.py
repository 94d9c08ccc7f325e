"""A connection's frames decoded without holding up the other sessions.

Most frames (audio chunks, text, tool results) are small and decoded at once. A large
one is measured first in steps (`protocol/scan.py`), with the event loop served
between them, so that a frame of too many values is refused before it costs anything;
then it is parsed (bounded by that measure) and validated on a thread, which lets the
event loop run where pydantic calls back into Python.

Each frame is charged to the connection's input rate (`input_rate.py`) by its size, by
the time its decoding took, or by the audio it holds, whichever is most: what one
connection can take of the event loop and of the voice models is bounded whatever it
sends.
"""

from __future__ import annotations

import asyncio
import time

from ..audio.pcm import parse_pcm_mime
from ..protocol import codec
from ..protocol.errors import InvalidArgument
from ..protocol.messages import ClientMessage
from ..protocol.scan import needs_scan, scan
from .input_rate import InputRate

__all__ = ["Decoder"]


class Decoder:
    def __init__(self, rate: InputRate) -> None:
        self.rate = rate

    async def decode(self, frame: str | bytes) -> ClientMessage:
        """`frame` as a message, once the connection's byte debt is paid (meanwhile
        nothing more is read from its socket, which holds the client back). Raises
        `InvalidArgument` as `codec.decode` does, and `ResourceExhausted` for a
        connection over its message rate."""
        if (owed := self.rate.owed(time.monotonic())) > 0:
            await asyncio.sleep(owed)  # a key's new connection pays what its last owed
        self.rate.admit(time.monotonic())
        spent = 0.0
        started = time.perf_counter()
        try:
            if not needs_scan(frame):
                message = codec.decode(frame)
                self._charge(frame, started, spent, message)
                return message
            for _ in scan(frame):
                spent += time.perf_counter() - started
                await asyncio.sleep(0)
                started = time.perf_counter()
            raw = codec.parse(frame, scanned=True)
            spent += time.perf_counter() - started
            message, cpu = await asyncio.to_thread(_validate, raw)
            self._charge(frame, time.perf_counter(), spent + cpu, message)
            return message
        except BaseException:
            self._charge(frame, started, spent)  # a refused frame cost the same
            raise

    def _charge(
        self,
        frame: str | bytes,
        started: float,
        spent: float,
        message: ClientMessage | None = None,
    ) -> None:
        seconds = spent + time.perf_counter() - started
        audio = audio_seconds(message) if message is not None else 0.0
        self.rate.charge(len(frame), seconds, time.monotonic(), audio)


def audio_seconds(message: ClientMessage) -> float:
    """The seconds of PCM audio in a `realtimeInput` (0 for anything else, or for audio
    whose MIME type is refused later)."""
    realtime = message.realtime_input
    if realtime is None:
        return 0.0
    seconds = 0.0
    for blob in [realtime.audio, *(realtime.media_chunks or [])]:
        if blob is None or not (blob.mime_type or "").lower().startswith("audio/"):
            continue
        try:
            seconds += len(blob.data) / 2 / parse_pcm_mime(blob.mime_type)
        except InvalidArgument:
            continue
    return seconds


def _validate(raw: dict[str, object]) -> tuple[ClientMessage, float]:
    """`codec.validate` on a thread, with the CPU time it took there."""
    started = time.thread_time()
    message = codec.validate(raw)
    return message, time.thread_time() - started
