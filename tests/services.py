"""Real services the tests run beside OpenLive: Redis and HAProxy, from Debian's packages
(`make test` installs them when missing), each on free loopback ports, in a temporary
folder, stopped at the end."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .conftest import free_port

__all__ = ["HAProxy", "RedisServer", "start_haproxy", "start_redis"]


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"not listening on {port}:\n{log.read_text(errors='replace')}")


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} is not installed: `make test` installs it")
    return found


@dataclass
class RedisServer:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port) Redis, with its append-only file
        written through on every change (as docs/deployment.md advises): a Redis killed
        and started again has everything it had."""
        log = self.folder / "redis.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    _binary("redis-server"),
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    "--dir", str(self.folder),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_listening(self.port, self.process, log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_redis(folder: Path) -> RedisServer:
    folder.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(free_port(), folder)
    redis.start()
    return redis


@dataclass
class HAProxy:
    port: int
    process: subprocess.Popen[bytes]
    admin: Path
    """Its stats socket."""

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def status(self) -> dict[str, str]:
        """Each node's state as the health checks see it: {"node0": "UP", ...}."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.admin))
            s.sendall(b"show stat\n")
            data = b"".join(iter(lambda: s.recv(65536), b""))
        header, *lines = data.decode().splitlines()
        status = header.lstrip("# ").split(",").index("status")
        rows = [line.split(",") for line in lines if line]
        return {r[1]: r[status] for r in rows if r[0] == "nodes" and r[1].startswith("node")}

    def wait(self, node: str, state: str, timeout: float = 10) -> None:
        """Wait until the balancer sees `node` as `state` ("UP", "DOWN")."""
        deadline = time.monotonic() + timeout
        while (seen := self.status().get(node)) != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"{node} is {seen}, not {state}: {self.status()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


HAPROXY_CONFIG = """\
# Session nodes behind one TLS address. WebSockets need only `timeout tunnel`; the
# health check takes a draining or full node out within a second.
global
    log stderr format raw local0 notice
    stats socket {admin} level admin

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch 1
    retries 3
    retry-on conn-failure

frontend live
    bind 127.0.0.1:{port} ssl crt {pem}
    default_backend nodes

backend nodes
    balance {balance}
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 300ms fall 1 rise 1
{servers}
"""


def start_haproxy(
    folder: Path, nodes: list[int], cert: Path, key: Path, balance: str = "first"
) -> HAProxy:
    """HAProxy on a free port, terminating TLS with `cert` and `key`, in front of the
    nodes on `nodes` (their plain HTTP ports). `balance first` fills the first healthy
    node first: the tests know where a new session lands."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pem = folder / "balancer.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    admin = folder / "admin.sock"
    servers = "\n".join(
        f"    server node{i} 127.0.0.1:{p} check maxconn 1000" for i, p in enumerate(nodes)
    )
    config = folder / "haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(port=port, pem=pem, admin=admin, balance=balance, servers=servers)
    )
    log = folder / "haproxy.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [_binary("haproxy"), "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    _wait_listening(port, process, log)
    return HAProxy(port, process, admin)
