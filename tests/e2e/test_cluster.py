"""Two `openlive serve` nodes behind HAProxy, sharing their state in Redis: real
processes on loopback, driven through the balancer with the official SDKs.

A session that loses its node (kill -9, or SIGTERM's goAway) carries on on the other
with its whole history; a one-use token admits one session across both nodes, however
many race for it; Redis going away refuses what needs it, clearly and at once, and
harms nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from openlive.server.tls import ensure_tls_files

from ..conftest import OPENLIVE, Server, free_port, start_server, stop_server
from ..services import HAProxy, RedisServer, start_haproxy, start_redis
from .live import JS, MODEL, ask, prompt_tokens
from .test_functions import FORECAST, WEATHER, next_tool_call
from .test_functions import config as functions_config
from .test_resumption import (
    ANSWER,
    FACT,
    QUESTION,
    SYSTEM,
    Conversation,
    config,
    first_turn,
    resumed_turn,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning"),
]

STARTED = "openlive_sessions_started"
TEXT = {"response_modalities": ["TEXT"], "max_output_tokens": 8}
SLOTS = 16
"""Sessions a node admits (text sessions are light): room for the twenty that race for
one token across both nodes."""


@dataclass
class Cluster:
    redis: RedisServer
    nodes: list[Server]
    balancer: HAProxy
    args: tuple[str, ...]

    def restart(self, index: int) -> None:
        """Start node `index` again on its port, and wait until the balancer sees it."""
        old = self.nodes[index]
        stop_server(old)
        self.nodes[index] = start_server(old.data_dir, *self.args, port=old.port)
        self.balancer.wait(f"node{index}", "UP")

    def sessions_started(self) -> list[float]:
        return [node.metric(STARTED) for node in self.nodes]


@pytest.fixture(scope="module")
def cluster(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis = start_redis(tmp_path_factory.mktemp("redis"))
    args = ("--state-url", redis.url, "--no-warm-up", "--max-sessions", str(SLOTS))
    nodes = [start_server(data_dir, *args) for _ in range(2)]
    tls = ensure_tls_files(data_dir, ("127.0.0.1",))  # the nodes' CA signs it
    balancer = start_haproxy(
        tmp_path_factory.mktemp("haproxy"), [n.port for n in nodes], tls.cert, tls.key
    )
    running = Cluster(redis, nodes, balancer, args)
    try:
        for i in range(len(nodes)):
            balancer.wait(f"node{i}", "UP")
        yield running
    finally:
        balancer.stop()
        for node in running.nodes:
            stop_server(node)
        redis.stop()


@pytest.fixture(autouse=True)
def trust(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", cluster.nodes[0].env["SSL_CERT_FILE"])


def at(url: str, key: str = "test-key", version: str = "v1beta") -> genai.Client:
    return genai.Client(api_key=key, http_options={"base_url": url, "api_version": version})


# --- a session outlives its node ------------------------------------------------------


async def test_kill_9_a_node_and_the_session_goes_on_on_the_other(cluster: Cluster) -> None:
    talk = Conversation()
    before = cluster.sessions_started()
    await first_turn(cluster.balancer, talk)  # type: ignore[arg-type]  # `.https` is all
    assert cluster.sessions_started() == [before[0] + 1, before[1]], "not on node A"

    cluster.nodes[0].process.kill()  # nothing more is saved
    cluster.nodes[0].process.wait()
    turn = await resumed_turn(cluster.balancer, talk)  # type: ignore[arg-type]
    assert ANSWER in turn.text, turn.text
    assert cluster.nodes[1].metric(STARTED) == before[1] + 1, "not resumed on node B"
    cluster.restart(0)


async def test_sigterm_sends_goaway_and_the_balancer_moves_the_session(
    cluster: Cluster,
) -> None:
    talk = Conversation()
    await first_turn(cluster.balancer, talk)  # type: ignore[arg-type]
    node_a = cluster.nodes[0]
    health_while_draining: list[int] = []
    with pytest.raises(errors.APIError) as caught:
        async with at(cluster.balancer.https).aio.live.connect(
            model=MODEL, config=config(talk.handle)
        ) as session:
            await talk.next_handle(session)
            node_a.process.send_signal(signal.SIGTERM)
            while True:
                async for message in session.receive():
                    talk.note(message)
                    if message.go_away is not None:
                        health = await asyncio.to_thread(_health, node_a)
                        health_while_draining.append(health)
    assert caught.value.code == 1012
    assert talk.go_away is not None
    assert health_while_draining == [503], "a draining node must fail the health check"
    # A client that moves at once may still reach A before its check fails; it would
    # be refused with 1011 "unavailable" and try again. Wait for the check instead.
    await asyncio.to_thread(cluster.balancer.wait, "node0", "DOWN")
    before_b = cluster.nodes[1].metric(STARTED)
    turn = await resumed_turn(cluster.balancer, talk)  # type: ignore[arg-type]
    assert ANSWER in turn.text, turn.text
    assert cluster.nodes[1].metric(STARTED) == before_b + 1
    cluster.restart(0)


def _health(node: Server) -> int:
    return httpx.get(f"{node.http}/healthz", timeout=5).status_code


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
async def test_javascript_sdk_fails_over(cluster: Cluster, stop: str) -> None:
    env = {**os.environ, **cluster.nodes[0].env, "GOOGLE_GEMINI_BASE_URL": cluster.balancer.https}
    process = await asyncio.create_subprocess_exec(
        "node", "failover.mjs", cwd=JS, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        said = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        node_a = cluster.nodes[0].process
        node_a.kill() if stop == "kill -9" else node_a.send_signal(signal.SIGTERM)
        await asyncio.to_thread(node_a.wait)  # SIGTERM: goAway, then 1012, then it exits
        await asyncio.to_thread(cluster.balancer.wait, "node0", "DOWN")
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    asked = json.loads(out)
    history = [
        ("system", SYSTEM),
        ("user", FACT),
        ("assistant", said["answer"]),
        ("user", QUESTION),
    ]
    assert asked["promptTokenCount"] == prompt_tokens(history)
    assert ANSWER in asked["answer"], asked
    assert asked["goAway"] is (stop == "SIGTERM"), "goAway comes before a graceful stop only"
    cluster.restart(0)


async def test_a_pending_call_is_answered_on_the_other_node(cluster: Cluster) -> None:
    """A NON_BLOCKING call still pending when its node dies is answered on the other."""
    background = WEATHER.model_copy(update={"behavior": types.Behavior.NON_BLOCKING})
    setup = {**functions_config(background), "session_resumption": {}}
    talk = Conversation()
    async with at(cluster.balancer.https).aio.live.connect(model=MODEL, config=setup) as session:
        first = await talk.next_handle(session)  # the one sent after setupComplete
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "What's the weather like in Paris?"}]}
        )
        [call] = (await next_tool_call(session)).function_calls or []
        async for message in session.receive():  # the turn ends: the call runs meanwhile
            talk.note(message)
        if talk.handle == first:
            await talk.next_handle(session)  # the handle whose snapshot holds the call
        cluster.nodes[0].process.kill()
        cluster.nodes[0].process.wait()
    before_b = cluster.nodes[1].metric(STARTED)
    resumed = {**setup, "session_resumption": {"handle": talk.handle}}
    async with at(cluster.balancer.https).aio.live.connect(model=MODEL, config=resumed) as session:
        answer = types.FunctionResponse(id=call.id, name=call.name, response=FORECAST)
        # an id that matched no pending call would close with 1007
        await session.send_tool_response(function_responses=[answer])
        text = ""
        async for message in session.receive():  # to the answer's turnComplete
            talk.note(message)
            text += message.text or ""
    assert text.strip(), "the call's answer must be given on B"
    assert cluster.nodes[1].metric(STARTED) == before_b + 1, "not resumed on node B"
    cluster.restart(0)


async def test_a_full_node_leaves_the_rotation_and_sessions_resume_elsewhere(
    cluster: Cluster,
) -> None:
    talk = Conversation()
    await first_turn(cluster.balancer, talk)  # type: ignore[arg-type]
    async with contextlib.AsyncExitStack() as held:
        for _ in range(SLOTS):  # `balance first`: they fill node A
            await held.enter_async_context(
                at(cluster.balancer.https).aio.live.connect(model=MODEL, config=TEXT)
            )
        health = await asyncio.to_thread(_health, cluster.nodes[0])
        assert health == 503, "a full node must fail the health check"
        await asyncio.to_thread(cluster.balancer.wait, "node0", "DOWN")
        before_b = cluster.nodes[1].metric(STARTED)
        turn = await resumed_turn(cluster.balancer, talk)  # type: ignore[arg-type]
        assert ANSWER in turn.text, turn.text
        assert cluster.nodes[1].metric(STARTED) == before_b + 1, "not resumed on node B"
    await asyncio.to_thread(cluster.balancer.wait, "node0", "UP")  # back once it has room


# --- tokens across nodes ---------------------------------------------------------------


def _token(node: Server, uses: int) -> str:
    maker = at(node.https, version="v1alpha")
    name = maker.auth_tokens.create(config={"uses": uses}).name
    assert name is not None
    return name


async def _attempt(node: Server, token: str) -> str:
    try:
        async with at(node.https, key=token, version="v1alpha").aio.live.connect(
            model=MODEL, config=TEXT
        ) as session:
            assert (await ask(session, "Hi")).text
            return "connected"
    except errors.APIError as exc:
        return f"{exc.code} {exc.details}"


async def test_a_one_use_token_admits_one_session_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes
    token = await asyncio.to_thread(_token, a, 1)
    assert await _attempt(b, token) == "connected"  # made on A, spent on B
    used_up = "1011 Token has been used too many times"
    assert await _attempt(a, token) == used_up
    assert await _attempt(b, token) == used_up

    token = await asyncio.to_thread(_token, b, 1)
    outcomes = await asyncio.gather(*(_attempt(cluster.nodes[i % 2], token) for i in range(20)))
    assert sorted(outcomes) == [used_up] * 19 + ["connected"]


# --- Redis goes away and comes back ------------------------------------------------------


async def test_without_redis_only_what_needs_it_is_refused(cluster: Cluster) -> None:
    talk = Conversation()
    await first_turn(cluster.balancer, talk)  # type: ignore[arg-type]
    cluster.redis.stop()
    try:
        # A session goes on as ever; it is sent no handle while none can be stored.
        resumable = {**TEXT, "session_resumption": {}}
        async with at(cluster.balancer.https).aio.live.connect(
            model=MODEL, config=resumable
        ) as session:
            turn = await ask(session, "Hello")  # fails on any message but serverContent
            assert turn.text
        # Resuming needs the store: a clear 1011, at once.
        started = time.monotonic()
        with pytest.raises(errors.APIError) as caught:
            async with at(cluster.balancer.https).aio.live.connect(
                model=MODEL, config=config(talk.handle)
            ) as session:
                async for _ in session.receive():
                    pass
        assert time.monotonic() - started < 3
        assert (caught.value.code, caught.value.details) == (
            1011,
            "The service is currently unavailable.",
        )
        with pytest.raises(errors.APIError) as refused:
            await asyncio.to_thread(_token, cluster.nodes[0], 1)
        assert refused.value.code == 503
        for node in cluster.nodes:  # no node died of it
            assert node.process.poll() is None
    finally:
        cluster.redis.start()
    # Back, with all it had: the conversation from before the outage resumes...
    assert ANSWER in (await resumed_turn(cluster.balancer, talk)).text  # type: ignore[arg-type]
    # ...and new ones keep their handles again.
    again = Conversation()
    await first_turn(cluster.balancer, again)  # type: ignore[arg-type]
    assert ANSWER in (await resumed_turn(cluster.balancer, again)).text  # type: ignore[arg-type]


def test_a_node_refuses_to_start_without_its_redis(data_dir: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [*OPENLIVE, "serve", "--state-url", f"redis://127.0.0.1:{port}/0", "--no-warm-up",
         "--port", str(free_port()), "--tls-port", "0", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot reach Redis at 127.0.0.1:{port}" in done.stderr
