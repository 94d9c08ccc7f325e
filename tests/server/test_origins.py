"""The Origin check of WebSocket handshakes (no I/O)."""

from __future__ import annotations

import pytest

from openlive.server.origins import OriginPolicy

HOST = {"host": "127.0.0.1:8765"}


def test_programs_send_no_origin_and_pass() -> None:
    assert OriginPolicy().refusal(HOST, secure=False) is None


def test_the_servers_own_pages_pass_on_either_listener() -> None:
    policy = OriginPolicy()
    assert policy.refusal({**HOST, "origin": "http://127.0.0.1:8765"}, secure=False) is None
    tls = {"host": "localhost:8766", "origin": "https://LOCALHOST:8766"}
    assert policy.refusal(tls, secure=True) is None
    default_port = {"host": "example.org", "origin": "https://example.org:443"}
    assert policy.refusal(default_port, secure=True) is None


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://127.0.0.1:9999",  # another port is another site
        "https://127.0.0.1:8765",  # and another scheme
        "null",  # a sandboxed frame or a file:// page
        "not a url",
        "",
    ],
)
def test_other_pages_are_refused_with_a_reason_naming_the_origin(origin: str) -> None:
    reason = OriginPolicy().refusal({**HOST, "origin": origin}, secure=False)
    assert reason is not None and repr(origin)[:20] in reason


def test_allowed_origins_and_the_wildcard() -> None:
    policy = OriginPolicy.of(["https://app.example.com", "http://localhost:3000/"])
    assert policy.refusal({**HOST, "origin": "https://app.example.com"}, secure=False) is None
    assert policy.refusal({**HOST, "origin": "http://localhost:3000"}, secure=False) is None
    assert policy.refusal({**HOST, "origin": "https://other.example.com"}, secure=False)
    anyone = OriginPolicy.of(["*"])
    assert anyone.refusal({**HOST, "origin": "https://evil.example"}, secure=False) is None


@pytest.mark.parametrize("bad", ["app.example.com", "ftp://x.example", "https://a.example/path"])
def test_an_allowed_origin_must_be_an_origin(bad: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        OriginPolicy.of([bad])
