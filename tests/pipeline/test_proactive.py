"""Proactive audio's decision: answer what is on topic or addressed to the assistant."""

from __future__ import annotations

import pytest

from openlive.pipeline.proactive import content_words, decide

COOK = "You are a cooking assistant. Help the user with recipes, ingredients and oven times."


def test_content_words_are_stemmed_and_stop_words_dropped() -> None:
    assert content_words("Ever tried. Ever failed. Try again!") == [
        "ever",
        "try",
        "ever",
        "fail",
        "try",
    ]
    assert content_words("recipes dishes boxes cooking baked") == [
        "recipe",
        "dish",
        "box",
        "cook",
        "bak",
    ]
    assert content_words("Could you, um, tell me?") == []


@pytest.mark.parametrize(
    "utterance",
    [
        "How long should the chicken stay in the oven?",
        "Can you give me a recipe for pancakes?",
        "Which ingredients do I need for a cake?",
        "Hello?",
    ],
)
def test_on_topic_turns_are_answered(utterance: str) -> None:
    assert decide(utterance, COOK).answer


@pytest.mark.parametrize(
    "utterance",
    [
        "Did you see the football match last night?",
        "Honey, the kids need picking up from school at four.",
        "Um, okay.",
        "The stock market fell sharply after the announcement.",
    ],
)
def test_off_topic_turns_are_not(utterance: str) -> None:
    decision = decide(utterance, COOK)
    assert not decision.answer, decision


def test_the_recent_history_is_part_of_the_topic() -> None:
    assert not decide("What about the football scores?", COOK).answer
    history = ["Can you also follow football for me?", "Sure, I can keep an eye on scores."]
    assert decide("What about the football scores?", COOK, history).answer


def test_a_name_in_the_instruction_addresses_the_assistant() -> None:
    named = "You are Ada, a cooking assistant."
    assert decide("Ada, what time is it?", named).answer
    assert not decide("Is the plumber coming today?", named).answer


def test_without_an_instruction_or_history_every_turn_is_answered() -> None:
    assert decide("Did you see the football match?", "").answer
