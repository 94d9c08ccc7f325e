"""The per-connection input rate: plain calls with the clock passed in."""

from __future__ import annotations

import base64
import json

import pytest

from openlive.pipeline.input_rate import (
    AUDIO_BYTES_PER_SECOND,
    DECODE_BYTES_PER_SECOND,
    MAX_KEYS,
    UNLIMITED,
    InputRate,
    RateBook,
    RateSettings,
    rate_reason,
)
from openlive.protocol.errors import ResourceExhausted


def test_real_time_audio_is_never_held_back() -> None:
    rate = InputRate(RateSettings(), now=0.0)
    for i in range(50 * 60):  # a minute of 20 ms chunks of 16 kHz audio (854 bytes as JSON)
        rate.admit(now=i * 0.02)
        # decoded in 0.2 ms, ten times what it takes on an idle core: charged 4 KB
        assert rate.charge(854, 0.0002, now=i * 0.02) == 0.0


def test_a_burst_of_two_seconds_worth_is_let_through_then_the_connection_is_closed() -> None:
    rate = InputRate(RateSettings(messages_per_second=10, bytes_per_second=None), now=0.0)
    for _ in range(20):
        rate.admit(now=0.0)
    with pytest.raises(ResourceExhausted) as info:
        rate.admit(now=0.0)
    assert info.value.code == 1011
    assert info.value.reason == "RESOURCE_EXHAUSTED: Too many messages: more than 10 a second."
    assert info.value.reason == rate_reason(10)


def test_the_message_bucket_refills_at_its_rate() -> None:
    rate = InputRate(RateSettings(messages_per_second=10, bytes_per_second=None), now=0.0)
    for _ in range(20):
        rate.admit(now=0.0)
    rate.admit(now=0.1)  # one more after a tenth of a second
    with pytest.raises(ResourceExhausted):
        rate.admit(now=0.1)


def test_bytes_over_the_rate_make_the_next_message_wait_out_the_debt() -> None:
    settings = RateSettings(messages_per_second=None, bytes_per_second=1000, burst_bytes=4000)
    rate = InputRate(settings, now=0.0)
    assert rate.charge(4000, 0.0, now=0.0) == 0.0  # one burst fits
    assert rate.charge(2000, 0.0, now=0.0) == pytest.approx(2.0)  # 2000 bytes owed at 1000/s
    assert rate.charge(0, 0.0, now=2.0) == 0.0  # waited out
    assert rate.charge(500, 0.0, now=2.5) == 0.0  # refilled by 500 meanwhile


def test_a_message_slow_to_decode_is_charged_its_time() -> None:
    settings = RateSettings(messages_per_second=None, bytes_per_second=1_000_000, burst_bytes=1)
    rate = InputRate(settings, now=0.0)
    # 100 KB of small values that took 50 ms: charged as 1 MB, a second at this rate
    assert DECODE_BYTES_PER_SECOND * 0.05 == 1_000_000
    assert rate.charge(100_000, 0.05, now=0.0) == 0.0  # the bucket holds a second's worth
    assert rate.charge(100_000, 0.05, now=0.0) == pytest.approx(1.0)


def test_the_byte_bucket_holds_at_least_one_second_of_the_rate() -> None:
    settings = RateSettings(messages_per_second=None, bytes_per_second=5000, burst_bytes=100)
    assert InputRate(settings, now=0.0).charge(5000, 0.0, now=0.0) == 0.0


def test_unlimited_admits_anything() -> None:
    rate = InputRate(UNLIMITED, now=0.0)
    for _ in range(10_000):
        rate.admit(now=0.0)
        assert rate.charge(16 * 1024 * 1024, 10.0, now=0.0) == 0.0


def test_audio_is_charged_by_its_length_up_to_four_times_real_time() -> None:
    settings = RateSettings(messages_per_second=None, burst_bytes=1)
    rate = InputRate(settings, now=0.0)  # a bucket of 1 MiB, filling at 1 MiB a second
    assert settings.bytes_per_second == AUDIO_BYTES_PER_SECOND * 4
    # a minute of audio sent at once (1.9 MB as 16 kHz PCM): charged as 15 MiB
    assert rate.charge(1_920_000, 0.0, now=0.0, audio=60.0) == pytest.approx(14.0)
    # while real time (20 ms every 20 ms) never waits
    rate = InputRate(settings, now=0.0)
    for i in range(50 * 60):
        assert rate.charge(854, 0.0, now=i * 0.02, audio=0.02) == 0.0


def test_the_audio_of_a_message_is_measured_by_its_rate() -> None:
    from openlive.pipeline.decoding import audio_seconds
    from openlive.protocol import codec

    def seconds(blob: dict[str, str]) -> float:
        return audio_seconds(codec.decode(json.dumps({"realtimeInput": blob})))

    one_second = base64.b64encode(bytes(32_000)).decode()
    assert seconds({"audio": {"data": one_second, "mimeType": "audio/pcm;rate=16000"}}) == 1.0
    assert seconds({"audio": {"data": one_second, "mimeType": "audio/pcm;rate=8000"}}) == 2.0
    chunks = [{"data": one_second, "mimeType": "audio/pcm"}] * 3
    assert seconds({"mediaChunks": chunks}) == 3.0  # type: ignore[dict-item]
    assert seconds({"text": "hello"}) == 0.0
    assert seconds({"audio": {"data": one_second, "mimeType": "audio/mp3"}}) == 0.0


def test_a_keys_next_connection_takes_up_the_buckets_its_last_one_left() -> None:
    book = RateBook(RateSettings(messages_per_second=10, bytes_per_second=None))
    first = book.take("flooder", now=0.0)
    for _ in range(20):
        first.admit(now=0.0)
    with pytest.raises(ResourceExhausted):
        first.admit(now=0.0)  # closed...
    book.give_back("flooder", first)
    again = book.take("flooder", now=0.1)  # ... and back at once: one message's worth
    again.admit(now=0.1)
    with pytest.raises(ResourceExhausted):
        again.admit(now=0.1)
    other = book.take("someone else", now=0.1)  # other keys start full
    for _ in range(20):
        other.admit(now=0.1)


def test_each_of_a_keys_connections_keeps_its_own_buckets() -> None:
    book = RateBook(RateSettings(messages_per_second=10, bytes_per_second=None))
    one, two = book.take("k", now=0.0), book.take("k", now=0.0)
    assert one is not two
    book.give_back("k", one)
    book.give_back("k", two)
    assert {id(book.take("k", now=1.0)), id(book.take("k", now=1.0))} == {id(one), id(two)}
    assert book.take("k", now=1.0) not in (one, two)  # none kept: a full one


def test_the_book_keeps_a_bounded_number_of_keys() -> None:
    book = RateBook(RateSettings())
    kept = [book.take(f"k{i}", now=0.0) for i in range(MAX_KEYS + 1)]
    for i, rate in enumerate(kept):
        book.give_back(f"k{i}", rate)
    assert book.take("k0", now=0.0) is not kept[0]  # the oldest went
    assert book.take(f"k{MAX_KEYS}", now=0.0) is kept[MAX_KEYS]
