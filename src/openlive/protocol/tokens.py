"""Ephemeral tokens as data: the create request, its defaults and limits, and the rules
by which a token's constraints lock a client's `setup`.

A token is created by `POST /v1alpha/auth_tokens` (what `client.auth_tokens.create`
sends) with an API key, and is then presented instead of a key on
`BidiGenerateContentConstrained`. The request body::

    {"uses": 1,                                   # 0: no limit; default 1
     "expireTime": "2026-11-25T09:27:22Z",        # default +30 min, at most +20 h
     "newSessionExpireTime": "...",               # default +60 s, at most +20 h
     "bidiGenerateContentSetup": {...},           # a setup; "model" may be left out
     "fieldMask": "model,generationConfig.temperature"}

How the token's setup and field mask lock the client's setup (the SDKs send no mask
when `lock_additional_fields` is unset, and the setup's set fields, two levels deep,
plus the named fields when it is a list):

- no setup and no mask: nothing is locked; the client's setup is used as sent.
- a setup and no mask: the whole setup is locked. The token's setup replaces the
  client's, and a field that it leaves unset stays unset whatever the client sends.
  Only `model` comes from the client when the token names none.
- a mask: each masked path takes the token's value, or is unset where the token's
  setup has none; every other field takes the client's value, or the token's where the
  client leaves it unset.

Either way `sessionResumption.handle` stays the client's: it names a session to
resume, not a setting. A locked `systemInstruction` or `tools` cannot be changed later
by `contextUpdate` either. What the client sends for a locked field is ignored, not
refused, as the hosted service does.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from .codec import describe_error
from .errors import InvalidArgument
from .events import ContextUpdated
from .messages import GenerationConfig, Setup, WireModel
from .setup import INT32_MAX

__all__ = [
    "DEFAULT_EXPIRE_SECONDS",
    "DEFAULT_NEW_SESSION_SECONDS",
    "DEFAULT_USES",
    "MAX_LIFETIME_SECONDS",
    "TOKEN_PREFIX",
    "Constraints",
    "CreateAuthTokenRequest",
    "SessionGuard",
    "TokenGrant",
    "parse_create_request",
    "parse_field_mask",
    "parse_time",
]

TOKEN_PREFIX = "auth_tokens/"
"""Every token's name starts with this; the SDKs pick `...Constrained` on it."""

DEFAULT_USES = 1
DEFAULT_EXPIRE_SECONDS = 30 * 60.0
DEFAULT_NEW_SESSION_SECONDS = 60.0
MAX_LIFETIME_SECONDS = 20 * 3600.0

Path = tuple[str, ...]
"""A field path in camelCase segments, such as ("generationConfig", "temperature")."""


class TokenSetup(Setup):
    """A `setup` in which the model may be left out."""

    model: str | None = None  # type: ignore[assignment]  # optional here only


class CreateAuthTokenRequest(WireModel):
    """The body of `POST /v1alpha/auth_tokens`."""

    expire_time: str | None = None
    new_session_expire_time: str | None = None
    uses: int | None = None
    bidi_generate_content_setup: TokenSetup | None = None
    field_mask: str | list[str] | None = None


@dataclass(frozen=True, slots=True)
class Constraints:
    """What a token locks: its setup (camelCase wire form) and its field mask."""

    setup: Mapping[str, Any] | None = None
    mask: tuple[Path, ...] | None = None

    @property
    def locks_anything(self) -> bool:
        return self.setup is not None or self.mask is not None

    def locks(self, field: str) -> bool:
        """Whether any part of the top-level setup field `field` (camelCase) is locked."""
        if self.mask is None:
            return self.setup is not None
        return any(path[0] == field for path in self.mask)

    def apply(self, setup: Setup) -> Setup:
        """The setup the session runs with: the client's, under this token's locks."""
        if not self.locks_anything:
            return setup
        client = setup.to_wire()
        token: dict[str, Any] = copy.deepcopy(dict(self.setup or {}))
        if self.mask is None:
            effective = token
            effective.setdefault("model", client["model"])
        else:
            effective = _merged(token, client)
            for path in self.mask:
                _put(effective, path, _get(token, path))
        handle = client.get("sessionResumption", {}).get("handle")
        if handle is not None:
            effective.setdefault("sessionResumption", {})["handle"] = handle
        return Setup.model_validate(effective)

    def context_update(self, event: ContextUpdated) -> ContextUpdated:
        """`event` without the changes that touch a locked field."""
        system = None if self.locks("systemInstruction") else event.system_instruction
        tools = None if self.locks("tools") else event.tools
        if system is event.system_instruction and tools is event.tools:
            return event
        return ContextUpdated(system, tools)

    def encode(self) -> tuple[str | None, str | None]:
        """The setup as JSON text and the mask as comma-separated paths, for storing."""
        setup = None if self.setup is None else json.dumps(self.setup, separators=(",", ":"))
        mask = None if self.mask is None else ",".join(".".join(p) for p in self.mask)
        return setup, mask

    @classmethod
    def decode(cls, setup: str | None, mask: str | None) -> Constraints:
        """The inverse of `encode`."""
        return cls(
            setup=None if setup is None else json.loads(setup),
            mask=None if mask is None else parse_field_mask(mask),
        )


