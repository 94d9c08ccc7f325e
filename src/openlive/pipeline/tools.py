"""A session's functions: the declarations it gave, and the calls waiting for an answer.

`Functions` turns `setup.tools` (or a `contextUpdate`'s) into what the LLM takes: one
`FunctionSpec` per declaration, with its parameters as JSON Schema (`parameters` is the
API's OpenAPI-style `Schema`, converted here; `parametersJsonSchema` is taken as is).
Built-in tools (Google Search, code execution, ...) are refused with a 1007 that names
them: nothing on a local server can serve them.

`PendingCalls` gives each call its id, remembers which the model turn waits for
(BLOCKING, the default) and which run on while the conversation goes on
(NON_BLOCKING), and sorts each `FunctionResponse` into: the answer to a pending call, a
late answer to a call already cancelled or finished (dropped quietly, as the API says),
or an answer to no call at all (1007). A NON_BLOCKING call whose response has
`willContinue` stays pending: each of its responses is a result, until one without it
(an empty last one only ends the call).

`result_media` reads the `parts` of a response: text (`text/*`, JSON) and, for a model
that can see, images; anything else is refused with a 1007 that says why.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..backends.base import FunctionCall, FunctionResult, FunctionSpec, Image
from ..protocol.codec import MAX_FUNCTIONS, TOO_MANY_FUNCTIONS
from ..protocol.errors import InvalidArgument
from ..protocol.messages import Behavior, Blob, FunctionResponse, Scheduling, Tool
from ..protocol.messages import FunctionCall as WireCall
from .vision import IMAGE_TYPES

__all__ = [
    "BUILTIN_TOOLS",
    "Functions",
    "PendingCalls",
    "Taken",
    "result_media",
    "to_json_schema",
]

FUNCTION_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
"""The SDKs' rule for a function's name: a letter or `_`, then letters, digits, `_`,
`.`, `:` or `-`, 128 characters at most."""

BUILTIN_TOOLS = (
    "google_search",
    "google_search_retrieval",
    "code_execution",
    "url_context",
    "google_maps",
    "computer_use",
    "file_search",
    "retrieval",
    "enterprise_web_search",
    "mcp_servers",
    "parallel_ai_search",
    "exa_ai_search",
)

_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
# Schema keys in the API's spelling (either casing arrives) and their JSON Schema names.
_KEYS = {
    "description": "description",
    "enum": "enum",
    "format": "format",
    "title": "title",
    "default": "default",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "minItems",
    "maxItems": "maxItems",
    "minLength": "minLength",
    "maxLength": "maxLength",
    "minProperties": "minProperties",
    "maxProperties": "maxProperties",
    "pattern": "pattern",
    "required": "required",
}
_IGNORED = {"propertyOrdering", "example", "nullable", "type", "properties", "items", "anyOf"}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


def to_json_schema(schema: object, where: str = "parameters") -> dict[str, Any]:
    """The API's `Schema` (OpenAPI 3.0 subset, upper-case types) as JSON Schema."""
    if not isinstance(schema, dict):  # a property or item given as null, a list, ...
        raise InvalidArgument(f"The schema of {where} must be an object.")
    schema = {_camel(k): v for k, v in schema.items()}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind.upper() not in _TYPES:
            raise InvalidArgument(f"Unknown type {kind!r} in the schema of {where}.")
        json_type: Any = kind.lower()
        if schema.get("nullable"):
            json_type = [json_type, "null"]
        out["type"] = json_type
    if isinstance(props := schema.get("properties"), dict):
        out["properties"] = {
            name: to_json_schema(sub, f"{where}.{name}") for name, sub in props.items()
        }
    if isinstance(items := schema.get("items"), dict):
        out["items"] = to_json_schema(items, f"{where}[]")
    if isinstance(any_of := schema.get("anyOf"), list):
        out["anyOf"] = [to_json_schema(sub, where) for sub in any_of if isinstance(sub, dict)]
    for key, value in schema.items():
        if key in _KEYS:
            out[_KEYS[key]] = value
        elif key not in _IGNORED:
            raise InvalidArgument(f"Unknown field {key!r} in the schema of {where}.")
    return out


