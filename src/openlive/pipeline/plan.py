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
from dataclasses import dataclass, field, replace
from typing import Final

from ..audio.pcm import Samples
from ..backends.base import Sampling
from ..backends.catalogue import Catalogue, CatalogueEntry
from ..backends.voice import Delivery
from ..backends.voices import Language
from ..protocol.errors import InvalidArgument
from ..protocol.listening import transcription_options
from ..protocol.messages import (
    ActivityHandling,
    EndSensitivity,
    GenerationConfig,
    Modality,
    Setup,
    StartSensitivity,
    Tool,
    TurnCoverage,
    VoiceConfig,
)
from ..protocol.session import SessionConfig, validate_setup
from .compression import window_limits
from .features import Features, resolve
from .languages import RecognitionLanguages, recognition_languages
from .replica import sample_of
from .tools import Functions
from .translation import Translation
from .translation import resolve as resolve_translation
from .turns import TurnSettings

__all__ = ["COVERAGE", "Listening", "SessionPlan", "plan_session"]

COVERAGE: Final[dict[TurnCoverage | None, tuple[bool, bool]]] = {
    None: (False, False),
    TurnCoverage.TURN_COVERAGE_UNSPECIFIED: (False, False),
    TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY: (False, False),
    TurnCoverage.TURN_INCLUDES_ALL_INPUT: (True, True),
    TurnCoverage.TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO: (False, True),
}
"""What a spoken turn holds by `turnCoverage`: (all the audio since the previous turn,
all the video frames since the previous turn); each False means only what came during
the user's activity."""


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
    all_video: bool = False
    """`turnCoverage`: a spoken turn holds all the frames since the last one, not just
    those sent during its activity."""
    transcribe: bool = False
    """`inputAudioTranscription`."""
    languages: RecognitionLanguages = RecognitionLanguages()
    """The language recognition is fixed to or detects among (`languageCodes`, else
    `speechConfig.languageCode`), and the `languageCode` each transcript reports."""
    vocabulary: tuple[str, ...] = ()
    """`inputAudioTranscription.customVocabulary`: recognized more readily."""
    word_times: bool = False
    """`inputAudioTranscription.wordTimestamp`: transcripts carry each word's offsets."""
    voice_activity: bool = False
    """Send `voiceActivity` when automatic activity detection hears speech start and
    end (the models whose hosted counterparts send it: `CatalogueEntry.voice_activity`)."""


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
    translation: Translation | None = None
    """`translationConfig`: each user turn is answered by its translation."""
    voice_sample: Samples | None = field(default=None, compare=False, repr=False)
    """`replicatedVoiceConfig`: the sample (16 kHz) the voice is derived from."""
    delivery: Delivery | None = None
    """The voice derived from the sample (`replica.replicate`); None: the voice as it is."""

    @property
    def speech_language(self) -> str | None:
        """The ``languageCode`` answers are spoken in: a translation's target, else
        `speechConfig.languageCode`'s; None: the voice's own language."""
        if self.translation is not None:
            return self.translation.target.code
        return self.language.code if self.language else None

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
    voice_config = speech.voice_config if speech else None
    voice = _voice_name(voice_config, entry)
    replicated = voice_config.replicated_voice_config if voice_config else None
    translation = resolve_translation(
        config.generation.translation_config, embedded_llm=entry.llm.kind == "embedded"
    )
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
        listening=_hearing(setup, entry, language, _listening(setup)),
        speak=speak,
        voice=voice,
        language=language,
        transcribe_output=setup.output_audio_transcription is not None,
        window=window_limits(setup.context_window_compression, entry.input_token_limit),
        translation=translation,
        voice_sample=sample_of(replicated) if replicated is not None else None,
    )


def _voice_name(config: VoiceConfig | None, entry: CatalogueEntry) -> str | None:
    """The voice a `voiceConfig` names (`prebuiltVoiceConfig.voiceName`, or `voice`),
    checked against the model; None for its default or a replicated voice.
    `InvalidArgument` where it sets more than one of the three."""
    if config is None:
        return None
    prebuilt = config.prebuilt_voice_config
    named = [
        name
        for name, value in (
            ("prebuilt_voice_config", prebuilt),
            ("replicated_voice_config", config.replicated_voice_config),
            ("voice", config.voice),
        )
        if value is not None
    ]
    if len(named) > 1:
        raise InvalidArgument(
            f"speech_config.voice_config sets {' and '.join(named)}: set only one of them."
        )
    name = prebuilt.voice_name if prebuilt is not None else config.voice
    return entry.check_voice(name) if name else None


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
        all_input=COVERAGE[rt.turn_coverage if rt else None][0],
        all_video=COVERAGE[rt.turn_coverage if rt else None][1],
        transcribe=setup.input_audio_transcription is not None,
    )


def _hearing(
    setup: Setup, entry: CatalogueEntry, language: Language | None, listening: Listening
) -> Listening:
    """`listening` with what `inputAudioTranscription` asks of recognition (1007 for a
    language it cannot take) and whether the model sends `voiceActivity`."""
    options = transcription_options(setup.input_audio_transcription)
    speech = (language.code, language.whisper) if language else None
    return replace(
        listening,
        languages=recognition_languages(options.languages, speech),
        vocabulary=options.vocabulary,
        word_times=options.word_timestamps,
        voice_activity=entry.voice_activity and listening.automatic,
    )
