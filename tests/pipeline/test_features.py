"""Model classes: which setups each accepts, and what it runs them with (features.py),
and the prompts of the embedded model's reasoning pass (backends/thinking.py)."""

from __future__ import annotations

from typing import Any

import pytest

from openlive.backends.base import ChatMessage
from openlive.backends.catalogue import Catalogue
from openlive.backends.thinking import (
    DYNAMIC_TOKENS,
    answer_messages,
    thinking_messages,
    thinking_tokens,
)
from openlive.config import LLMSpec
from openlive.pipeline.features import DYNAMIC, Features, resolve
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Setup

HALF_CASCADE = "gemini-live-2.5-flash-preview"
NATIVE = "gemini-2.5-flash-native-audio-preview-09-2025"
THINKING = "gemini-2.5-flash-exp-native-audio-thinking-dialog"
LIVE_31 = "gemini-3.1-flash-live-preview"

CATALOGUE = Catalogue(LLMSpec())


def features(model: str, version: str = "v1beta", **fields: Any) -> Features:
    generation = fields.pop("generation", {})
    setup = Setup.model_validate(
        {"model": f"models/{model}", "generationConfig": generation, **fields}
    )
    return resolve(CATALOGUE.lookup(model), setup, version)


def refused(model: str, version: str = "v1beta", **fields: Any) -> str:
    with pytest.raises(InvalidArgument) as info:
        features(model, version, **fields)
    assert info.value.code == 1007
    assert len(info.value.reason.encode()) <= 123
    return info.value.reason


def thinking(**config: Any) -> dict[str, Any]:
    return {"generation": {"thinkingConfig": config}}


# --- thinking -----------------------------------------------------------------------------


def test_by_default_only_the_thinking_model_thinks() -> None:
    assert features(HALF_CASCADE) == Features()
    assert features(NATIVE) == Features()
    assert features(LIVE_31) == Features()
    assert features(THINKING) == Features(thinking_budget=DYNAMIC)


@pytest.mark.parametrize("model", [NATIVE, THINKING])
def test_a_budget_is_honoured_on_native_audio_2_5(model: str) -> None:
    assert features(model, **thinking(thinkingBudget=64, includeThoughts=True)) == Features(
        thinking_budget=64, include_thoughts=True
    )
    assert features(model, **thinking(thinking_budget=-1)).thinking_budget == DYNAMIC
    assert features(model, **thinking(thinkingBudget=0)).thinking_budget == 0


def test_no_budget_no_thoughts() -> None:
    got = features(THINKING, **thinking(thinkingBudget=0, includeThoughts=True))
    assert got == Features(thinking_budget=0, include_thoughts=False)


def test_levels_on_3_1_only() -> None:
    assert features(LIVE_31, **thinking(thinkingLevel="MINIMAL")).thinking_budget == 0
    assert features(LIVE_31, **thinking(thinkingLevel="LOW")).thinking_budget == 128
    assert features(LIVE_31, **thinking(thinkingLevel="HIGH", includeThoughts=True)) == Features(
        thinking_budget=2048, include_thoughts=True
    )
    assert features(LIVE_31, **thinking(thinkingBudget=100)).thinking_budget == 100
    assert refused(NATIVE, **thinking(thinkingLevel="LOW")) == (
        "Thinking level is not supported for this model."
    )
    assert "both" in refused(LIVE_31, **thinking(thinkingLevel="LOW", thinkingBudget=10))
    assert "XHIGH" in refused(LIVE_31, **thinking(thinkingLevel="XHIGH"))


@pytest.mark.parametrize(
    "config",
    [
        {"thinkingBudget": 100},
        {"thinkingBudget": -1},
        {"includeThoughts": True},
        {"thinkingLevel": "LOW"},
    ],
)
def test_half_cascade_models_do_not_think(config: dict[str, Any]) -> None:
    assert refused(HALF_CASCADE, **thinking(**config)) == (
        f"Thinking is not enabled for models/{HALF_CASCADE}."
    )


def test_half_cascade_takes_a_zero_budget() -> None:
    assert features(HALF_CASCADE, **thinking(thinkingBudget=0)) == Features()


@pytest.mark.parametrize("budget", [-2, 24_577, 10**6])
def test_a_budget_out_of_range(budget: int) -> None:
    assert refused(THINKING, **thinking(thinkingBudget=budget)) == (
        f"The thinking budget ({budget}) is invalid."
    )


# --- affective dialog and proactivity -----------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v1beta"])
@pytest.mark.parametrize("model", [HALF_CASCADE, NATIVE, THINKING])
def test_native_dialog_fields_are_unknown_off_v1alpha(version: str, model: str) -> None:
    reason = refused(model, version, generation={"enableAffectiveDialog": False})
    assert reason.startswith('Invalid JSON payload received. Unknown name "enableAffectiveDialog"')
    reason = refused(model, version, proactivity={"proactiveAudio": True})
    assert reason.startswith('Invalid JSON payload received. Unknown name "proactivity" at')


@pytest.mark.parametrize("model", [NATIVE, THINKING])
def test_native_dialog_fields_on_v1alpha(model: str) -> None:
    got = features(
        model,
        "v1alpha",
        generation={"enableAffectiveDialog": True},
        proactivity={"proactiveAudio": True},
    )
    assert got.affective_dialog and got.proactive_audio


@pytest.mark.parametrize("model", [HALF_CASCADE, LIVE_31])
def test_models_without_native_dialog_refuse_it_even_when_off(model: str) -> None:
    assert refused(model, "v1alpha", generation={"enableAffectiveDialog": False}) == (
        f"Affective dialog is not supported by models/{model}."
    )
    assert refused(model, "v1alpha", proactivity={}) == (
        f"Proactive audio is not supported by models/{model}."
    )


# --- the reasoning pass's prompts ---------------------------------------------------------


def test_the_reasoning_pass_asks_about_the_last_message() -> None:
    history = [ChatMessage("system", "Be kind."), ChatMessage("user", "What is 2+3?")]
    think = thinking_messages(history)
    assert think[0] == history[0]
    assert think[1].role == "user" and think[1].content.startswith("What is 2+3?\n\n")
    assert "step by step" in think[1].content
    answer = answer_messages(history, "Two plus three is five.")
    assert answer[:2] == think, "the answer's prompt extends the reasoning pass's"
    assert answer[2] == ChatMessage("assistant", "Two plus three is five.")
    assert answer[3].role == "user" and "answer" in answer[3].content
    assert answer_messages(history, "") == history


def test_dynamic_thinking_has_a_cap() -> None:
    assert thinking_tokens(-1) == DYNAMIC_TOKENS
    assert thinking_tokens(40) == 40
