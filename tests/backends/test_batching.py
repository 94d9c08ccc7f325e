"""Continuous batching on the embedded model (SmolLM2-135M, loaded for the module).

What sharing the model between replies must keep: a reply that starts while another
runs gets its first token at once, not when the other ends; each conversation keeps its
own cache; a cancelled reply frees its place within a step; and when the cells run out,
idle caches give way, not answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from openlive.backends.base import ChatMessage, Conversation, Sampling, TextDelta, Usage
from openlive.backends.embedded import EmbeddedLLM
from openlive.backends.prompt_share import SHORT_TOKENS
from tests.fakes import eventually

pytestmark = pytest.mark.models

SYSTEM = ChatMessage("system", "You are a helpful assistant.")


@pytest.fixture(scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    model = EmbeddedLLM()
    await model.start()
    yield model
    await model.aclose()


async def answer(
    conversation: Conversation, messages: list[ChatMessage], sampling: Sampling
) -> tuple[str, Usage, float, float]:
    """The reply's text and usage, and when its first and last text came (monotonic)."""
    pieces: list[str] = []
    first = last = 0.0
    usage: Usage | None = None
    async for item in conversation.reply(messages, sampling):
        if isinstance(item, TextDelta):
            first = first or time.monotonic()
            last = time.monotonic()
            pieces.append(item.text)
        elif isinstance(item, Usage):
            usage = item
    assert usage is not None
    return "".join(pieces), usage, first, last


async def test_a_reply_started_during_a_long_one_is_answered_before_it_ends(
    llm: EmbeddedLLM,
) -> None:
    long_conv, short_conv = llm.conversation(), llm.conversation()
    try:
        story = asyncio.create_task(
            answer(
                long_conv,
                [SYSTEM, ChatMessage("user", "Tell me a long story about a dragon.")],
                Sampling(temperature=0.0, max_tokens=200, stop=("THE END",)),
            )
        )
        while llm.stats.generating == 0:  # noqa: ASYNC110 (a counter, with no event)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the story is well under way
        asked = time.monotonic()
        text, usage, first, last = await answer(
            short_conv,
            [SYSTEM, ChatMessage("user", "What is the capital of France?")],
            Sampling(temperature=0.0, max_tokens=24),
        )
        story_text, story_usage, _, story_end = await story
    finally:
        await long_conv.aclose()
        await short_conv.aclose()
    assert "Paris" in text
    assert usage.response_tokens <= 24
    assert story_usage.finish_reason == "length" and story_usage.response_tokens >= 190
    assert last < story_end, "the short reply waited for the long one"
    # Its first token came within a few steps (its prompt read a step's time at a
    # time, beside the story's tokens), not after the story's remaining tokens.
    assert first - asked < (story_end - asked) / 2


async def test_each_conversation_keeps_its_cache_between_replies(llm: EmbeddedLLM) -> None:
    a, b = llm.conversation(), llm.conversation()
    sampling = Sampling(temperature=0.0, max_tokens=16)
    try:
        history_a = [SYSTEM, ChatMessage("user", "Name a fruit.")]
        history_b = [ChatMessage("system", "You are a pirate."), ChatMessage("user", "Ahoy!")]
        text_a, first_a, _, _ = await answer(a, history_a, sampling)
        text_b, first_b, _, _ = await answer(b, history_b, sampling)
        history_a += [ChatMessage("assistant", text_a), ChatMessage("user", "Another one.")]
        history_b += [ChatMessage("assistant", text_b), ChatMessage("user", "Where to?")]
        _, second_a, _, _ = await answer(a, history_a, sampling)
        _, second_b, _, _ = await answer(b, history_b, sampling)
    finally:
        await a.aclose()
        await b.aclose()
    assert first_a.cached_tokens == 0 and first_b.cached_tokens == 0
    # Each second turn reads only what is new: its first prompt at least was cached.
    assert second_a.cached_tokens >= first_a.prompt_tokens
    assert second_b.cached_tokens >= first_b.prompt_tokens


async def test_the_history_read_ahead_is_not_read_again(llm: EmbeddedLLM) -> None:
    conversation = llm.conversation()
    sampling = Sampling(temperature=0.0, max_tokens=8)
    history = [SYSTEM, ChatMessage("user", "Name a fruit."), ChatMessage("assistant", "A pear.")]
    try:
        await conversation.prepare(history)  # the user has begun speaking
        await eventually(lambda: llm._decoder is not None and llm._decoder.running == 0)
        turn = [*history, ChatMessage("user", "Another one.")]
        _, usage, _, _ = await answer(conversation, turn, sampling)
    finally:
        await conversation.aclose()
    # All but the user's words and the assistant's header were read ahead.
    assert usage.cached_tokens == len(llm.prompts.head(history))
    assert usage.prompt_tokens - usage.cached_tokens < 12


