"""Installing: a wheel built from the project, installed with pip alone in a new virtual
environment, serves the embedded models (nothing left to the Makefile)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import ROOT, free_port, wait_healthy

pytestmark = pytest.mark.e2e

LIVE = "ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
PROSODY = """
import numpy as np
from openlive.pipeline.affect import measure
from openlive.pipeline.replica import traits
t = np.arange(16000) / 16000
voice = (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32)
assert 120 < measure(voice).pitch < 180, measure(voice)
assert traits(voice).voiced > 0.2, traits(voice)
"""


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


def test_a_wheel_installed_with_pip_alone_serves_the_embedded_models(tmp_path: Path) -> None:
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, ".")
    (wheel,) = wheels.glob("openlive-*.whl")
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", wheel, cwd=tmp_path)
    # what only some sessions import, when they need it (affective dialog, a voice from
    # a sample), is installed too
    run(venv / "bin" / "python", "-c", PROSODY, cwd=tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [venv / "bin" / "openlive", "serve", "--port", str(port), "--tls-port", "0"]
            + ["--data-dir", str(tmp_path / "data")],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,  # not the checkout: only what the wheel installed
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server, log, timeout=90)
        assert "Start" in httpx.get(f"{base}/", timeout=5).text  # the playground shipped
        with connect(f"ws://127.0.0.1:{port}/{LIVE}?key=any", open_timeout=10) as ws:
            config = {"responseModalities": ["TEXT"], "temperature": 0}
            setup = {
                "model": "models/gemini-live-2.5-flash-preview",
                "generationConfig": config,
                "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]},
            }
            ws.send(json.dumps({"setup": setup}))
            assert "setupComplete" in json.loads(ws.recv(timeout=10))
            turn = {"role": "user", "parts": [{"text": "What is the capital of France?"}]}
            ws.send(json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}}))
            text = ""
            while True:
                message = json.loads(ws.recv(timeout=30)).get("serverContent", {})
                parts = message.get("modelTurn", {}).get("parts", [])
                text += "".join(part.get("text", "") for part in parts)
                if message.get("turnComplete"):
                    break
        assert "Paris" in text
    finally:
        server.terminate()
        server.wait(10)
