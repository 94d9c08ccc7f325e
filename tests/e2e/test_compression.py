"""Context window compression through the official Python SDK, on the embedded model: a
session of 100 turns with a sliding window stays under `triggerTokens` and keeps
answering; the same turns without one make the prompt grow past it."""

from __future__ import annotations

import pytest

from ..conftest import Server
from .live import MODEL, ask, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

TRIGGER = 400
TARGET = 200


def config(compression: bool) -> dict[str, object]:
    return {
        "response_modalities": ["TEXT"],
        "system_instruction": "You are a terse assistant.",
        "max_output_tokens": 6,
        "temperature": 0,
        **(
            {
                "context_window_compression": {
                    "trigger_tokens": TRIGGER,
                    "sliding_window": {"target_tokens": TARGET},
                }
            }
            if compression
            else {}
        ),
    }


async def test_a_hundred_turns_in_a_sliding_window(server: Server) -> None:
    prompts = []
    async with client(server).aio.live.connect(model=MODEL, config=config(True)) as session:
        for i in range(100):
            turn = await ask(session, f"Note number {i}: the sky is blue. Say ok.")
            assert turn.text.strip(), f"turn {i} got no answer"
            assert turn.usage is not None and turn.usage.prompt_token_count is not None
            prompts.append(turn.usage.prompt_token_count)
    assert max(prompts) < TRIGGER, prompts
    # it did slide: the prompt came back down several times, and stayed near the window
    drops = sum(1 for a, b in zip(prompts, prompts[1:], strict=False) if b < a)
    assert drops >= 10, prompts
    assert min(prompts[20:]) >= TARGET // 2, prompts


async def test_without_compression_the_prompt_grows(server: Server) -> None:
    prompts = []
    async with client(server).aio.live.connect(model=MODEL, config=config(False)) as session:
        for i in range(20):
            turn = await ask(session, f"Note number {i}: the sky is blue. Say ok.")
            assert turn.usage is not None and turn.usage.prompt_token_count is not None
            prompts.append(turn.usage.prompt_token_count)
    assert prompts == sorted(prompts) and prompts[-1] > TRIGGER, prompts