@dataclass(frozen=True, slots=True)
class Functions:
    """The declared functions of a session, by name."""

    specs: tuple[FunctionSpec, ...] = ()
    blocking: frozenset[str] = frozenset()
    """The names of the BLOCKING functions (the default behavior)."""

    @classmethod
    def from_tools(cls, tools: Iterable[Tool]) -> Functions:
        specs: dict[str, FunctionSpec] = {}
        blocking: set[str] = set()
        for tool in tools:
            for name in BUILTIN_TOOLS:
                if getattr(tool, name) is not None:
                    raise InvalidArgument(
                        f"The built-in tool {name} is not available on this server."
                    )
            for decl in tool.function_declarations or ():
                if FUNCTION_NAME.fullmatch(decl.name) is None:
                    raise InvalidArgument(
                        f"Invalid function name {decl.name[:32]!r}: a letter or _, then "
                        "letters, digits, _ . : or -, 128 at most."
                    )
                if len(specs) == MAX_FUNCTIONS:
                    raise InvalidArgument(TOO_MANY_FUNCTIONS)
                if decl.name in specs:
                    raise InvalidArgument(f"Duplicate function declaration: {decl.name}.")
                if decl.parameters_json_schema is not None:
                    if not isinstance(decl.parameters_json_schema, dict):
                        raise InvalidArgument(
                            f"parameters_json_schema of {decl.name} must be an object."
                        )
                    parameters = dict(decl.parameters_json_schema)
                elif decl.parameters is not None:
                    parameters = to_json_schema(decl.parameters, decl.name)
                else:
                    parameters = {"type": "object", "properties": {}}
                specs[decl.name] = FunctionSpec(decl.name, decl.description or "", parameters)
                if decl.behavior is not Behavior.NON_BLOCKING:
                    blocking.add(decl.name)
        return cls(tuple(specs.values()), frozenset(blocking))


@dataclass(slots=True)
class _Pending:
    call: FunctionCall
    blocking: bool
    continued: bool = False
    """A response said more would come (`willContinue`)."""


@dataclass(frozen=True, slots=True)
class Taken:
    """A response to a pending call: its result (None for the empty last response of a
    call that continued, which only ends it), and whether the call was BLOCKING."""

    result: FunctionResult | None
    blocking: bool


