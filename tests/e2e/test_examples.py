"""The documentation's examples, unmodified, against a real server.

Each runs in its own process with nothing but the environment that `openlive env`
prints: the same way an existing app is pointed at OpenLive.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import ROOT, Server

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "tests" / "examples"
JS = ROOT / "tests" / "js"


def run(command: list[str], server: Server, cwd: os.PathLike[str] | str = ROOT) -> str:
    env = {**os.environ, **server.env}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=120)
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
    assert "setupComplete: {}" in out
    assert lines[-1].startswith("Close:")


def test_js_send_and_receive_text(server: Server) -> None:
    out = run(["node", "examples/send_receive_text.mjs"], server, cwd=JS)
    texts = [line.removeprefix("Received text: ") for line in out.splitlines()
             if line.startswith("Received text: ")]
    assert "".join(texts).strip(), out
    assert "got error" not in out
