"""What each model class does with the setup fields that differ between classes.

The hosted models differ in more than their modalities and voices (which the catalogue
checks): in how they think, and in the v1alpha features of native-audio dialog. This
module resolves a `setup` against a catalogue entry and the API version of the
connection, into the `Features` the session runs with, or refuses it with the 1007 the
hosted service gives (its reason text where one is on record; docs/models.md says which
reasons are ours).

- **Thinking.** Half-cascade models do not think: a `thinkingConfig` that asks for
  thoughts is refused ("Thinking is not enabled for models/..."). Native-audio 2.5 models
  take `thinkingBudget` (0 none, -1 dynamic, else 1..24576 tokens) and refuse
  `thinkingLevel`; the 3.1 model takes `thinkingLevel` (MINIMAL, its default, means no
  thinking here) or a budget, not both. The thinking model thinks by default
  (dynamically), as the hosted one does; the other native-audio models think only when
  asked, a deliberate difference (on a small CPU, thinking costs a second before each
  answer; docs/models.md).
- **Affective dialog and proactivity** exist on `v1alpha` only: on `v1`/`v1beta` the
  fields are unknown to the hosted service and close the session with its "Unknown
  name" reason. On `v1alpha` they are refused for models without them (half-cascade,
  3.1), even when set to false, as the hosted service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..backends.catalogue import CatalogueEntry
from ..protocol.errors import InvalidArgument
from ..protocol.messages import Setup, ThinkingConfig, ThinkingLevel

__all__ = [
    "DYNAMIC",
    "LEVEL_BUDGETS",
    "MAX_THINKING_BUDGET",
    "Features",
    "ModelFeatures",
    "model_features",
    "resolve",
]

DYNAMIC = -1
"""`thinkingBudget` -1: the model decides how long to think."""

MAX_THINKING_BUDGET = 24_576
"""The largest `thinkingBudget` of the 2.5 Flash models."""

LEVEL_BUDGETS: dict[ThinkingLevel, int] = {
    ThinkingLevel.MINIMAL: 0,
    ThinkingLevel.LOW: 128,
    ThinkingLevel.MEDIUM: 512,
    ThinkingLevel.HIGH: 2048,
}
"""The token budget each `thinkingLevel` stands for (a choice of ours: the levels have
no published budgets)."""

Thinking = Literal["none", "budget", "level"]


@dataclass(frozen=True, slots=True)
class ModelFeatures:
    """What a model does beyond its class's modalities and voices."""

    thinking: Thinking
    """How it is told to think: not at all, by a token budget, or by a level."""
    default_budget: int
    """Its thinking budget when the setup names none (0: no thinking)."""
    native_dialog: bool
    """Affective dialog and proactive audio (on v1alpha)."""


_CLASS_FEATURES: dict[str, ModelFeatures] = {
    "half-cascade": ModelFeatures("none", 0, native_dialog=False),
    "native-audio": ModelFeatures("budget", 0, native_dialog=True),
    "native-audio-thinking": ModelFeatures("budget", DYNAMIC, native_dialog=True),
}
_MODEL_FEATURES: dict[str, ModelFeatures] = {
    # 3.1 Flash Live: thinkingLevel (MINIMAL by default); no affective dialog or
    # proactive audio (PROTOCOL.md §9).
    "gemini-3.1-flash-live-preview": ModelFeatures("level", 0, native_dialog=False),
}


def model_features(entry: CatalogueEntry) -> ModelFeatures:
    return _MODEL_FEATURES.get(entry.name) or _CLASS_FEATURES[entry.model_class]


@dataclass(frozen=True, slots=True)
class Features:
    """What one session's setup asks of its model, checked."""

    thinking_budget: int = 0
    """0 none, -1 dynamic, else tokens."""
    include_thoughts: bool = False
    affective_dialog: bool = False
    proactive_audio: bool = False


def resolve(entry: CatalogueEntry, setup: Setup, api_version: str) -> Features:
    """The features `setup` asks of `entry`'s model on `api_version`; `InvalidArgument`
    for what the model or the version does not have."""
    features = model_features(entry)
    generation = setup.generation_config
    affective = generation.enable_affective_dialog if generation else None
    proactivity = setup.proactivity
    if api_version != "v1alpha":
        if affective is not None:
            raise InvalidArgument(
                'Invalid JSON payload received. Unknown name "enableAffectiveDialog" at '
                "'setup.generation_config': Cannot find field."
            )
        if proactivity is not None:
            raise InvalidArgument(
                'Invalid JSON payload received. Unknown name "proactivity" at '
                "'setup': Cannot find field."
            )
    if not features.native_dialog:
        if affective is not None:
            raise InvalidArgument(f"Affective dialog is not supported by models/{entry.name}.")
        if proactivity is not None:
            raise InvalidArgument(f"Proactive audio is not supported by models/{entry.name}.")
    budget = _budget(entry, features, generation.thinking_config if generation else None)
    thinking = generation.thinking_config if generation else None
    return Features(
        thinking_budget=budget,
        include_thoughts=bool(thinking and thinking.include_thoughts) and budget != 0,
        affective_dialog=bool(affective),
        proactive_audio=bool(proactivity and proactivity.proactive_audio),
    )


def _budget(entry: CatalogueEntry, features: ModelFeatures, config: ThinkingConfig | None) -> int:
    if config is None:
        return features.default_budget
    budget, level = config.thinking_budget, config.thinking_level
    if level is ThinkingLevel.THINKING_LEVEL_UNSPECIFIED:
        level = None
    if features.thinking == "none":
        if level is not None or config.include_thoughts or budget not in (None, 0):
            raise InvalidArgument(f"Thinking is not enabled for models/{entry.name}.")
        return 0
    if level is not None:
        if features.thinking != "level":
            raise InvalidArgument("Thinking level is not supported for this model.")
        if budget is not None:
            raise InvalidArgument("thinking_budget and thinking_level cannot both be set.")
        if level not in LEVEL_BUDGETS:
            raise InvalidArgument(f"Thinking level {level.value} is not supported for this model.")
        return LEVEL_BUDGETS[level]
    if budget is None:
        return features.default_budget
    if budget != DYNAMIC and not 0 <= budget <= MAX_THINKING_BUDGET:
        raise InvalidArgument(f"The thinking budget ({budget}) is invalid.")
    return budget
