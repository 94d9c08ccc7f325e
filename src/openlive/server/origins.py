"""Which web pages may open a Live session: the `Origin` check of WebSocket handshakes.

A WebSocket is not bound by CORS: any page a user visits could open one to a server on
127.0.0.1 and talk to it with the user's microphone permission or tokens. Browsers send
`Origin` with every WebSocket handshake, so a handshake whose `Origin` is neither the
server's own (the playground) nor one the operator allowed (`--allow-origin`) is refused
with 403 before it is accepted. A handshake without `Origin` comes from a program (the
SDKs, curl): it is not a browser, so it is let through as before, to the key check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["OriginPolicy"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _normal(origin: str) -> str | None:
    """`scheme://host:port` in lower case with the port always given, or None when
    `origin` is not a URL origin (`null`, garbage)."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    allowed: frozenset[str] = frozenset()
    """Normalized origins allowed besides the server's own."""
    any: bool = False
    """`--allow-origin '*'`: every page may connect."""

    @classmethod
    def of(cls, origins: Iterable[str]) -> OriginPolicy:
        """From `--allow-origin` values; `ValueError` names one that is not an origin."""
        allowed = set()
        wildcard = False
        for origin in origins:
            if origin.strip() == "*":
                wildcard = True
                continue
            normal = _normal(origin)
            if normal is None or urlsplit(origin.strip()).path not in ("", "/"):
                raise ValueError(
                    f"--allow-origin: not an origin (scheme://host[:port]): {origin!r}"
                )
            allowed.add(normal)
        return cls(frozenset(allowed), wildcard)

    def refusal(self, headers: Mapping[str, str], secure: bool) -> str | None:
        """Why a handshake with these headers is refused, or None when it may go on.
        `secure`: whether it came over TLS (the scheme of the server's own origin)."""
        origin = headers.get("origin")
        if origin is None or self.any:
            return None
        normal = _normal(origin)
        own = _normal(f"{'https' if secure else 'http'}://{headers.get('host', '')}")
        if normal is not None and (normal == own or normal in self.allowed):
            return None
        return f"Forbidden: the origin {origin[:100]!r} may not open Live sessions here."
