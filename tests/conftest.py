"""Shared fixtures: real OpenLive server processes on free ports."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
OPENLIVE = [sys.executable, "-m", "openlive"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `openlive serve` process."""

    port: int
    tls_port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    keys: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    def ws_url(self, version: str = "v1beta", key: str | None = "test-key") -> str:
        path = f"/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?key={key}" if key else "")

    def metrics(self) -> dict[str, float]:
        """The Prometheus samples, as {"name{labels}": value}."""
        text = httpx.get(f"{self.http}/metrics", timeout=5).text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def metric(self, prefix: str) -> float:
        return sum(v for k, v in self.metrics().items() if k.startswith(prefix))

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    data_dir: Path,
    *args: str,
    keys: tuple[str, ...] = (),
    port: int | None = None,
    src: str | None = None,
) -> Server:
    """`openlive serve ARGS` on free ports (or on `port`, to start a node again where a
    load balancer expects it), once it is healthy; `src`: the `src` folder of another
    checkout, whose code it runs (the benchmarks' baselines)."""
    port, tls_port = port or free_port(), free_port()
    common = ["--port", str(port), "--tls-port", str(tls_port), "--data-dir", str(data_dir)]
    for key in keys:
        common += ["--api-key", key]
    log = data_dir / f"server-{port}.log"
    # The tests' clients share the two cores with the server: llama.cpp's OpenMP threads
    # must not spin while they wait (docs/configuration.md, "Shared machines").
    env = {**os.environ, "OPENLIVE_API_KEYS": "", "OMP_WAIT_POLICY": "PASSIVE"}
    if src is not None:
        env["PYTHONPATH"] = src
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*OPENLIVE, "serve", *common, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    server = Server(port, tls_port, data_dir, process, log, keys)
    wait_healthy(server.http, process, log)
    printed = subprocess.run(
        [*OPENLIVE, "env", *common], capture_output=True, text=True, check=True, env=env
    ).stdout
    for line in printed.splitlines():
        if not line.startswith("export "):
            continue  # `unset GOOGLE_API_KEY`: the tests' environment has none
        name, _, value = line.removeprefix("export ").partition("=")
        server.env[name] = shlex.split(value)[0] if value else ""
    return server


def wait_healthy(
    http: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Wait until the `openlive serve` at `http` answers /healthz with 200; raise, with
    its log, if it exits or is not healthy within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"openlive serve exited {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{http}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    output = log.read_text(errors="replace")
    raise RuntimeError(f"openlive serve did not become healthy:\n{output}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder (so one CA) for every server of the run."""
    return tmp_path_factory.mktemp("openlive-data")


@pytest.fixture(scope="session")
def server(data_dir: Path) -> Iterator[Server]:
    """The default server: embedded models, any key accepted on loopback."""
    running = start_server(data_dir)
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def keyed_server(data_dir: Path) -> Iterator[Server]:
    """A server that accepts only the key `right-key`."""
    running = start_server(data_dir, keys=("right-key",))
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def sdk_env(server: Server) -> Iterator[dict[str, str]]:
    """Point this test process's SDK at the default server, as `openlive env` says."""
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    yield server.env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
