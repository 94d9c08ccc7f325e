"""A large frame measured in steps before it is parsed: plain calls, no event loop."""

from __future__ import annotations

import base64
import json

import pytest

from openlive.protocol import scan
from openlive.protocol.errors import InvalidArgument


def steps(frame: str | bytes) -> int:
    """How many steps `scan` took over `frame` (raising as it does)."""
    return sum(1 for _ in scan.scan(frame))


def test_small_frames_are_parsed_at_once() -> None:
    assert not scan.needs_scan("x" * scan.SMALL)
    assert scan.needs_scan("x" * (scan.SMALL + 1))


def test_media_is_measured_by_counting_alone() -> None:
    audio = base64.b64encode(bytes(6 * 1024 * 1024)).decode()
    frame = json.dumps({"realtimeInput": {"audio": {"data": audio, "mimeType": "audio/pcm"}}})
    # one step per megabyte counted, no parse: the upper bound is a handful of values
    assert steps(frame) == -(-len(frame) // (1024 * 1024))
    assert steps(frame.encode()) == steps(frame)


def test_many_values_are_refused_in_the_first_steps_of_the_parse() -> None:
    frame = json.dumps({"v": [1] * 2_000_000})  # 6 MB
    taken = 0
    with pytest.raises(InvalidArgument) as info:
        for _ in scan.scan(frame):
            taken += 1
    assert info.value.code == 1007
    assert info.value.reason == (
        "Invalid JSON payload received. Message too large: over 50,000 values."
    )
    counting = -(-len(frame) // (1024 * 1024))
    # 50,000 values of two bytes are 100 KB: the parse stops within its second step
    assert taken - counting <= 100_000 // scan.STEP + 1


def test_many_commas_inside_strings_are_parsed_and_pass() -> None:
    frame = json.dumps({"realtimeInput": {"text": "," * (3 * scan.MAX_VALUES)}})
    assert steps(frame) > 0  # bound over the limit, so parsed: only a few values


def test_deep_nesting_is_refused_by_the_parse() -> None:
    frame = '{"a": [' * 101 + ",".join(["1"] * scan.MAX_VALUES) + "]}" * 101
    with pytest.raises(InvalidArgument) as info:
        steps(frame)
    assert info.value.reason == "Invalid JSON payload received. Message too deep: over 100 levels."


COMMAS = '"' + "," * (2 * scan.MAX_VALUES) + '"'
"""A string that puts a frame's upper bound over the limit, so that it is parsed."""


@pytest.mark.parametrize(
    "frame",
    [
        '{"v": [' + COMMAS + ", NaN]}",
        '{"v": [' + COMMAS + "}",
        b'{"v": [' + COMMAS.encode() + b', "\xff"]}',
    ],
    ids=["NaN", "mismatched", "invalid UTF-8"],
)
def test_what_is_not_json_is_refused_as_such(frame: str | bytes) -> None:
    with pytest.raises(InvalidArgument) as info:
        steps(frame)
    assert info.value.reason == "Invalid JSON payload received. Unexpected token."