async def test_a_cancelled_reply_frees_the_model_within_a_step(llm: EmbeddedLLM) -> None:
    conversation = llm.conversation()
    try:
        stream = conversation.reply(
            [SYSTEM, ChatMessage("user", "Count from one to two hundred.")],
            Sampling(temperature=0.0, max_tokens=200),
        )
        tokens_before = llm.stats.tokens
        async for item in stream:
            if isinstance(item, TextDelta) and llm.stats.tokens - tokens_before >= 5:
                break
        await stream.aclose()
        deadline = time.monotonic() + 2
        while llm.stats.generating and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert llm.stats.generating == 0
        stopped_at = llm.stats.tokens
        await asyncio.sleep(0.3)
        assert llm.stats.tokens == stopped_at, "generation went on after the cancel"
        text, _, _, _ = await answer(
            conversation, [SYSTEM, ChatMessage("user", "Say hello.")], Sampling(max_tokens=8)
        )
        assert text
    finally:
        await conversation.aclose()


async def test_a_stop_sequence_ends_the_reply_and_is_not_sent(llm: EmbeddedLLM) -> None:
    conversation = llm.conversation()
    try:
        messages = [SYSTEM, ChatMessage("user", "List the numbers one to ten, one per line.")]
        free, _, _, _ = await answer(
            conversation, messages, Sampling(temperature=0.0, max_tokens=48)
        )
        assert "\n" in free.strip()
        stopped, usage, _, _ = await answer(
            conversation, messages, Sampling(temperature=0.0, max_tokens=48, stop=("\n",))
        )
    finally:
        await conversation.aclose()
    assert "\n" not in stopped
    assert usage.finish_reason == "stop"
    assert free.startswith(stopped)


async def test_when_the_cells_run_out_idle_caches_give_way() -> None:
    # Two sequences and no cache budget beyond one context: three conversations that
    # take turns must each still be answered, re-reading their history when evicted.
    small = EmbeddedLLM(context_tokens=512, cache_budget_bytes=1, sequences=2)
    await small.start()
    conversations = [small.conversation() for _ in range(3)]
    sampling = Sampling(temperature=0.0, max_tokens=12)
    try:
        for turn in range(2):
            replies = await asyncio.gather(
                *(
                    answer(c, [SYSTEM, ChatMessage("user", f"Say a word, {i} {turn}.")], sampling)
                    for i, c in enumerate(conversations[:2])
                )
            )
            third = await answer(
                conversations[2], [SYSTEM, ChatMessage("user", f"Say hi {turn}.")], sampling
            )
            for text, usage, _, _ in [*replies, third]:
                assert text and usage.response_tokens > 0
    finally:
        for c in conversations:
            await c.aclose()
        await small.aclose()


async def test_a_long_prompt_is_read_slowly_while_another_reply_runs(
    llm: EmbeddedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = llm._decoder
    assert decoder is not None
    steps: list[tuple[int, int]] = []  # (tokens, replies) of each step
    decode = decoder._decode

    def counted(rows):  # type: ignore[no-untyped-def]
        steps.append((decoder._batch.n_tokens, len(rows)))
        decode(rows)

    monkeypatch.setattr(decoder, "_decode", counted)
    running, long_conv = llm.conversation(), llm.conversation()
    try:
        story = asyncio.create_task(
            answer(
                running,
                [SYSTEM, ChatMessage("user", "Tell me a long story about a dragon.")],
                Sampling(temperature=0.0, max_tokens=120),
            )
        )
        while llm.stats.generating == 0:  # noqa: ASYNC110 (a counter, with no event)
            await asyncio.sleep(0.01)
        steps.clear()
        filler = ChatMessage("user", "Count the words: " + "apple banana cherry " * 300)
        text, usage, _, _ = await answer(
            long_conv, [SYSTEM, filler], Sampling(temperature=0.0, max_tokens=4)
        )
        story_text, _, _, _ = await story
    finally:
        await running.aclose()
        await long_conv.aclose()
    assert usage.prompt_tokens > 900 and story_text
    # while the story ran, the long prompt was read over many short steps beside its
    # token (a step reads at most `STEP_S` of prompt), never a whole chunk at once
    beside = [tokens for tokens, replies in steps if replies == 2]
    assert len(beside) >= 10
    assert max(beside) < 1 + SHORT_TOKENS
