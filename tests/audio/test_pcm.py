"""PCM mime types and int16 <-> float32 conversion, without an event loop."""

from __future__ import annotations

import numpy as np
import pytest

from openlive.audio.pcm import duration, float_to_pcm16, parse_pcm_mime, pcm16_to_float
from openlive.protocol.errors import MAX_REASON_BYTES, InvalidArgument


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/pcm", 16000),
        ("audio/pcm;rate=16000", 16000),
        ("audio/pcm;rate=24000", 24000),
        ("Audio/PCM; Rate=48000", 48000),
        ("  audio/pcm ;  rate = 44100  ", 44100),
        ("AUDIO/PCM;RATE=8000", 8000),
        ("audio/pcm;rate=192000", 192000),
        ('audio/pcm;rate="22050"', 22050),
        ("audio/pcm;rate=16000;", 16000),
        ("audio/pcm;channels=1;rate=32000", 32000),
        ("audio/pcm;rate=16000;encoding=signed", 16000),
        ("audio/l16;rate=24000", 24000),
        ("audio/L16; rate=11025; channels=1", 11025),
        ("audio/L16", 16000),
    ],
)
def test_accepted_mime_types(mime: str, rate: int) -> None:
    assert parse_pcm_mime(mime) == rate


@pytest.mark.parametrize(
    ("mime", "says"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("audio/wav", '"audio/wav"'),
        ("audio/mp3", '"audio/mp3"'),
        ("audio/pcmx;rate=16000", "Unsupported"),
        ("text/plain", '"text/plain"'),
        ("audio", "Unsupported"),
        ("audio/pcm;rate=abc", '"audio/pcm;rate=abc"'),
        ("audio/pcm;rate=0", "rate must be an integer"),
        ("audio/pcm;rate=-16000", "rate must be an integer"),
        ("audio/pcm;rate=16000.0", "rate must be an integer"),
        ("audio/pcm;rate=7999", "from 8000 to 192000"),
        ("audio/pcm;rate=192001", "from 8000 to 192000"),
        ("audio/pcm;rate=", "rate must be an integer"),
        ("audio/pcm;rate", "rate must be an integer"),
        ("audio/pcm;rate=99999999999999999999", "rate must be an integer"),
        ("audio/pcm;rate=16000;channels=2", "mono"),
        ("audio/pcm;rate=" + "9" * 500, "rate must be an integer"),
        ("audio/" + "x" * 500, "send 16-bit PCM as audio/pcm;rate=N."),
        ("audio/wav;name=" + "\u00e9" * 60, "Unsupported"),
    ],
)
def test_rejected_mime_types(mime: str | None, says: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_pcm_mime(mime)
    reason = caught.value.reason
    assert says in reason
    assert len(reason.encode("utf-8")) <= MAX_REASON_BYTES
    assert not reason.endswith("..."), "the reason was cut, losing its advice"
    assert caught.value.code == 1007


def test_unsupported_reason_wording() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_pcm_mime("audio/wav")
    assert caught.value.reason == (
        'Unsupported audio mime type "audio/wav": send 16-bit PCM as audio/pcm;rate=N.'
    )


def test_every_int16_value_round_trips_exactly() -> None:
    ints = np.arange(-32768, 32768, dtype="<i2")
    data = ints.tobytes()
    samples = pcm16_to_float(data)
    assert samples.dtype == np.float32
    assert samples.shape == (65536,)
    assert samples.min() == -1.0
    assert samples.max() < 1.0
    assert float_to_pcm16(samples) == data


def test_pcm_is_little_endian() -> None:
    assert pcm16_to_float(b"\x00\x40\x00\xc0").tolist() == [0.5, -0.5]
    assert float_to_pcm16(np.array([0.5, -0.5], dtype=np.float32)) == b"\x00\x40\x00\xc0"


def test_odd_length_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as caught:
        pcm16_to_float(b"\x00\x01\x02")
    assert caught.value.reason == "Audio data must be 16-bit PCM: got an odd number of bytes (3)."
    assert caught.value.code == 1007


def test_empty_pcm() -> None:
    assert pcm16_to_float(b"").shape == (0,)
    assert float_to_pcm16(np.zeros(0, dtype=np.float32)) == b""


def test_float_to_pcm16_clips_rounds_and_silences_nan() -> None:
    x = np.array([1.0, 2.0, -1.0, -3.0, 0.49 / 32768, 0.51 / 32768, -0.51 / 32768, np.nan])
    got = np.frombuffer(float_to_pcm16(x), dtype="<i2").tolist()
    assert got == [32767, 32767, -32768, -32768, 0, 1, -1, 0]


def test_duration() -> None:
    assert duration(b"\x00" * 32000, 16000) == 1.0
    assert duration(np.zeros(12000, dtype=np.float32), 24000) == 0.5
    with pytest.raises(ValueError):
        duration(b"", 0)
