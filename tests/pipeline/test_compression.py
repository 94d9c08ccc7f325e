"""Context window compression: `SlidingWindow` on its own (a word-count tokenizer), and
through `SessionRunner` with scripted replies: what history each reply is asked with."""

from __future__ import annotations

import pytest

from openlive.backends.base import ChatMessage, FunctionCall, FunctionResult, Usage
from openlive.pipeline.compression import MESSAGE_OVERHEAD, SlidingWindow, window_limits
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import ContextWindowCompression
from openlive.protocol.messages import SlidingWindow as WireWindow
from tests.fakes import Reply

from .test_runner import Opener, answer, assistant, setup, user, user_turn


async def words(text: str) -> int:
    return len(text.split())


def window(trigger: int, target: int) -> SlidingWindow:
    config = ContextWindowCompression(
        trigger_tokens=trigger, sliding_window=WireWindow(target_tokens=target)
    )
    limits = window_limits(config, 8192)
    assert limits is not None
    return SlidingWindow(*limits, words)


def history(turns: int, size: int = 10) -> list[ChatMessage]:
    """`turns` exchanges, each message `size` tokens with its overhead."""
    body = " ".join(["w"] * (size - MESSAGE_OVERHEAD))
    return [m for i in range(turns) for m in (user(f"{i} {body}"[:-2]), assistant(body))]


def test_defaults_are_the_protocols() -> None:
    assert window_limits(None, 8192) is None
    assert window_limits(ContextWindowCompression(), 8192) == (6553, 3276)
    assert window_limits(ContextWindowCompression(trigger_tokens=1000), 8192) == (1000, 500)


@pytest.mark.parametrize(
    ("trigger", "target", "message"),
    [
        (0, 0, "triggerTokens must be positive"),
        (10, -1, "targetTokens must not be negative"),
        (100, 500, r"targetTokens \(500\) must be below triggerTokens \(100\)"),
        (100, 100, r"targetTokens \(100\) must be below"),
    ],
)
def test_bad_limits(trigger: int, target: int, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        window(trigger, target)


async def test_below_the_trigger_nothing_moves() -> None:
    turns = history(4)  # 8 messages, 80 tokens
    sliding = window(trigger=81, target=10)
    assert await sliding.slide(turns) == 0 and len(turns) == 8


async def test_the_oldest_whole_turns_go_down_to_the_target() -> None:
    turns = history(10)  # 20 messages of 10 tokens: 200
    newest = turns[-2:]
    sliding = window(trigger=160, target=90)
    dropped = await sliding.slide(turns)
    assert dropped == 12 and len(turns) == 8  # 80 tokens left: 4 exchanges
    assert turns[0].role == "user" and turns[-2:] == newest
    assert sliding.dropped_turns == 6
    assert await sliding.size(turns) == 80


async def test_the_newest_turn_stays_whatever_its_size() -> None:
    turns = [user("a " * 40), assistant("b " * 40), user("c " * 100)]
    assert await window(trigger=10, target=5).slide(turns) == 2
    assert [m.content[0] for m in turns] == ["c"]


async def test_a_call_goes_with_its_result_and_its_turn() -> None:
    call = FunctionCall("get_weather", {"city": "Paris"}, id="c1")
    turns = [
        user("weather in Paris?"),
        ChatMessage("assistant", "", calls=(call,)),
        ChatMessage("tool", "", result=FunctionResult("c1", "get_weather", {"t": 20})),
        assistant("It is 20 degrees."),
        user("and tomorrow?"),
    ]
    await window(trigger=20, target=10).slide(turns)
    assert [m.role for m in turns] == ["user"] and turns[0].content == "and tomorrow?"


async def test_the_models_own_count_is_used_once_known() -> None:
    turns = history(2)  # 40 tokens by the word count
    sliding = window(trigger=100, target=50)
    sliding.observe(Usage(prompt_tokens=90, response_tokens=5), turns)
    assert await sliding.size(turns) == 95
    turns.append(user("one two"))
    assert await sliding.size(turns) == 95 + MESSAGE_OVERHEAD + 2
    assert await sliding.slide(turns) == 4  # ≥ 100: down to ≤ 50
    assert await sliding.size(turns) == 95 + MESSAGE_OVERHEAD + 2 - 40


# --- in a session ---------------------------------------------------------------------


async def test_a_session_slides_its_history(live: Opener) -> None:
    """Turns of 20 words each way; trigger 100 tokens, target 50: each reply is asked
    with the newest turns only, and the system instruction is always first."""
    said = " ".join(["word"] * 20)
    rounds = 12
    session = live(*(Reply([said], Usage(0, 0)) for _ in range(rounds)))
    await session.start(
        setup(
            systemInstruction={"parts": [{"text": "Be brief."}]},
            contextWindowCompression={"triggerTokens": 100, "slidingWindow": {"targetTokens": 50}},
        )
    )
    for i in range(rounds):
        session.feed(user_turn(f"{i} {said}"))
        await session.transport.until_sent(1 + 3 * (i + 1))
    sizes = [len(call.messages) for call in session.llm.calls]
    assert max(sizes) <= 1 + 5  # the system message and at most two and a half exchanges
    for i, call in enumerate(session.llm.calls):
        assert call.messages[0] == ChatMessage("system", "Be brief.")
        assert call.messages[-1].content.startswith(f"{i} ")  # the newest turn, always
        assert call.messages[1].role == "user"  # whole turns only
    assert session.sent[-3:] == answer(Usage(0, 0), said)


async def test_bad_compression_settings_close_with_1007(live: Opener) -> None:
    session = live()
    session.feed(setup(contextWindowCompression={"triggerTokens": 0}))
    await session.ended()
    assert session.transport.closed == (
        1007,
        "contextWindowCompression.triggerTokens must be positive.",
    )
