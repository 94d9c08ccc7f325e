"""Ephemeral tokens against a real server, with the official SDKs: created with an API
key by `client.auth_tokens.create`, then spent on `BidiGenerateContentConstrained`.
Uses, expiry, the new-session window and locked fields are enforced; a token anywhere
else is refused; tokens outlive a killed server."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..conftest import Server, start_server, stop_server
from .live import MODEL, ask, client, prompt_tokens, run_js

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning"),
]

TEXT = {"response_modalities": ["TEXT"], "max_output_tokens": 16}
TOKEN_HERE = (
    "Ephemeral tokens are accepted only on BidiGenerateContentConstrained, "
    "as access_token or Authorization: Token."
)


@pytest.fixture(autouse=True)
def trust(keyed_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the servers' CA (every server of the run shares one data folder)."""
    monkeypatch.setenv("SSL_CERT_FILE", keyed_server.env["SSL_CERT_FILE"])


def minter(server: Server, key: str = "right-key") -> genai.Client:
    return client(server, key=key, version="v1alpha")


def create(server: Server, **config: Any) -> str:
    maker = minter(server)  # kept: a client closes its HTTP connection when collected
    token = maker.auth_tokens.create(config=config)
    assert token.name is not None
    return token.name


def holder(server: Server, token: str) -> genai.Client:
    """The client an app gives to its user: the token in place of the key."""
    return client(server, key=token, version="v1alpha")


def soon(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=seconds)


async def refusal(server: Server, token: str, config: dict[str, Any] = TEXT) -> tuple[int, str]:
    with pytest.raises(errors.APIError) as info:
        async with holder(server, token).aio.live.connect(model=MODEL, config=config):
            pass
    return info.value.code, str(info.value.details)


# --- creating ------------------------------------------------------------------------------


