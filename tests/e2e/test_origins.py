"""The Origin check against a real server: another site's page cannot open a session on
a local server; the server's own pages, allowed origins and programs can."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

LIVE = "ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=k"
SETUP = json.dumps({"setup": {"model": "models/gemini-live-2.5-flash-preview"}})


@pytest.fixture(scope="module")
def allowing(data_dir: Path) -> Iterator[Server]:
    running = start_server(data_dir, "--allow-origin", "https://app.example.com", "--no-warm-up")
    yield running
    stop_server(running)


def opens(server: Server, origin: str | None) -> bool:
    """Whether a handshake with this Origin gets a session (setupComplete)."""
    url = f"ws://127.0.0.1:{server.port}/{LIVE}"
    try:
        with connect(url, origin=origin, open_timeout=10) as ws:
            ws.send(SETUP)
            return "setupComplete" in json.loads(ws.recv(timeout=10))
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        assert b"may not open Live sessions here" in refused.response.body
        return False


def test_a_page_of_another_site_is_refused_at_the_handshake(server: Server) -> None:
    assert not opens(server, "https://evil.example")
    assert not opens(server, f"http://127.0.0.1:{server.port + 1}")
    assert not opens(server, "null")


def test_the_servers_own_pages_and_programs_open_sessions(server: Server) -> None:
    assert opens(server, f"http://127.0.0.1:{server.port}")
    assert opens(server, None)  # the SDKs send no Origin


def test_an_allowed_origin_opens_sessions(allowing: Server) -> None:
    assert opens(allowing, "https://app.example.com")
    assert not opens(allowing, "https://other.example.com")
