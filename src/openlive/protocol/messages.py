"""The Live API messages, as pydantic models.

Client messages are parsed leniently in the ways protobuf JSON is lenient (either
lowerCamelCase or snake_case for every field, both base64 alphabets with or without
padding, int64 as a number or a string) and strictly everywhere else: an unknown field
is an error, as it is for the hosted service. Server messages are emitted as canonical
proto-JSON: lowerCamelCase, standard padded base64, int64 and durations as strings.

Field names and nesting mirror `BidiGenerateContentClientMessage` and
`BidiGenerateContentServerMessage` (see docs/protocol.md).
"""

from __future__ import annotations

import base64
import binascii
import enum
from typing import Annotated, Any, ClassVar, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "PART_DATA",
    "ActivityHandling",
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
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
    "Modality",
    "ModalityTokenCount",
    "Part",
    "RealtimeInput",
    "RealtimeInputConfig",
    "ReplicatedVoiceConfig",
    "ServerContent",
    "ServerMessage",
    "SessionResumptionConfig",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "SpeechConfig",
    "StartSensitivity",
    "ThinkingConfig",
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
    "WordInfo",
]


def _decode_base64(value: object) -> object:
    """Decode standard or URL-safe base64 text, padded or not; pass bytes through."""
    if not isinstance(value, str):
        return value
    text = value.strip().translate(_URLSAFE_TO_STANDARD)
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64 data") from exc


_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")

Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_decode_base64),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "format": "byte"}),
]
"""Bytes carried as base64 text on the wire (either alphabet in, standard out)."""


def _check_int64(value: int) -> int:
    if not -(2**63) <= value < 2**63:
        raise ValueError("not an int64")
    return value


Int64 = Annotated[
    int,
    AfterValidator(_check_int64),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "int64"}),
]
"""An int64: a JSON number or string in, a string out (proto3 JSON). A value beyond the
int64 range is refused as the wrong type, as the hosted service's parser refuses it."""


class WireModel(BaseModel):
    """Base for every wire object: camelCase or snake_case in, camelCase out."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
    )

    def to_wire(self) -> dict[str, Any]:
        """The canonical proto-JSON form: camelCase, no unset fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- enums -------------------------------------------------------------------------


class Modality(enum.StrEnum):
    MODALITY_UNSPECIFIED = "MODALITY_UNSPECIFIED"
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    DOCUMENT = "DOCUMENT"


class StartSensitivity(enum.StrEnum):
    START_SENSITIVITY_UNSPECIFIED = "START_SENSITIVITY_UNSPECIFIED"
    START_SENSITIVITY_HIGH = "START_SENSITIVITY_HIGH"
    START_SENSITIVITY_LOW = "START_SENSITIVITY_LOW"


class EndSensitivity(enum.StrEnum):
    END_SENSITIVITY_UNSPECIFIED = "END_SENSITIVITY_UNSPECIFIED"
    END_SENSITIVITY_HIGH = "END_SENSITIVITY_HIGH"
    END_SENSITIVITY_LOW = "END_SENSITIVITY_LOW"


class ActivityHandling(enum.StrEnum):
    ACTIVITY_HANDLING_UNSPECIFIED = "ACTIVITY_HANDLING_UNSPECIFIED"
    START_OF_ACTIVITY_INTERRUPTS = "START_OF_ACTIVITY_INTERRUPTS"
    NO_INTERRUPTION = "NO_INTERRUPTION"


class TurnCoverage(enum.StrEnum):
    TURN_COVERAGE_UNSPECIFIED = "TURN_COVERAGE_UNSPECIFIED"
    TURN_INCLUDES_ONLY_ACTIVITY = "TURN_INCLUDES_ONLY_ACTIVITY"
    TURN_INCLUDES_ALL_INPUT = "TURN_INCLUDES_ALL_INPUT"
    TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO = "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"


class MediaResolution(enum.StrEnum):
    MEDIA_RESOLUTION_UNSPECIFIED = "MEDIA_RESOLUTION_UNSPECIFIED"
    MEDIA_RESOLUTION_LOW = "MEDIA_RESOLUTION_LOW"
    MEDIA_RESOLUTION_MEDIUM = "MEDIA_RESOLUTION_MEDIUM"
    MEDIA_RESOLUTION_HIGH = "MEDIA_RESOLUTION_HIGH"


