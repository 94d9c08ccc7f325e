"""How much of each prompt a step reads: ordinary turns first, a step's time bounded,
and a long prompt read in the time the others leave."""

from __future__ import annotations

import pytest

from openlive.backends.prompt_share import (
    DEFERRED_SHARE,
    HALF_LIFE_S,
    SHORT_TOKENS,
    STEP_S,
    PromptShare,
)

LONG = 8000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def share(step_s: float = 0.02, token_s: float = 0.01) -> tuple[PromptShare, Clock]:
    clock = Clock()
    prompts = PromptShare(clock)
    prompts.step_s, prompts.token_s = step_s, token_s
    return prompts, clock


def test_a_step_reads_at_most_its_time_of_prompt_ordinary_turns_first() -> None:
    prompts, _ = share()
    reader, asker = object(), object()
    prompts.measured(3.0, [(reader, 300)], [])
    prompts.step_s, prompts.token_s = 0.02, 0.01
    room = int(STEP_S / prompts.token_s)
    assert prompts.plan([(reader, LONG)], []) == [room]
    assert prompts.plan([(reader, LONG), (asker, 4)], []) == [0, 4]  # the turn; a trickle
    assert prompts.plan([(asker, SHORT_TOKENS)], []) == [room]


def test_a_long_prompt_reads_a_trickle_while_another_reply_generates() -> None:
    prompts, _ = share(step_s=0.02, token_s=0.01)
    flooder, talker = object(), object()
    prompts.measured(30.0, [(flooder, 3000)], [])
    prompts.measured(0.02, [], [talker])
    read = sum(prompts.plan([(flooder, LONG)], [talker])[0] for _ in range(100))
    assert read == pytest.approx(100 * DEFERRED_SHARE * 0.02 / 0.01, abs=1)
    # with nobody else, it reads whole steps again
    assert prompts.plan([(flooder, LONG)], []) == [int(STEP_S / prompts.token_s)]


def test_the_long_prompt_of_the_least_used_reads_as_long_as_a_step_takes() -> None:
    prompts, _ = share(step_s=0.02, token_s=0.01)
    newcomer, talker = object(), object()
    prompts.measured(0.5, [], [talker])
    prompts.step_s, prompts.token_s = 0.02, 0.01
    assert prompts.plan([(newcomer, LONG)], [talker]) == [2]


def test_use_halves_every_half_life_and_is_forgotten_with_its_owner() -> None:
    prompts, clock = share(token_s=0.01)
    owner = object()
    prompts.measured(1.0, [(owner, 100)], [])
    first = prompts.use(owner)
    assert first == pytest.approx(1.0, rel=0.05)
    clock.now += HALF_LIFE_S
    assert prompts.use(owner) == pytest.approx(first / 2)
    prompts.forget(owner)
    assert prompts.use(owner) == 0.0


def test_the_costs_are_learned_from_the_steps() -> None:
    prompts, _ = share(step_s=0.05, token_s=0.001)
    a, b = object(), object()
    for _ in range(60):
        prompts.measured(0.02, [], [a, b])
        prompts.measured(0.02 + 64 * 0.009, [(a, 64)], [b])
    assert prompts.step_s == pytest.approx(0.02, rel=0.05)
    assert prompts.token_s == pytest.approx(0.009, rel=0.05)
    # a generating step is charged to its replies in equal parts
    assert prompts.use(b) > 60 * 0.02 / 2
