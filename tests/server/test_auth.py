"""Where credentials are found, in the order PROTOCOL.md §1.4 gives; no event loop."""

from __future__ import annotations

import pytest

from openlive.server.auth import Credential, find_credential, find_token


@pytest.mark.parametrize(
    ("headers", "query", "found"),
    [
        ({"x-goog-api-key": "k1"}, {}, Credential("key", "k1")),
        ({}, {"key": "k2"}, Credential("key", "k2")),
        ({"authorization": "Token t1"}, {}, Credential("token", "t1")),
        ({}, {"access_token": "t2"}, Credential("token", "t2")),
        ({"authorization": "Bearer b1"}, {}, Credential("bearer", "b1")),  # OpenAI clients
        ({"authorization": "bearer  b2 "}, {}, Credential("bearer", "b2")),
        ({"x-goog-api-key": "k1", "authorization": "Bearer b1"}, {}, Credential("key", "k1")),
        ({"authorization": "Bearer"}, {}, None),
        ({"authorization": "Basic abc"}, {}, None),
        ({}, {}, None),
    ],
)
def test_credentials_are_found_where_clients_put_them(
    headers: dict[str, str], query: dict[str, str], found: Credential | None
) -> None:
    assert find_credential(headers, query) == found


def test_a_token_is_found_only_where_tokens_go() -> None:
    assert find_token({"authorization": "Token t1"}, {}) == "t1"
    assert find_token({}, {"access_token": "t2"}) == "t2"
    assert find_token({"authorization": "Bearer b1"}, {}) is None