class Behavior(enum.StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"


class Scheduling(enum.StrEnum):
    SCHEDULING_UNSPECIFIED = "SCHEDULING_UNSPECIFIED"
    SILENT = "SILENT"
    WHEN_IDLE = "WHEN_IDLE"
    INTERRUPT = "INTERRUPT"


class ThinkingLevel(enum.StrEnum):
    THINKING_LEVEL_UNSPECIFIED = "THINKING_LEVEL_UNSPECIFIED"
    MINIMAL = "MINIMAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    XHIGH = "XHIGH"


class TurnCompleteReason(enum.StrEnum):
    """Why a turn ended (`serverContent.turnCompleteReason`): the SDKs' values."""

    TURN_COMPLETE_REASON_UNSPECIFIED = "TURN_COMPLETE_REASON_UNSPECIFIED"
    MALFORMED_FUNCTION_CALL = "MALFORMED_FUNCTION_CALL"
    RESPONSE_REJECTED = "RESPONSE_REJECTED"
    NEED_MORE_INPUT = "NEED_MORE_INPUT"
    PROHIBITED_INPUT_CONTENT = "PROHIBITED_INPUT_CONTENT"
    IMAGE_PROHIBITED_INPUT_CONTENT = "IMAGE_PROHIBITED_INPUT_CONTENT"
    INPUT_TEXT_CONTAIN_PROMINENT_PERSON_PROHIBITED = (
        "INPUT_TEXT_CONTAIN_PROMINENT_PERSON_PROHIBITED"
    )
    INPUT_IMAGE_CELEBRITY = "INPUT_IMAGE_CELEBRITY"
    INPUT_IMAGE_PHOTO_REALISTIC_CHILD_PROHIBITED = "INPUT_IMAGE_PHOTO_REALISTIC_CHILD_PROHIBITED"
    INPUT_TEXT_NCII_PROHIBITED = "INPUT_TEXT_NCII_PROHIBITED"
    INPUT_OTHER = "INPUT_OTHER"
    INPUT_IP_PROHIBITED = "INPUT_IP_PROHIBITED"
    BLOCKLIST = "BLOCKLIST"
    UNSAFE_PROMPT_FOR_IMAGE_GENERATION = "UNSAFE_PROMPT_FOR_IMAGE_GENERATION"
    GENERATED_IMAGE_SAFETY = "GENERATED_IMAGE_SAFETY"
    GENERATED_CONTENT_SAFETY = "GENERATED_CONTENT_SAFETY"
    GENERATED_AUDIO_SAFETY = "GENERATED_AUDIO_SAFETY"
    GENERATED_VIDEO_SAFETY = "GENERATED_VIDEO_SAFETY"
    GENERATED_CONTENT_PROHIBITED = "GENERATED_CONTENT_PROHIBITED"
    GENERATED_CONTENT_BLOCKLIST = "GENERATED_CONTENT_BLOCKLIST"
    GENERATED_IMAGE_PROHIBITED = "GENERATED_IMAGE_PROHIBITED"
    GENERATED_IMAGE_CELEBRITY = "GENERATED_IMAGE_CELEBRITY"
    GENERATED_IMAGE_PROMINENT_PEOPLE_DETECTED_BY_REWRITER = (
        "GENERATED_IMAGE_PROMINENT_PEOPLE_DETECTED_BY_REWRITER"
    )
    GENERATED_IMAGE_IDENTIFIABLE_PEOPLE = "GENERATED_IMAGE_IDENTIFIABLE_PEOPLE"
    GENERATED_IMAGE_MINORS = "GENERATED_IMAGE_MINORS"
    OUTPUT_IMAGE_IP_PROHIBITED = "OUTPUT_IMAGE_IP_PROHIBITED"
    GENERATED_OTHER = "GENERATED_OTHER"
    MAX_REGENERATION_REACHED = "MAX_REGENERATION_REACHED"


class InteractionStatus(enum.StrEnum):
    """What the session is doing as a turn completes (`serverContent.interactionStatus`)."""

    INTERACTION_STATUS_UNSPECIFIED = "INTERACTION_STATUS_UNSPECIFIED"
    IN_PROGRESS = "IN_PROGRESS"
    """More model output follows: the server is still working on input it has."""
    REQUIRES_ACTION = "REQUIRES_ACTION"
    """Deprecated in the SDKs in favour of IDLE; never sent."""
    IDLE = "IDLE"
    """Everything received has been dealt with."""


# --- content -----------------------------------------------------------------------


class Blob(WireModel):
    mime_type: str | None = None
    data: Base64Bytes = b""
    display_name: str | None = None


class FileData(WireModel):
    mime_type: str | None = None
    file_uri: str
    display_name: str | None = None


class FunctionCall(WireModel):
    id: str | None = None
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class FunctionResponsePart(WireModel):
    """Media that is part of a function's result."""

    inline_data: Blob | None = None
    file_data: FileData | None = None
    media_processing: Any = None
    media_resolution: Any = None
    video_metadata: dict[str, Any] | None = None
    document_metadata: dict[str, Any] | None = None
    spreadsheet_metadata: dict[str, Any] | None = None
    audio_metadata: dict[str, Any] | None = None


class FunctionResponse(WireModel):
    id: str | None = None
    name: str | None = None
    response: dict[str, Any] | None = None
    will_continue: bool | None = None
    scheduling: Scheduling | None = None
    parts: list[FunctionResponsePart] | None = None


class ExecutableCode(WireModel):
    language: str | None = None
    code: str | None = None
    id: str | None = None


class CodeExecutionResult(WireModel):
    outcome: str | None = None
    output: str | None = None
    id: str | None = None


class Part(WireModel):
    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    executable_code: ExecutableCode | None = None
    code_execution_result: CodeExecutionResult | None = None
    thought: bool | None = None
    thought_signature: Base64Bytes | None = None
    video_metadata: dict[str, Any] | None = None
    media_resolution: dict[str, Any] | None = None


PART_DATA: Final = (
    "text",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
)
"""The fields of a part's `data` oneof: a part from a client sets one."""


class Content(WireModel):
    role: str | None = None
    parts: list[Part] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """The concatenated text of the non-thought parts."""
        return "".join(p.text for p in self.parts if p.text is not None and not p.thought)


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
