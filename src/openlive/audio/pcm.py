"""Raw PCM audio as the Live API carries it: mime types, and int16 <-> float32 samples.

The wire format is one: mono, signed 16-bit little-endian PCM, with the sample rate
in the mime type (``audio/pcm;rate=16000`` in, ``audio/pcm;rate=24000`` out). Inside
the server, audio is a 1-D array of float32 samples in [-1, 1), the format that soxr,
the VAD and Whisper take.
"""

from __future__ import annotations

import re
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from openlive.protocol.errors import InvalidArgument

__all__ = [
    "DEFAULT_INPUT_RATE",
    "MAX_RATE",
    "MIN_RATE",
    "OUTPUT_MIME_TYPE",
    "OUTPUT_RATE",
    "Samples",
    "duration",
    "float_to_pcm16",
    "parse_pcm_mime",
    "pcm16_to_float",
]

Samples: TypeAlias = npt.NDArray[np.float32]
"""Mono audio inside the server: a 1-D float32 array, nominally in [-1, 1)."""

DEFAULT_INPUT_RATE = 16000
"""The rate of ``audio/pcm`` when the mime type names none (the Live API's native input)."""
OUTPUT_RATE = 24000
"""The Live API always sends 24 kHz audio."""
OUTPUT_MIME_TYPE = f"audio/pcm;rate={OUTPUT_RATE}"
MIN_RATE = 8000
MAX_RATE = 192000

# `audio/L16` is the RTP name of the same 16-bit linear format; Live API clients that
# use it send the same little-endian bytes, so it is taken as an alias of audio/pcm.
_PCM_SUBTYPES = frozenset({"audio/pcm", "audio/l16"})
_DIGITS = re.compile(r"[0-9]{1,9}")
_SHOWN_CHARS = 40  # of the client's mime type quoted in a reason, to stay under 123 bytes
_INT16_SCALE = 32768.0


def _shown(mime: str) -> str:
    text = mime.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def parse_pcm_mime(mime: str | None) -> int:
    """Return the sample rate of a 16-bit PCM audio mime type such as ``audio/pcm;rate=24000``.

    Case and spaces do not matter (``Audio/PCM; Rate=48000``); ``audio/pcm`` without a
    rate means 16000 Hz; ``audio/L16`` is an alias. A ``channels`` parameter must be 1,
    and other parameters are ignored, as MIME parameters unknown to a reader are.

    Raises:
        InvalidArgument: on a missing or non-PCM mime type (``audio/wav``, ``audio/mp3``)
            or a rate that is not an integer from 8000 to 192000. Its reason quotes the
            mime type and says what to send instead.
    """
    if mime is None or not mime.strip():
        raise InvalidArgument("Audio mime type is missing: send 16-bit PCM as audio/pcm;rate=N.")
    shown = _shown(mime)
    kind, *params = (part.strip() for part in mime.split(";"))
    if kind.lower().replace(" ", "") not in _PCM_SUBTYPES:
        raise InvalidArgument(
            f'Unsupported audio mime type "{shown}": send 16-bit PCM as audio/pcm;rate=N.'
        )
    rate = DEFAULT_INPUT_RATE
    for param in params:
        if not param:
            continue  # a trailing or doubled ";"
        name, sep, value = (s.strip() for s in param.partition("="))
        name = name.lower()
        value = value.strip('"').strip()
        if name == "rate":
            if not sep or not _DIGITS.fullmatch(value) or not (MIN_RATE <= int(value) <= MAX_RATE):
                raise InvalidArgument(
                    f'Invalid sample rate in "{shown}": rate must be an integer'
                    f" from {MIN_RATE} to {MAX_RATE}."
                )
            rate = int(value)
        elif name == "channels" and value != "1":
            raise InvalidArgument(f'Unsupported audio "{shown}": only mono audio is supported.')
    return rate


def pcm16_to_float(data: bytes) -> Samples:
    """Convert signed 16-bit little-endian PCM to float32 samples in [-1, 1).

    Raises:
        InvalidArgument: if ``data`` has an odd number of bytes.
    """
    if len(data) % 2:
        raise InvalidArgument(
            f"Audio data must be 16-bit PCM: got an odd number of bytes ({len(data)})."
        )
    ints = np.frombuffer(data, dtype="<i2")
    # Dividing by a power of two is exact, so float_to_pcm16 restores every int16 value.
    return ints.astype(np.float32) * np.float32(1.0 / _INT16_SCALE)


def float_to_pcm16(samples: npt.ArrayLike) -> bytes:
    """Convert float samples to signed 16-bit little-endian PCM, rounding and clipping.

    Values outside [-1, 1) are clipped (1.0 becomes 32767), NaN becomes silence.
    """
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    scaled = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0) * np.float32(_INT16_SCALE)
    ints: npt.NDArray[np.int16] = np.clip(np.rint(scaled), -32768, 32767).astype("<i2")
    return ints.tobytes()


def duration(audio: bytes | bytearray | npt.NDArray[np.generic], rate: int) -> float:
    """The length in seconds of 16-bit PCM bytes, or of an array of mono samples."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    count = len(audio) // 2 if isinstance(audio, bytes | bytearray) else len(audio)
    return count / rate
