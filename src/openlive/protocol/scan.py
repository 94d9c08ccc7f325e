"""A large frame's size in values, decided before it is parsed, in bounded steps.

Parsing JSON into Python objects costs about 0.3 µs a value, and validating them up to
1 µs, with the interpreter held: a 15 MB message of 800,000 small values takes half a
second to parse, on a thread or not, during which no other session on the node is
served. So a frame is measured before it is parsed, in steps of bounded cost between
which the caller may let other work run (`scan` is a generator: the pipeline awaits
between its steps):

1. An upper bound on its values, from the characters that can precede one (`,` `:`
   `[`), counted a slice at a time. Base64 media, the bulk of any large frame, has none
   of them, so most frames stop here.
2. Only if that bound is over `MAX_VALUES`: an incremental parse (ijson's C parser,
   fed `STEP` bytes at a time) that counts the values and the nesting without building
   them, and refuses the frame as soon as either is over its limit.

A frame that passes holds at most `MAX_VALUES` values, so parsing and validating it
costs a bounded time. No I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Final

import ijson

from .errors import InvalidArgument

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "NOT_JSON",
    "SMALL",
    "STEP",
    "TOO_DEEP",
    "TOO_MANY",
    "needs_scan",
    "scan",
]

MAX_DEPTH: Final = 100
"""The deepest nesting of objects and arrays a message may have: the default limit
of protobuf's JSON parser, which is what reads these messages on the hosted service."""
MAX_VALUES: Final = 50_000
"""The most values (objects, arrays, strings, numbers, booleans and nulls) one message
may hold: OpenLive's bound, the hosted one is not on record. Validating a message costs
up to about 1 µs a value, with the interpreter held: this keeps any message under
about 50 ms. Media travels as one base64 string, and 512 function declarations with
ten parameters each are about 24,000 values, so only a message of many small parts
comes near it."""
SMALL: Final = 64 * 1024
"""Frames up to this size are parsed at once: at two bytes a value at least, they
hold fewer than `MAX_VALUES` values, and parse in well under a millisecond or two."""
STEP: Final = 64 * 1024
"""Bytes parsed per step of the incremental parse (a few milliseconds at most)."""
_COUNT_STEP: Final = 1024 * 1024
"""Characters counted per step of the upper bound (about a millisecond)."""

NOT_JSON: Final = "Invalid JSON payload received. Unexpected token."
TOO_DEEP: Final = f"Invalid JSON payload received. Message too deep: over {MAX_DEPTH} levels."
TOO_MANY: Final = f"Invalid JSON payload received. Message too large: over {MAX_VALUES:,} values."


def needs_scan(frame: str | bytes) -> bool:
    """Whether `frame` is too large to parse without measuring it first."""
    return len(frame) > SMALL


def scan(frame: str | bytes) -> Iterator[None]:
    """Measure `frame` in steps, yielding after each; raise `InvalidArgument` as soon
    as it is known to be over `MAX_VALUES` values or `MAX_DEPTH` levels, or not JSON.
    Exhausting it without an error means the frame is within both limits (if it is
    JSON at all: that is for the parser to say)."""
    bound = 1
    for start in range(0, len(frame), _COUNT_STEP):
        part = frame[start : start + _COUNT_STEP]
        if isinstance(part, str):
            bound += part.count(",") + part.count(":") + part.count("[")
        else:
            bound += part.count(b",") + part.count(b":") + part.count(b"[")
        yield
    if bound <= MAX_VALUES:
        return
    data = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    counter = _count()
    next(counter)
    parser = ijson.basic_parse_coro(counter)
    try:
        for start in range(0, len(data), STEP):
            parser.send(data[start : start + STEP])
            yield
        parser.close()
    except ijson.JSONError:
        raise InvalidArgument(NOT_JSON) from None


def _count() -> Generator[None, tuple[str, object], None]:
    """The target of the incremental parse: counts values and nesting as they pass."""
    values = depth = 0
    while True:
        event, _ = yield
        if event in ("end_map", "end_array"):
            depth -= 1
            continue
        if event == "map_key":
            continue
        values += 1
        if values > MAX_VALUES:
            raise InvalidArgument(TOO_MANY)
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidArgument(TOO_DEEP)
