"""Which path is which: the Live WebSocket method and the REST resources (models, and
ephemeral tokens, which the hosted service serves on v1alpha only).

Routing is on the path suffix, after collapsing repeated slashes, so any prefix works
(`//ws/...` from the JS SDK, `/prefix/ws/...` from a base URL with a path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LiveRoute", "ModelsRoute", "match_auth_tokens", "match_live", "match_models"]

_LIVE = re.compile(
    r"/ws/google\.ai\.generativelanguage\.(?P<version>v1|v1beta|v1alpha)"
    r"\.GenerativeService\.(?P<method>BidiGenerateContent(?:Constrained)?)$"
)
_MODELS = re.compile(r"/(?P<version>v1|v1beta|v1alpha)/models(?:/(?P<name>[^/:]+))?$")
_AUTH_TOKENS = re.compile(r"/v1alpha/auth_tokens$")
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class LiveRoute:
    version: str
    constrained: bool


@dataclass(frozen=True, slots=True)
class ModelsRoute:
    version: str
    name: str | None


def _collapse(path: str) -> str:
    return _SLASHES.sub("/", path).rstrip("/") or "/"


def match_live(path: str) -> LiveRoute | None:
    m = _LIVE.search(_collapse(path))
    if m is None:
        return None
    return LiveRoute(m["version"], m["method"].endswith("Constrained"))


def match_models(path: str) -> ModelsRoute | None:
    m = _MODELS.search(_collapse(path))
    if m is None:
        return None
    return ModelsRoute(m["version"], m["name"])


def match_auth_tokens(path: str) -> bool:
    """Whether `path` is the collection that `client.auth_tokens.create` posts to."""
    return _AUTH_TOKENS.search(_collapse(path)) is not None