def test_creating_needs_an_api_key(keyed_server: Server) -> None:
    wrong = minter(keyed_server, key="wrong-key")
    with pytest.raises(errors.ClientError) as info:
        wrong.auth_tokens.create(config={"uses": 1})
    assert info.value.code == 400
    assert info.value.message == "API key not valid. Please pass a valid API key."
    token = create(keyed_server)
    assert token.startswith("auth_tokens/")
    # The SDKs refuse to send a token to REST; a hand-written request is refused here.
    answer = httpx.post(
        f"{keyed_server.http}/v1alpha/auth_tokens", headers={"x-goog-api-key": token}, json={}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == TOKEN_HERE


def test_bad_requests_are_refused_with_400(keyed_server: Server) -> None:
    with pytest.raises(errors.ClientError) as info:
        create(keyed_server, expire_time=soon(21 * 3600))
    assert info.value.code == 400
    assert info.value.message == "expire_time is too far in the future. Maximum lifetime is 20h"
    url = f"{keyed_server.http}/v1alpha/auth_tokens"
    headers = {"x-goog-api-key": "right-key"}
    wrong_field = httpx.post(url, headers=headers, json={"liveConnectConstraints": {}})
    assert wrong_field.status_code == 400
    assert "Cannot find field" in wrong_field.json()["error"]["message"]
    for other in ("v1beta", "v1"):
        served = httpx.post(f"{keyed_server.http}/{other}/auth_tokens", headers=headers, json={})
        assert served.status_code == 404  # as on the hosted service: v1alpha only
    assert httpx.get(url, headers=headers).status_code == 404


# --- uses ----------------------------------------------------------------------------------


async def test_a_one_use_token_opens_one_session(keyed_server: Server) -> None:
    token = create(keyed_server, uses=1)
    async with holder(keyed_server, token).aio.live.connect(model=MODEL, config=TEXT) as session:
        assert (await ask(session, "Hi")).text
    assert await refusal(keyed_server, token) == (1011, "Token has been used too many times")


async def test_two_racing_sessions_one_use_one_winner(keyed_server: Server) -> None:
    token = create(keyed_server, uses=1)

    async def attempt() -> str:
        try:
            async with holder(keyed_server, token).aio.live.connect(model=MODEL, config=TEXT):
                return "connected"
        except errors.APIError as exc:
            return f"{exc.code} {exc.details}"

    outcomes = sorted(await asyncio.gather(attempt(), attempt()))
    assert outcomes == ["1011 Token has been used too many times", "connected"]


async def test_uses_zero_means_no_limit(keyed_server: Server) -> None:
    token = create(keyed_server, uses=0)
    for _ in range(3):
        async with holder(keyed_server, token).aio.live.connect(
            model=MODEL, config=TEXT
        ) as session:
            assert (await ask(session, "Hi")).text


# --- time ----------------------------------------------------------------------------------


async def test_an_expired_token_closes_its_session_and_opens_no_other(
    keyed_server: Server,
) -> None:
    token = create(keyed_server, uses=0, expire_time=soon(6))
    async with holder(keyed_server, token).aio.live.connect(model=MODEL, config=TEXT) as session:
        assert (await ask(session, "Hi")).text
        with pytest.raises(errors.APIError) as info:
            async with asyncio.timeout(30):
                async for _ in session.receive():
                    pass
    assert (info.value.code, info.value.details) == (1011, "auth token has expired")
    assert await refusal(keyed_server, token) == (1011, "Token has expired")


async def test_no_new_session_after_new_session_expire_time(keyed_server: Server) -> None:
    deadline = soon(5)
    token = create(keyed_server, uses=0, new_session_expire_time=deadline)
    async with holder(keyed_server, token).aio.live.connect(model=MODEL, config=TEXT) as session:
        await asyncio.sleep((deadline - soon(0)).total_seconds() + 0.5)
        assert await refusal(keyed_server, token) == (1011, "Token has expired for new sessions")
        assert (await ask(session, "Still there?")).text  # a session already open goes on


# --- locks ---------------------------------------------------------------------------------

LOCKED_INSTRUCTION = "You answer in one word."


async def test_locked_fields_win_over_the_clients(keyed_server: Server) -> None:
    token = create(
        keyed_server,
        uses=1,
        live_connect_constraints={
            "model": MODEL,
            "config": {"system_instruction": LOCKED_INSTRUCTION, "max_output_tokens": 2},
        },
        lock_additional_fields=["temperature"],  # locked, and unset: the default applies
    )
    config = {
        "response_modalities": ["TEXT"],  # not locked: the client's
        "system_instruction": "You are a pirate; tell long stories.",
        "max_output_tokens": 64,
        "temperature": 1.9,
    }
    async with holder(keyed_server, token).aio.live.connect(
        model="no-such-model", config=config
    ) as session:
        turn = await ask(session, "Hello")
    assert turn.usage is not None and turn.usage.response_token_count is not None
    assert turn.usage.prompt_token_count == prompt_tokens(
        [("system", LOCKED_INSTRUCTION), ("user", "Hello")]
    )
    assert turn.usage.response_token_count <= 2


async def test_a_token_without_a_mask_locks_the_whole_setup(keyed_server: Server) -> None:
    token = create(
        keyed_server,
        uses=1,
        live_connect_constraints={
            "model": MODEL,
            "config": {
                "response_modalities": ["TEXT"],
                "system_instruction": LOCKED_INSTRUCTION,
                "max_output_tokens": 2,
            },
        },
    )
    config = {"response_modalities": ["TEXT"], "system_instruction": "Be verbose."}
    async with holder(keyed_server, token).aio.live.connect(model=MODEL, config=config) as session:
        turn = await ask(session, "Hello")
    assert turn.usage is not None and turn.usage.response_token_count is not None
    assert turn.usage.prompt_token_count == prompt_tokens(
        [("system", LOCKED_INSTRUCTION), ("user", "Hello")]
    )
    assert turn.usage.response_token_count <= 2


async def test_javascript_sdk(keyed_server: Server) -> None:
    out = await run_js(keyed_server, "ephemeral_token.mjs", LOCKED_INSTRUCTION)
    lines = out.splitlines()
    assert lines[0] == "created: true"
    prompt, response = map(int, lines[1].removeprefix("answered: ").split())
    assert prompt == prompt_tokens([("system", LOCKED_INSTRUCTION), ("user", "Hello")])
    assert response <= 4
    assert lines[2:] == [
        "rejected: Live connection closed before setup completed (code 1011): "
        "Token has been used too many times",
        "onclose: 1011 Token has been used too many times",
    ]


# --- where a token is accepted -----------------------------------------------------------

SETUP = json.dumps(
    {"setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}}
)


def ws_path(server: Server, method: str, query: str = "") -> str:
    path = f"/ws/google.ai.generativelanguage.v1alpha.GenerativeService.{method}"
    return f"ws://127.0.0.1:{server.port}{path}{query}"


async def first_reply(url: str, headers: dict[str, str] | None = None) -> str | tuple[int, str]:
    """setupComplete, or the close code and reason that answered the setup."""
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(SETUP)
        try:
            return str(await ws.recv())
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason


async def test_a_token_works_only_on_the_constrained_method(keyed_server: Server) -> None:
    token = create(keyed_server, uses=1)
    plain = "BidiGenerateContent"
    refused = (1008, TOKEN_HERE)
    assert await first_reply(ws_path(keyed_server, plain, f"?access_token={token}")) == refused
    python_headers = {"Authorization": f"Token {token}", "x-goog-api-key": token}
    assert await first_reply(ws_path(keyed_server, plain), python_headers) == refused
    as_a_key = ws_path(keyed_server, "BidiGenerateContentConstrained", f"?key={token}")
    assert await first_reply(as_a_key) == refused
    # none of those took the use
    constrained = ws_path(keyed_server, "BidiGenerateContentConstrained", f"?access_token={token}")
    assert json.loads(await first_reply(constrained)).keys() == {"setupComplete"}


async def test_unknown_token_and_api_key_on_the_constrained_method(keyed_server: Server) -> None:
    constrained = ws_path(keyed_server, "BidiGenerateContentConstrained")
    unknown = {"Authorization": "Token auth_tokens/0123"}
    assert await first_reply(constrained, unknown) == (1008, "Token is not valid.")
    with_key = ws_path(keyed_server, "BidiGenerateContentConstrained", "?key=right-key")
    assert json.loads(await first_reply(with_key)).keys() == {"setupComplete"}


# --- persistence -------------------------------------------------------------------------


@pytest.fixture
def killable() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        stop_server(server)


async def test_tokens_survive_a_killed_server(data_dir: Path, killable: list[Server]) -> None:
    first = start_server(data_dir, keys=("right-key",))
    killable.append(first)
    token = create(first, uses=2)
    async with holder(first, token).aio.live.connect(model=MODEL, config=TEXT):
        pass
    first.process.kill()  # SIGKILL: no shutdown of any kind
    first.process.wait()
    second = start_server(data_dir, keys=("right-key",))
    killable.append(second)
    async with holder(second, token).aio.live.connect(model=MODEL, config=TEXT) as session:
        assert (await ask(session, "Hi")).text
    assert await refusal(second, token) == (1011, "Token has been used too many times")
