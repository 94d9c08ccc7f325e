"""The checks of a `setup` that do not depend on the model, and what a valid one asks for.

`validate_setup` resolves the model name and the response modality and checks the
generation config's fields and ranges, the activity detection's durations and the
fields the Live API does not take, raising the 1007 the hosted service closes with.
The checks that need the model are the pipeline's (`pipeline/plan.py`). Nothing here
does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .errors import InvalidArgument
from .messages import GenerationConfig, Modality, Setup

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "MAX_ACTIVITY_MS",
    "MAX_STOP_SEQUENCES",
    "SessionConfig",
    "validate_setup",
]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a valid `setup` asks for, resolved to plain values and defaults."""

    model: str
    """The model id without its `models/` prefix."""
    modality: Modality
    system_instruction: str
    generation: GenerationConfig
    setup: Setup


def validate_setup(setup: Setup) -> SessionConfig:
    """Check the parts of `setup` that do not depend on the model; resolve defaults."""
    model = setup.model.strip()
    for prefix in ("models/", "tunedModels/"):
        model = model.removeprefix(prefix)
    if not model:
        raise InvalidArgument("setup.model is required.")
    generation = setup.generation_config or GenerationConfig()
    modalities = generation.response_modalities or [Modality.AUDIO]
    if len(modalities) != 1 or modalities[0] not in (Modality.TEXT, Modality.AUDIO):
        names = ", ".join(m.value for m in modalities)
        raise InvalidArgument(
            f"The requested combination of response modalities ({names}) is not supported "
            "by the model."
        )
    for name in GenerationConfig.UNSUPPORTED_IN_LIVE:
        if getattr(generation, name) is not None:
            raise InvalidArgument(f"generation_config.{name} is not supported in the Live API.")
    _check_range(generation.temperature, "temperature", 0.0, 2.0)
    _check_range(generation.top_p, "top_p", 0.0, 1.0)
    _check_range(generation.top_k, "top_k", 1, INT32_MAX)
    _check_range(generation.max_output_tokens, "max_output_tokens", 1, INT32_MAX)
    _check_range(generation.candidate_count, "candidate_count", 1, 1)
    _check_range(generation.presence_penalty, "presence_penalty", -2.0, 2.0)
    _check_range(generation.frequency_penalty, "frequency_penalty", -2.0, 2.0)
    _check_range(generation.seed, "seed", INT32_MIN, INT32_MAX)
    stops = generation.stop_sequences
    if stops is not None and len(stops) > MAX_STOP_SEQUENCES:
        raise InvalidArgument(
            f"generation_config.stop_sequences must hold at most {MAX_STOP_SEQUENCES} "
            f"sequences, got {len(stops)}."
        )
    speech = generation.speech_config
    if speech is not None and speech.multi_speaker_voice_config is not None:
        raise InvalidArgument("multi_speaker_voice_config is not supported in the Live API.")
    _check_activity_detection(setup)
    system = setup.system_instruction.text if setup.system_instruction else ""
    return SessionConfig(
        model=model,
        modality=modalities[0],
        system_instruction=system,
        generation=generation,
        setup=setup,
    )


INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
"""The range of the wire's int32 fields (`seed`, `maxOutputTokens`, `topK`): what the
hosted service's parser reads, and what the backends can be handed."""

MAX_STOP_SEQUENCES: Final = 5
"""The most `stopSequences` (the Gemini API's documented limit). Each is looked for after
every token the model writes, on the thread that every session shares."""


def _check_range(
    value: float | None,
    name: str,
    low: float,
    high: float,
    within: str = "generation_config",
) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidArgument(
            f"{within}.{name} must be between {_number(low)} and {_number(high)}, "
            f"got {_number(value)}."
        )


def _number(value: float) -> str:
    """A number as a reason shows it: whole if it is an integer (3.0 is "3", 2**31 is
    "2147483648"), else as `%g` writes it ("0.5", "inf", "1e+300")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value) if isinstance(value, int) else f"{value:g}"


MAX_ACTIVITY_MS: Final = 60_000
"""The longest `prefixPaddingMs` or `silenceDurationMs` (a minute): OpenLive's bound,
the hosted one is not on record."""


def _check_activity_detection(setup: Setup) -> None:
    config = setup.realtime_input_config
    detection = config.automatic_activity_detection if config else None
    if detection is None:
        return
    within = "realtime_input_config.automatic_activity_detection"
    for name in ("prefix_padding_ms", "silence_duration_ms"):
        _check_range(getattr(detection, name), name, 0, MAX_ACTIVITY_MS, within)
