"""The Live API messages, as pydantic models: what a client sends
(`BidiGenerateContentClientMessage`: the setup and what follows it) and what the server
sends (`BidiGenerateContentServerMessage`).

Client messages are parsed leniently in the ways protobuf JSON is lenient and strictly
everywhere else (`wire.py`); server messages are emitted as canonical proto-JSON. Field
names and nesting mirror the proto (see docs/protocol.md). This module is the schema's
one door: the building blocks (`wire.py`), content (`content.py`) and the setup
(`setup_message.py`) are named here too.
"""

from __future__ import annotations

import enum

from .content import (
    PART_DATA,
    Blob,
    Content,
    FunctionCall,
    FunctionResponse,
    FunctionResponsePart,
    Part,
)
from .setup_message import (
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    ContextWindowCompression,
    FunctionDeclaration,
    GenerationConfig,
    HistoryConfig,
    LanguageHints,
    PrebuiltVoiceConfig,
    ProactivityConfig,
    RealtimeInputConfig,
    ReplicatedVoiceConfig,
    SessionResumptionConfig,
    Setup,
    SlidingWindow,
    SpeechConfig,
    ThinkingConfig,
    Tool,
    TranslationConfig,
    VoiceConfig,
    VoiceConsentSignature,
)
from .wire import (
    ActivityHandling,
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
    "HistoryConfig",
    "InteractionStatus",
    "LanguageHints",
    "MediaResolution",
    "Modality",
    "ModalityTokenCount",
    "Part",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
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
    "SlidingWindow",
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
    "VoiceConfig",
    "VoiceConsentSignature",
    "WireModel",
    "WordInfo",
]


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