class SessionGuard(Protocol):
    """What admitted a session on a token, as the session runner sees it."""

    async def setup(self, setup: Setup) -> Setup:
        """The setup to run with: `setup` under the locks. Raises a `LiveError` to
        refuse the session (a spent or expired token). Called once, before the setup is
        validated. It takes a use of the token for a new session; cancelled once it has
        asked for it, the use is still taken."""
        ...

    def context_update(self, event: ContextUpdated) -> ContextUpdated:
        """`event` without the changes that the locks forbid."""
        ...


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a valid create request grants, with the defaults filled in."""

    uses: int | None
    """Sessions the token may start; None for no limit."""
    expire_time: float
    """Unix seconds after which the token admits nothing, and its sessions close."""
    new_session_expire_time: float
    """Unix seconds after which the token starts no new session (resuming still works)."""
    constraints: Constraints


def parse_create_request(raw: object, now: float) -> TokenGrant:
    """Check a create request's body; raise `InvalidArgument` with the reason."""
    if not isinstance(raw, dict):
        raise InvalidArgument("Invalid JSON payload received. Expected an object.")
    try:
        request = CreateAuthTokenRequest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidArgument(describe_error(exc)) from None
    uses = DEFAULT_USES if request.uses is None else request.uses
    if not 0 <= uses <= INT32_MAX:
        raise InvalidArgument(f"uses must be between 0 and {INT32_MAX}, got {uses}.")
    expire = _deadline(request.expire_time, "expire_time", now, DEFAULT_EXPIRE_SECONDS)
    new_session = _deadline(
        request.new_session_expire_time, "new_session_expire_time", now, DEFAULT_NEW_SESSION_SECONDS
    )
    setup = request.bidi_generate_content_setup
    mask = parse_field_mask(request.field_mask) if request.field_mask else None
    return TokenGrant(
        uses=uses or None,
        expire_time=expire,
        new_session_expire_time=new_session,
        constraints=Constraints(
            setup=None if setup is None else setup.to_wire(),
            mask=mask or None,
        ),
    )


def parse_time(text: str) -> float:
    """An RFC 3339 time (as Python's isoformat or JavaScript's toISOString write it)
    as Unix seconds; a time without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(f'Invalid value "{text[:40]}": not an RFC 3339 time.') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _deadline(text: str | None, name: str, now: float, default: float) -> float:
    if text is None:
        return now + default
    moment = parse_time(text)
    if moment <= now:
        raise InvalidArgument(f"{name} must be in the future.")
    if moment > now + MAX_LIFETIME_SECONDS:
        raise InvalidArgument(f"{name} is too far in the future. Maximum lifetime is 20h")
    return moment


# --- field masks -----------------------------------------------------------------------


def parse_field_mask(value: str | list[str]) -> tuple[Path, ...]:
    """Comma-separated field paths, each checked against the setup's fields.

    Segments may be camelCase or snake_case. A path that starts with a field of
    `generationConfig` (the SDKs send `lock_additional_fields` such as "temperature"
    that way when the token has no setup) means that field of `generationConfig`.
    """
    texts = value.split(",") if isinstance(value, str) else [t for v in value for t in v.split(",")]
    paths = [_resolve(text.strip()) for text in texts if text.strip()]
    return tuple(dict.fromkeys(paths))


def _resolve(text: str) -> Path:
    segments = text.split(".")
    if _field(Setup, segments[0]) is None and _field(GenerationConfig, segments[0]) is not None:
        segments.insert(0, "generationConfig")
    model: type[BaseModel] | None = Setup
    path: list[str] = []
    for segment in segments:
        name = None if model is None else _field(model, segment)
        if model is None or name is None:
            raise InvalidArgument(f'Invalid field mask path "{text}".')
        path.append(to_camel(name))
        model = _message_type(model.model_fields[name].annotation)
    return tuple(path)


def _field(model: type[BaseModel], segment: str) -> str | None:
    """The attribute name of `model`'s field written `segment` (either casing)."""
    for name in model.model_fields:
        if segment in (name, to_camel(name)):
            return name
    return None


def _message_type(annotation: Any) -> type[BaseModel] | None:
    """The message class a field holds (a path may go into it), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


# --- dict paths ------------------------------------------------------------------------

_MISSING = object()


def _merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, recursively for objects; lists and values replace."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _get(tree: Mapping[str, Any], path: Path) -> Any:
    node: Any = tree
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return copy.deepcopy(node)


def _put(tree: dict[str, Any], path: Path, value: Any) -> None:
    """Set the value at `path`, or remove it when `value` is `_MISSING`."""
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            if value is _MISSING:
                return
            child = node[key] = {}
        node = child
    if value is _MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
