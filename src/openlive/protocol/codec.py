"""Text in, messages out, and back: the one-of envelope and its errors.

`decode` turns one WebSocket frame into a `ClientMessage` whose payload is exactly one
of `setup`, `clientContent`, `realtimeInput`, `toolResponse` or `contextUpdate`, or
raises `InvalidArgument` with the reason that the hosted service's JSON parser gives.
`encode` turns a `ServerMessage` into canonical proto-JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import ValidationError

from .errors import InvalidArgument
from .messages import ClientMessage, ServerMessage
from .scan import MAX_DEPTH, MAX_VALUES, NOT_JSON, TOO_DEEP, needs_scan, scan

__all__ = [
    "CLIENT_KEYS",
    "MAX_DEPTH",
    "MAX_FUNCTIONS",
    "MAX_VALUES",
    "TOO_MANY_FUNCTIONS",
    "decode",
    "describe_error",
    "encode",
    "parse",
    "validate",
]

CLIENT_KEYS: dict[str, str] = {
    "setup": "setup",
    "clientContent": "client_content",
    "client_content": "client_content",
    "realtimeInput": "realtime_input",
    "realtime_input": "realtime_input",
    "toolResponse": "tool_response",
    "tool_response": "tool_response",
    "contextUpdate": "context_update",
    "context_update": "context_update",
}

_ONE_OF = "setup, clientContent, realtimeInput, toolResponse or contextUpdate"

MAX_FUNCTIONS: Final = 512
"""The most function declarations a session may have (OpenLive's bound: every one is
checked and put in the prompt; the hosted limit is not on record)."""
TOO_MANY_FUNCTIONS: Final = f"Too many function declarations: {MAX_FUNCTIONS} at most."


def _not_json(constant: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are JavaScript, not JSON."""
    raise ValueError(constant)


def decode(frame: str | bytes, *, scanned: bool = False) -> ClientMessage:
    """Parse and validate one client frame; raise `InvalidArgument` on anything
    malformed. `scanned`: the caller has run `scan.scan` over the frame already."""
    return validate(parse(frame, scanned=scanned))


def parse(frame: str | bytes, *, scanned: bool = False) -> dict[str, Any]:
    """One client frame as JSON with its envelope checked: exactly one of the five
    keys. A large frame is measured first (`scan.py`) unless `scanned`, so that what
    is parsed holds at most `MAX_VALUES` values; its cost is bounded."""
    if not scanned and needs_scan(frame):
        for _ in scan(frame):
            pass
    try:
        raw = json.loads(frame, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument(NOT_JSON) from None
    except RecursionError:  # deeper than the interpreter's stack: far over the limit
        raise InvalidArgument(TOO_DEEP) from None
    if not scanned and _deeper_than(raw, MAX_DEPTH):  # the scan measured the depth
        raise InvalidArgument(TOO_DEEP)
    if _function_count(raw) > MAX_FUNCTIONS:
        raise InvalidArgument(TOO_MANY_FUNCTIONS)
    if not isinstance(raw, dict):
        raise InvalidArgument("Invalid JSON payload received. Expected an object.")
    for key in raw:
        if key not in CLIENT_KEYS:
            raise InvalidArgument(
                f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    present = [key for key, value in raw.items() if value is not None]
    if len(present) != 1:
        raise InvalidArgument(f"A client message must set exactly one of {_ONE_OF}.")
    return raw


def validate(raw: dict[str, Any]) -> ClientMessage:
    """A parsed frame (`parse`) as a `ClientMessage`, or `InvalidArgument`. This is
    the costly half for large messages; it may run on a thread."""
    try:
        return ClientMessage.model_validate(raw)
    except ValidationError as exc:
        raise InvalidArgument(describe_error(exc)) from None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _function_count(raw: Any) -> int:
    """The function declarations of a setup's or a contextUpdate's tools, counted
    without validating anything (0 where the shape is not that of tools)."""
    if not isinstance(raw, dict):
        return 0
    body = raw.get("setup") or raw.get("contextUpdate") or raw.get("context_update")
    if not isinstance(body, dict):
        return 0
    tools = body.get("tools")
    if isinstance(tools, dict):  # contextUpdate.tools is {"tools": [...]}
        tools = tools.get("tools")
    if not isinstance(tools, list):
        return 0
    count = 0
    for tool in tools:
        if isinstance(tool, dict):
            for key in ("functionDeclarations", "function_declarations"):
                declarations = tool.get(key)
                count += len(declarations) if isinstance(declarations, list) else 0
    return count


def encode(message: ServerMessage) -> str:
    """Serialize a server message as compact canonical JSON."""
    return json.dumps(message.to_wire(), separators=(",", ":"), ensure_ascii=False)


_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL_HUMP.sub("_", name).lower()


def describe_error(exc: ValidationError) -> str:
    """The first validation error, worded as Google's JSON parser words it."""
    error = exc.errors(include_url=False)[0]
    loc = [_snake(str(p)) if isinstance(p, str) else str(p) for p in error["loc"]]
    kind = error["type"]
    if kind == "extra_forbidden":
        name, parent = loc[-1], ".".join(loc[:-1])
        at = f" at '{parent}'" if parent else ""
        return f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
    where = ".".join(loc)
    if kind == "missing":
        return f"Invalid value at '{where}': a required field is missing."
    value: Any = error.get("input")
    shown = json.dumps(value)[:24] if isinstance(value, (str, int, float, bool)) else ""
    detail = error["msg"].removeprefix("Value error, ")
    return f"Invalid value at '{where}' ({detail}){', ' + shown if shown else ''}"
