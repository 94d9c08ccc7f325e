"""Text in, messages out, and back: the one-of envelope and its errors.

`decode` turns one WebSocket frame into a `ClientMessage` whose payload is exactly one
of `setup`, `clientContent`, `realtimeInput`, `toolResponse` or `contextUpdate`, or
raises `InvalidArgument` with the reason that the hosted service's JSON parser gives.
`encode` turns a `ServerMessage` into canonical proto-JSON text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from pydantic import ValidationError

from .errors import InvalidArgument
from .messages import ClientMessage, ServerMessage

__all__ = ["CLIENT_KEYS", "decode", "describe_error", "encode"]

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

MAX_DEPTH: Final = 100
"""The most levels of nesting a message may have (objects and arrays): the default limit
of protobuf's JSON parser, which is what reads these messages on the hosted service."""
_TOO_DEEP = f"Invalid JSON payload received. Message too deep: over {MAX_DEPTH} levels."


def _not_json(constant: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are JavaScript, not JSON."""
    raise ValueError(constant)


def decode(frame: str | bytes) -> ClientMessage:
    """Parse one client frame; raise `InvalidArgument` on anything malformed."""
    try:
        raw = json.loads(frame, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("Invalid JSON payload received. Unexpected token.") from None
    except RecursionError:  # deeper than the interpreter's stack: far over the limit
        raise InvalidArgument(_TOO_DEEP) from None
    if _deeper_than(raw, MAX_DEPTH):
        raise InvalidArgument(_TOO_DEEP)
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
    try:
        return ClientMessage.model_validate(raw)
    except ValidationError as exc:
        raise InvalidArgument(describe_error(exc)) from None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


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
