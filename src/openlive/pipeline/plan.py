"""A session's setup resolved into what the session will do: a `SessionPlan`.

`plan_session` is one pure function: a setup (after a token's locks and a resumed
snapshot are applied), the model catalogue and the connection's API version go in; a
frozen plan comes out, or the `LiveError` the hosted service closes with (1007 for a
field or value it does not take, 1008 for an unknown model). Every check of a setup
that needs the model happens here, so that the runner only carries the plan out. A
`contextUpdate` that replaces the tools makes a new plan (`with_tools`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..backends.base import Sampling
from ..backends.catalogue import Catalogue, CatalogueEntry
from ..backends.voices import Language
from ..protocol.errors import InvalidArgument
from ..protocol.messages import (
    ActivityHandling,
    EndSensitivity,
    GenerationConfig,
    Modality,
    Setup,
    StartSensitivity,
    Tool,
    TurnCoverage,
)
from ..protocol.session import SessionConfig, validate_setup
from .compression import window_limits
from .features import Features, resolve
from .tools import Functions
from .turns import TurnSettings

__all__ = ["Listening", "SessionPlan", "plan_session"]


@dataclass(frozen=True, slots=True)
class Listening:
    """How the session hears audio input."""

    turns: TurnSettings
    """Turn-taking: the activity detector's sensitivities, padding and silence."""
    automatic: bool = True
    """Whether activity detection decides the turns (False: `activityStart`/`End`)."""
    interrupts: bool = True
    """Whether the user's activity interrupts an answer (`activityHandling`)."""
    all_input: bool = False
    """`turnCoverage`: a turn holds all the audio since the last one, not just speech."""
    transcribe: bool = False
    """`inputAudioTranscription`."""


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What one session does, as its setup asked, checked against its model."""

    config: SessionConfig
    """The model-independent part: model name, modality, system instruction, the
    generation config and the setup itself."""
    entry: CatalogueEntry
    """The model, and the backend that serves it."""
    features: Features
    """Thinking, affective dialog, proactivity: what the model class and API version
    allow of them."""
    sampling: Sampling
    functions: Functions
    listening: Listening
    speak: bool = False
    """Answers are spoken (`responseModalities: ["AUDIO"]`)."""
    voice: str | None = None
    """The voice of spoken answers; None is the synthesizer's default."""
    language: Language | None = None
    """`speechConfig.languageCode`, for recognition and speech; None: detected."""
    transcribe_output: bool = False
    """`outputAudioTranscription`."""
    window: tuple[int, int] | None = None
    """`contextWindowCompression`: (triggerTokens, targetTokens); None: no window."""

    def with_tools(self, tools: Iterable[Tool]) -> SessionPlan:
        """The plan after a `contextUpdate` that replaces the tools."""
        return replace(self, functions=Functions.from_tools(tools))


def plan_session(
    setup: Setup, catalogue: Catalogue, api_version: str, *, can_speak: bool
) -> SessionPlan:
    """Resolve `setup` for a server whose catalogue is `catalogue` (`can_speak`: it has
    a voice stack). Raises the `LiveError` to close with."""
    config = validate_setup(setup)
    entry = catalogue.lookup(config.model)
    entry.check_modality(config.modality)
    features = resolve(entry, setup, api_version)
    speech = config.generation.speech_config
    chosen = speech.voice_config.prebuilt_voice_config if speech and speech.voice_config else None
    voice = entry.check_voice(chosen.voice_name) if chosen and chosen.voice_name else None
    language = entry.check_language(speech.language_code if speech else None)
    speak = config.modality is Modality.AUDIO
    if speak and not can_speak:
        raise InvalidArgument("Response modality AUDIO is not available on this server.")
    functions = Functions.from_tools(setup.tools or [])
    sampling = replace(sampling_of(config.generation), thinking_budget=features.thinking_budget)
    return SessionPlan(
        config=config,
        entry=entry,
        features=features,
        sampling=sampling,
        functions=functions,
        listening=_listening(setup),
        speak=speak,
        voice=voice,
        language=language,
        transcribe_output=setup.output_audio_transcription is not None,
        window=window_limits(setup.context_window_compression, entry.input_token_limit),
    )


def sampling_of(generation: GenerationConfig) -> Sampling:
    return Sampling(
        temperature=generation.temperature,
        top_p=generation.top_p,
        top_k=int(generation.top_k) if generation.top_k is not None else None,
        max_tokens=generation.max_output_tokens,
        seed=generation.seed,
        stop=tuple(generation.stop_sequences or ()),
        presence_penalty=generation.presence_penalty,
        frequency_penalty=generation.frequency_penalty,
    )


def _listening(setup: Setup) -> Listening:
    rt = setup.realtime_input_config
    aad = rt.automatic_activity_detection if rt else None
    start = aad.start_of_speech_sensitivity if aad else None
    end = aad.end_of_speech_sensitivity if aad else None
    return Listening(
        turns=TurnSettings.from_live(
            start_high=None
            if start is None
            else start is not StartSensitivity.START_SENSITIVITY_LOW,
            end_high=None if end is None else end is not EndSensitivity.END_SENSITIVITY_LOW,
            prefix_padding_ms=aad.prefix_padding_ms if aad else None,
            silence_duration_ms=aad.silence_duration_ms if aad else None,
        ),
        automatic=not (aad is not None and aad.disabled),
        interrupts=not (
            rt is not None and rt.activity_handling is ActivityHandling.NO_INTERRUPTION
        ),
        all_input=rt is not None and rt.turn_coverage is TurnCoverage.TURN_INCLUDES_ALL_INPUT,
        transcribe=setup.input_audio_transcription is not None,
    )
