"""The Live API messages, as pydantic models: what a client sends
(`BidiGenerateContentClientMessage`: the setup and what follows it) and what the server
sends (`BidiGenerateContentServerMessage`).

Client messages are parsed leniently in the ways protobuf JSON is lenient and strictly
everywhere else (`wire.py`); server messages are emitted as canonical proto-JSON. Field
names and nesting mirror the proto (see docs/protocol.md). This module is the schema's
one door: the building blocks (`wire.py`) and content (`content.py`) are named here
too.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from .content import (
    PART_DATA,
    Blob,
    Content,
    FunctionCall,
    FunctionResponse,
    FunctionResponsePart,
    Part,
)
from .wire import (
    ActivityHandling,
    Base64Bytes,
    Behavior,
    EndSensitivity,
    Int64,
    InteractionStatus,
    MediaResolution,
    Modality,
    Scheduling,
    StartSensitivity,
    ThinkingLevel,
    TurnCompleteReason,
    TurnCoverage,
    WireModel,
)

__all__ = [
    "PART_DATA",
    "ActivityHandling",
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "Behavior",
    "Blob",
    "ClientContent",
    "ClientMessage",
    "Content",
    "ContextUpdate",
    "ContextWindowCompression",
    "EndSensitivity",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "FunctionResponsePart",
    "GenerationConfig",
    "GoAway",
    "InteractionStatus",
    "MediaResolution",
    "Modality",
    "ModalityTokenCount",
    "Part",
    "RealtimeInput",
    "RealtimeInputConfig",
    "ReplicatedVoiceConfig",
    "Scheduling",
    "ServerContent",
    "ServerMessage",
    "SessionResumptionConfig",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "SpeechConfig",
    "StartSensitivity",
    "ThinkingConfig",
    "ThinkingLevel",
    "Tool",
    "ToolCall",
    "ToolCallCancellation",
    "ToolResponse",
    "Transcription",
    "TranslationConfig",
    "TurnCompleteReason",
    "TurnCoverage",
    "UsageMetadata",
    "VoiceActivity",
    "VoiceActivityType",
    "WireModel",
    "WordInfo",
]


# --- setup -------------------------------------------------------------------------


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


# --- other client messages ---------------------------------------------------------


class ClientContent(WireModel):
    turns: list[Content] | None = None
    turn_complete: bool | None = None


class ActivityStart(WireModel):
    pass


class ActivityEnd(WireModel):
    pass


class RealtimeInput(WireModel):
    media_chunks: list[Blob] | None = None
    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    audio_stream_end: bool | None = None
    activity_start: ActivityStart | None = None
    activity_end: ActivityEnd | None = None


class ToolResponse(WireModel):
    function_responses: list[FunctionResponse] | None = None


class ToolsUpdate(WireModel):
    tools: list[Tool] | None = None


class ContextUpdate(WireModel):
    system_instruction: Content | None = None
    tools: ToolsUpdate | None = None


class ClientMessage(WireModel):
    """The client envelope: exactly one of its fields is set (checked by the codec)."""

    setup: Setup | None = None
    client_content: ClientContent | None = None
    realtime_input: RealtimeInput | None = None
    tool_response: ToolResponse | None = None
    context_update: ContextUpdate | None = None


# --- server messages ---------------------------------------------------------------


class SetupComplete(WireModel):
    session_id: str | None = None


class WordInfo(WireModel):
    word: str | None = None
    start_offset: str | None = None
    end_offset: str | None = None
    """Durations ("1.234s") into the connection's input audio."""


class Transcription(WireModel):
    text: str | None = None
    finished: bool | None = None
    language_code: str | None = None
    words: list[WordInfo] | None = None
    start_offset: str | None = None
    end_offset: str | None = None


class ServerContent(WireModel):
    model_turn: Content | None = None
    generation_complete: bool | None = None
    turn_complete: bool | None = None
    interrupted: bool | None = None
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    waiting_for_input: bool | None = None
    turn_complete_reason: TurnCompleteReason | None = None
    interim_input_transcription: Transcription | None = None
    interaction_status: InteractionStatus | None = None


class ToolCall(WireModel):
    function_calls: list[FunctionCall]


class ToolCallCancellation(WireModel):
    ids: list[str]


class GoAway(WireModel):
    time_left: str


class SessionResumptionUpdate(WireModel):
    new_handle: str | None = None
    resumable: bool | None = None
    last_consumed_client_message_index: Int64 | None = None


class ModalityTokenCount(WireModel):
    modality: Modality
    token_count: int


class UsageMetadata(WireModel):
    prompt_token_count: int | None = None
    cached_content_token_count: int | None = None
    response_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    thoughts_token_count: int | None = None
    total_token_count: int | None = None
    prompt_tokens_details: list[ModalityTokenCount] | None = None
    cache_tokens_details: list[ModalityTokenCount] | None = None
    response_tokens_details: list[ModalityTokenCount] | None = None


class VoiceActivityType(enum.StrEnum):
    TYPE_UNSPECIFIED = "TYPE_UNSPECIFIED"
    ACTIVITY_START = "ACTIVITY_START"
    ACTIVITY_END = "ACTIVITY_END"


class VoiceActivity(WireModel):
    type: VoiceActivityType | None = None
    audio_offset: str | None = None
    """A duration ("1.234s") into the connection's input audio."""


class ServerMessage(WireModel):
    """The server envelope: one of the message fields, optionally with usageMetadata."""

    setup_complete: SetupComplete | None = None
    server_content: ServerContent | None = None
    tool_call: ToolCall | None = None
    tool_call_cancellation: ToolCallCancellation | None = None
    go_away: GoAway | None = None
    session_resumption_update: SessionResumptionUpdate | None = None
    voice_activity: VoiceActivity | None = None
    usage_metadata: UsageMetadata | None = None
