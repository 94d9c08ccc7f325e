"""The bounded sample ring: capacity, drop-oldest overflow, absolute positions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlive.audio.ring import AudioRing


def ramp(start: int, stop: int) -> np.ndarray:
    """Samples whose values are their absolute positions, so that reads are checkable."""
    return np.arange(start, stop, dtype=np.float32)


def test_push_and_read_in_order() -> None:
    ring = AudioRing(10)
    assert len(ring) == 0
    assert ring.push(ramp(0, 4)) == 0
    assert ring.push(ramp(4, 7)) == 0
    assert len(ring) == 7
    assert ring.read(3).tolist() == [0, 1, 2]
    assert ring.position == 3
    assert ring.end == 7
    assert ring.drain().tolist() == [3, 4, 5, 6]
    assert len(ring) == 0
    assert ring.position == 7
    assert ring.dropped == 0


def test_capacity_bound_drops_oldest_and_counts() -> None:
    ring = AudioRing(5)
    ring.push(ramp(0, 4))
    assert ring.push(ramp(4, 7)) == 2
    assert len(ring) == 5
    assert ring.dropped == 2
    assert ring.position == 2
    assert ring.peek().tolist() == [2, 3, 4, 5, 6]


def test_push_larger_than_capacity_keeps_newest() -> None:
    ring = AudioRing(4)
    ring.push(ramp(0, 3))
    assert ring.push(ramp(3, 13)) == 9  # 3 held + 6 of the new ones
    assert ring.dropped == 9
    assert ring.position == 9
    assert ring.drain().tolist() == [9, 10, 11, 12]


def test_wraparound_reads_and_peeks() -> None:
    ring = AudioRing(6)
    ring.push(ramp(0, 5))
    ring.read(4)
    ring.push(ramp(5, 10))  # wraps around the end of the buffer
    assert ring.peek(3).tolist() == [4, 5, 6]
    assert len(ring) == 6
    assert ring.read(10).tolist() == [4, 5, 6, 7, 8, 9]  # fewer than asked: all there is
    assert ring.read(1).size == 0


def test_window_copies_only_the_span_asked_for_by_absolute_position() -> None:
    ring = AudioRing(6)
    ring.push(ramp(0, 5))
    ring.read(4)
    ring.push(ramp(5, 10))  # holds 4..9, wrapped around the end of the buffer
    assert ring.window(5, 8).tolist() == [5, 6, 7]
    assert ring.window(0, 6).tolist() == [4, 5]  # clipped to what is held
    assert ring.window(8, 20).tolist() == [8, 9]
    assert ring.window(7, 7).size == 0
    assert ring.window(12, 15).size == 0
    window = ring.window(4, 10)
    ring.push(ramp(10, 16))  # overwrites all the memory the window came from
    assert window.tolist() == [4, 5, 6, 7, 8, 9]


def test_reads_are_copies() -> None:
    ring = AudioRing(4)
    ring.push(ramp(0, 4))
    first = ring.read(2)
    ring.push(ramp(4, 6))  # reuses the memory `first` came from
    assert first.tolist() == [0, 1]
    assert first.dtype == np.float32


def test_skip_and_clear_move_position_without_counting_drops() -> None:
    ring = AudioRing(8)
    ring.push(ramp(0, 6))
    assert ring.skip(2) == 2
    assert ring.position == 2
    assert ring.skip(100) == 4
    ring.push(ramp(6, 9))
    ring.clear()
    assert len(ring) == 0
    assert ring.position == ring.end == 9
    assert ring.dropped == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        AudioRing(0)
    ring = AudioRing(4)
    with pytest.raises(ValueError):
        ring.read(-1)
    with pytest.raises(ValueError):
        ring.peek(-1)


@settings(max_examples=200, deadline=None, database=None)
@given(
    capacity=st.integers(min_value=1, max_value=50),
    ops=st.lists(
        st.tuples(st.sampled_from(["push", "read", "skip"]), st.integers(0, 80)), max_size=40
    ),
)
def test_matches_a_reference_model(capacity: int, ops: list[tuple[str, int]]) -> None:
    """Against a plain list: the ring holds the newest `capacity` samples of the stream
    not yet consumed, each sample's value is its position, and nothing is lost unseen."""
    ring = AudioRing(capacity)
    model: list[int] = []
    pushed = consumed = dropped = 0
    for op, n in ops:
        if op == "push":
            model.extend(range(pushed, pushed + n))
            pushed += n
            excess = max(0, len(model) - capacity)
            del model[:excess]
            dropped += excess
            assert ring.push(ramp(pushed - n, pushed)) == excess
        elif op == "read":
            got = ring.read(n).tolist()
            assert got == model[:n]
            consumed += len(got)
            del model[:n]
        else:
            assert ring.skip(n) == min(n, len(model))
            consumed += min(n, len(model))
            del model[:n]
        assert len(ring) == len(model) <= capacity
        assert ring.dropped == dropped
        assert ring.position == (model[0] if model else pushed)
        assert ring.end == pushed
        assert consumed + dropped + len(ring) == pushed
        assert ring.peek().tolist() == model
        assert ring.window(ring.position + 1, ring.end - 1).tolist() == model[1:-1]
