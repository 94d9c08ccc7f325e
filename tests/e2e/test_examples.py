"""The documentation's examples, unmodified, against a real server.

Each runs in its own process with nothing but the environment that `openlive env`
prints: the same way an existing app is pointed at OpenLive.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ..conftest import ROOT, Server

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "tests" / "examples"
JS = ROOT / "tests" / "js"


def run(command: list[str], server: Server, cwd: os.PathLike[str] | str = ROOT) -> str:
    env = {**os.environ, **server.env}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_python_connect(server: Server) -> None:
    assert run([sys.executable, str(EXAMPLES / "connect.py")], server) == "Session started\n"


def test_python_send_and_receive_text(server: Server) -> None:
    before = server.metric("openlive_llm_replies")
    out = run([sys.executable, str(EXAMPLES / "send_receive_text.py")], server)
    assert out.strip(), "the model said nothing"
    assert server.metric("openlive_llm_replies") == before + 1


def test_python_incremental_content_updates(server: Server) -> None:
    out = run([sys.executable, str(EXAMPLES / "incremental_updates.py")], server)
    assert out.strip()


def test_js_connect(server: Server) -> None:
    out = run(["node", "examples/connect.mjs"], server, cwd=JS)
    lines = out.splitlines()
    assert lines[0] == "Opened"
    assert re.search(r"setupComplete: \{ sessionId: '[0-9a-f-]{36}' \}", out), out
    assert lines[-1].startswith("Close:")


def test_js_send_and_receive_text(server: Server) -> None:
    out = run(["node", "examples/send_receive_text.mjs"], server, cwd=JS)
    texts = [
        line.removeprefix("Received text: ")
        for line in out.splitlines()
        if line.startswith("Received text: ")
    ]
    assert "".join(texts).strip(), out
    assert "got error" not in out


def run_js_connect(server: Server, *args: str, **env: str) -> str:
    command = ["node", "connect_error.mjs", *args]
    saved = dict(server.env)
    server.env.update(env)
    try:
        return run(command, server, cwd=JS)
    finally:
        server.env.clear()
        server.env.update(saved)


def test_js_plain_websocket(server: Server) -> None:
    out = run_js_connect(server, GOOGLE_GEMINI_BASE_URL=server.http)
    assert out == "connected\n"


def test_js_wrong_key_closes_with_1008(keyed_server: Server) -> None:
    out = run_js_connect(keyed_server, GEMINI_API_KEY="wrong", GOOGLE_API_KEY="wrong")
    assert "rejected: Live connection closed before setup completed (code 1008)" in out
    assert "onclose: 1008 API key not valid. Please pass a valid API key." in out
    right = run_js_connect(keyed_server, GEMINI_API_KEY="right-key", GOOGLE_API_KEY="right-key")
    assert right == "connected\n"


def test_js_unknown_model_closes_with_1008(server: Server) -> None:
    out = run_js_connect(server, "no-such-model")
    assert "onclose: 1008 Requested entity was not found." in out
