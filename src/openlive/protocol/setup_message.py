"""The setup message (`BidiGenerateContentSetup`) and the configuration it carries: the
model, generation, speech, tools, transcription, activity detection, session resumption
and context compression. `messages.py` names all of it too (the schema's one door).
"""

from __future__ import annotations

from typing import Any, ClassVar

from .content import Content
from .wire import (
    ActivityHandling,
    Base64Bytes,
    Behavior,
    EndSensitivity,
    Int64,
    MediaResolution,
    Modality,
    StartSensitivity,
    ThinkingLevel,
    TurnCoverage,
    WireModel,
)

__all__ = [
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "ContextWindowCompression",
    "FunctionDeclaration",
    "GenerationConfig",
    "HistoryConfig",
    "LanguageHints",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
    "RealtimeInputConfig",
    "ReplicatedVoiceConfig",
    "SessionResumptionConfig",
    "Setup",
    "SlidingWindow",
    "SpeechConfig",
    "ThinkingConfig",
    "Tool",
    "TranslationConfig",
    "VoiceConfig",
    "VoiceConsentSignature",
]


class PrebuiltVoiceConfig(WireModel):
    voice_name: str | None = None


class VoiceConsentSignature(WireModel):
    signature: str | None = None


class ReplicatedVoiceConfig(WireModel):
    """A voice made from a sample of a speaker (`audio/wav`, 16-bit)."""

    mime_type: str | None = None
    voice_sample_audio: Base64Bytes | None = None
    consent_audio: Base64Bytes | None = None
    voice_consent_signature: VoiceConsentSignature | None = None


class VoiceConfig(WireModel):
    prebuilt_voice_config: PrebuiltVoiceConfig | None = None
    replicated_voice_config: ReplicatedVoiceConfig | None = None
    voice: str | None = None
    """A speaker identifier: taken as a voice name, like `prebuiltVoiceConfig.voiceName`."""


class SpeechConfig(WireModel):
    voice_config: VoiceConfig | None = None
    language_code: str | None = None
    multi_speaker_voice_config: dict[str, Any] | None = None


class ThinkingConfig(WireModel):
    include_thoughts: bool | None = None
    thinking_budget: int | None = None
    thinking_level: ThinkingLevel | None = None


class TranslationConfig(WireModel):
    """Speech-to-speech translation: each user turn is answered by its translation."""

    target_language_code: str | None = None
    echo_target_language: bool | None = None


class GenerationConfig(WireModel):
    response_modalities: list[Modality] | None = None
    candidate_count: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop_sequences: list[str] | None = None
    media_resolution: MediaResolution | None = None
    speech_config: SpeechConfig | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None
    translation_config: TranslationConfig | None = None
    # Fields of GenerationConfig that the Live API does not support: parsed so that
    # their use gets a clear refusal rather than "unknown field".
    response_logprobs: bool | None = None
    logprobs: int | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    response_json_schema: dict[str, Any] | None = None
    routing_config: dict[str, Any] | None = None
    audio_timestamp: bool | None = None

    UNSUPPORTED_IN_LIVE: ClassVar[tuple[str, ...]] = (
        "response_logprobs",
        "logprobs",
        "response_mime_type",
        "response_schema",
        "response_json_schema",
        "routing_config",
        "audio_timestamp",
    )


class FunctionDeclaration(WireModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parameters_json_schema: Any = None
    response: dict[str, Any] | None = None
    response_json_schema: Any = None
    behavior: Behavior | None = None


class Tool(WireModel):
    function_declarations: list[FunctionDeclaration] | None = None
    google_search: dict[str, Any] | None = None
    google_search_retrieval: dict[str, Any] | None = None
    code_execution: dict[str, Any] | None = None
    url_context: dict[str, Any] | None = None
    google_maps: dict[str, Any] | None = None
    computer_use: dict[str, Any] | None = None
    file_search: dict[str, Any] | None = None
    retrieval: dict[str, Any] | None = None
    enterprise_web_search: dict[str, Any] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    parallel_ai_search: dict[str, Any] | None = None
    exa_ai_search: dict[str, Any] | None = None


class SessionResumptionConfig(WireModel):
    handle: str | None = None
    transparent: bool | None = None


class SlidingWindow(WireModel):
    target_tokens: Int64 | None = None


class ContextWindowCompression(WireModel):
    trigger_tokens: Int64 | None = None
    sliding_window: SlidingWindow | None = None


class LanguageHints(WireModel):
    language_codes: list[str] | None = None


class AudioTranscriptionConfig(WireModel):
    language_codes: list[str] | None = None
    language_auto: dict[str, Any] | None = None
    """Deprecated in the SDKs: detection is the default."""
    language_hints: LanguageHints | None = None
    """Deprecated in the SDKs for `language_codes`."""
    custom_vocabulary: list[str] | None = None
    adaptation_phrases: list[str] | None = None
    """Deprecated in the SDKs for `custom_vocabulary`."""
    word_timestamp: bool | None = None
    diarization: Any = None
    mode: str | None = None
    source_text: Any = None


class AutomaticActivityDetection(WireModel):
    disabled: bool | None = None
    start_of_speech_sensitivity: StartSensitivity | None = None
    end_of_speech_sensitivity: EndSensitivity | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


class RealtimeInputConfig(WireModel):
    automatic_activity_detection: AutomaticActivityDetection | None = None
    activity_handling: ActivityHandling | None = None
    turn_coverage: TurnCoverage | None = None
    interim_transcript_timestamp_enabled: bool | None = None


class ProactivityConfig(WireModel):
    proactive_audio: bool | None = None
    proactive_video: bool | None = None


class HistoryConfig(WireModel):
    initial_history_in_client_content: bool | None = None


class Setup(WireModel):
    model: str
    generation_config: GenerationConfig | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompression | None = None
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    realtime_input_config: RealtimeInputConfig | None = None
    proactivity: ProactivityConfig | None = None
    history_config: HistoryConfig | None = None
    avatar_config: dict[str, Any] | None = None
    safety_settings: list[dict[str, Any]] | None = None
    labels: dict[str, str] | None = None
    explicit_vad_signal: bool | None = None