@dataclass(slots=True)
class PendingCalls:
    """Calls sent to the client and not yet answered."""

    _pending: dict[str, _Pending] = field(default_factory=dict)
    _cancelled: deque[str] = field(default_factory=lambda: deque(maxlen=256))
    """Calls cancelled or finished: responses that still come for them are dropped."""
    _results: dict[str, FunctionResult] = field(default_factory=dict)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _prefix: str = field(default_factory=lambda: f"fc-{secrets.token_hex(4)}-")
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def issue(self, calls: Sequence[FunctionCall], functions: Functions) -> list[FunctionCall]:
        """Give each call its id and keep it pending; return them, ready to send."""
        issued = []
        for call in calls:
            call = FunctionCall(call.name, call.args, f"{self._prefix}{next(self._counter)}")
            self._pending[call.id] = _Pending(call, call.name in functions.blocking)
            issued.append(call)
        return issued

    @property
    def ids(self) -> list[str]:
        return list(self._pending)

    @property
    def blocking_ids(self) -> list[str]:
        """The calls a model turn is waiting for."""
        return [i for i, p in self._pending.items() if p.blocking]

    def restore(self, calls: Iterable[tuple[FunctionCall, bool]]) -> None:
        """Pending calls taken over from a resumed session."""
        for call, blocking in calls:
            self._pending[call.id] = _Pending(call, blocking)

    def snapshot(self) -> list[tuple[FunctionCall, bool]]:
        return [(p.call, p.blocking) for p in self._pending.values()]

    def cancel(self, ids: Iterable[str]) -> list[str]:
        """Forget these calls; answers that still come for them are dropped."""
        cancelled = [i for i in ids if self._pending.pop(i, None) is not None]
        self._cancelled.extend(cancelled)
        self._results = {i: r for i, r in self._results.items() if i not in cancelled}
        return cancelled

    def answer(
        self, response: FunctionResponse, media: tuple[str, tuple[Image, ...]] = ("", ())
    ) -> Taken | None:
        """Take one response, with the text and images of its parts (`result_media`);
        None for a late answer to a call cancelled or finished. Raises InvalidArgument
        for an unknown id. `willContinue` keeps a NON_BLOCKING call pending."""
        call_id = response.id or ""
        pending = self._pending.get(call_id)
        if pending is None:
            if call_id in self._cancelled:
                return None
            shown = call_id or "(none)"
            raise InvalidArgument(f"Function response id {shown} matches no pending call.")
        text, images = media
        result = FunctionResult(
            call_id, pending.call.name, dict(response.response or {}), text, images
        )
        if pending.blocking:
            del self._pending[call_id]
            self._results[call_id] = result
            self._answered.set()
            return Taken(result, blocking=True)
        if response.will_continue:
            pending.continued = True
            return Taken(result, blocking=False)
        del self._pending[call_id]
        self._cancelled.append(call_id)  # finished: what still comes is not considered
        empty = not (response.response or text or images)
        return Taken(None if pending.continued and empty else result, blocking=False)

    async def wait(self, ids: Sequence[str]) -> list[FunctionResult]:
        """The results of these blocking calls, in order, once all are answered."""
        while not all(i in self._results for i in ids):
            self._answered.clear()
            await self._answered.wait()
        return [self._results.pop(i) for i in ids]


def scheduling(response: FunctionResponse) -> Scheduling:
    """A NON_BLOCKING response's scheduling: the field, or (as the docs' own example
    has it) a ``scheduling`` key inside `response`; WHEN_IDLE by default."""
    if response.scheduling not in (None, Scheduling.SCHEDULING_UNSPECIFIED):
        assert response.scheduling is not None
        return response.scheduling
    inner = (response.response or {}).get("scheduling")
    try:
        return Scheduling(inner) if isinstance(inner, str) else Scheduling.WHEN_IDLE
    except ValueError:
        raise InvalidArgument(f"Unknown scheduling {inner!r} in a function response.") from None


TEXT_TYPES = ("text/", "application/json")
"""The MIME types of function response parts read as UTF-8 text (a prefix of each)."""


def result_media(
    response: FunctionResponse, image: Callable[[Blob], Image]
) -> tuple[str, tuple[Image, ...]]:
    """The text and the images of a response's `parts`. `image` checks an image (and
    refuses it for a model that cannot see). `fileData` and other types are refused."""
    texts: list[str] = []
    images: list[Image] = []
    for part in response.parts or ():
        if part.file_data is not None:
            raise InvalidArgument(
                "fileData in a function response is not supported: this server fetches no "
                "files; send the data as inlineData."
            )
        if part.inline_data is None:
            continue
        blob = part.inline_data
        mime = (blob.mime_type or "").split(";")[0].strip().lower()
        if mime.startswith(TEXT_TYPES):
            try:
                texts.append(blob.data.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidArgument(
                    f"The {mime} data of a function response part is not valid UTF-8."
                ) from None
        elif mime in IMAGE_TYPES or mime == "image/jpg":
            images.append(image(blob))  # refused if the model cannot see
        else:
            raise InvalidArgument(f"Unsupported MIME type: {(blob.mime_type or '(none)')[:60]}")
    return "\n".join(texts), tuple(images)


def wire_calls(calls: Sequence[FunctionCall]) -> list[WireCall]:
    return [WireCall(id=c.id, name=c.name, args=c.args) for c in calls]
