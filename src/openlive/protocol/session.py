"""The Live session as a sans-I/O state machine.

`LiveSession.receive` takes one decoded client message and returns the events the
application must act on, or raises a `LiveError` that says how to close. The methods
that build server messages check that the session is in a state where that message may
be sent. Nothing here awaits, reads a socket or touches a model: every rule of the
protocol can be tested with plain function calls.

States and the messages that move between them (the table is `TRANSITIONS`)::

    AWAITING_SETUP --setup--> SETTING_UP --complete_setup()--> ACTIVE
    any state --close()--> CLOSED
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from .errors import InvalidArgument, LiveError
from .events import (
    ActivityEnded,
    ActivityStarted,
    AudioReceived,
    AudioStreamEnded,
    ContentAppended,
    ContextUpdated,
    Event,
    SetupRequested,
    TextReceived,
    ToolResponsesReceived,
    VideoReceived,
)
from .messages import (
    PART_DATA,
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    FunctionCall,
    GenerationConfig,
    Modality,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    ServerContent,
    ServerMessage,
    Setup,
    SetupComplete,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    UsageMetadata,
)

__all__ = [
    "TRANSITIONS",
    "LiveSession",
    "SessionConfig",
    "SessionState",
    "TurnUsage",
    "validate_setup",
]


class SessionState(enum.Enum):
    AWAITING_SETUP = "awaiting setup"
    SETTING_UP = "setting up"
    ACTIVE = "active"
    CLOSED = "closed"


TRANSITIONS: dict[tuple[SessionState, str], SessionState] = {
    (SessionState.AWAITING_SETUP, "setup"): SessionState.SETTING_UP,
    (SessionState.SETTING_UP, "complete_setup"): SessionState.ACTIVE,
    (SessionState.ACTIVE, "client_content"): SessionState.ACTIVE,
    (SessionState.ACTIVE, "realtime_input"): SessionState.ACTIVE,
    (SessionState.ACTIVE, "tool_response"): SessionState.ACTIVE,
    (SessionState.ACTIVE, "context_update"): SessionState.ACTIVE,
}
"""Every legal (state, message or action) pair and the state it leads to."""


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


@dataclass(frozen=True, slots=True)
class TurnUsage:
    """Token counts of one model turn, by modality."""

    prompt: dict[Modality, int] = field(default_factory=dict)
    response: dict[Modality, int] = field(default_factory=dict)
    thoughts: int = 0
    """Tokens the model reasoned for: apart from the response, in the total."""

    def to_metadata(self) -> UsageMetadata:
        prompt_total = sum(self.prompt.values())
        response_total = sum(self.response.values())
        return UsageMetadata(
            prompt_token_count=prompt_total,
            response_token_count=response_total,
            thoughts_token_count=self.thoughts or None,
            total_token_count=prompt_total + response_total + self.thoughts,
            prompt_tokens_details=_details(self.prompt),
            response_tokens_details=_details(self.response),
        )


def _details(counts: dict[Modality, int]) -> list[ModalityTokenCount] | None:
    return [ModalityTokenCount(modality=m, token_count=n) for m, n in counts.items()] or None


class LiveSession:
    """The protocol state of one Live connection, independent of any I/O."""

    def __init__(self) -> None:
        self.state = SessionState.AWAITING_SETUP
        self.config: SessionConfig | None = None
        self.client_message_index = -1
        """Index of the last client message accepted (the first is 0)."""

    # --- client to server ----------------------------------------------------------

    def receive(self, message: ClientMessage) -> list[Event]:
        """Accept one client message and return what it asks for.

        Raises `LiveError` for a message that the protocol does not allow now; the
        session is then closed.
        """
        kind = _kind(message)
        try:
            self._advance(kind)
            self.client_message_index += 1
            if message.setup is not None:
                return [SetupRequested(message.setup)]
            if message.client_content is not None:
                return self._client_content(message.client_content)
            if message.realtime_input is not None:
                return self._realtime_input(message.realtime_input)
            if message.tool_response is not None:
                return self._tool_response(message.tool_response)
            assert message.context_update is not None
            return self._context_update(message.context_update)
        except LiveError:
            self.state = SessionState.CLOSED
            raise

    def _advance(self, kind: str) -> None:
        target = TRANSITIONS.get((self.state, kind))
        if target is not None:
            self.state = target
            return
        if self.state is SessionState.AWAITING_SETUP:
            raise InvalidArgument("The first message must be setup.")
        if kind == "setup":
            raise InvalidArgument("setup may be sent only once, as the first message.")
        raise InvalidArgument(f"{kind} is not allowed while the session is {self.state.value}.")

    @staticmethod
    def _client_content(content: ClientContent) -> list[Event]:
        turns = tuple(content.turns or ())
        for t, turn in enumerate(turns):
            if turn.role not in (None, "user", "model"):
                raise InvalidArgument(f'Please use a valid role: user, model. Got "{turn.role}".')
            for i, part in enumerate(turn.parts):
                if all(getattr(part, name) is None for name in PART_DATA):
                    raise InvalidArgument(
                        f"Invalid value at 'client_content.turns[{t}].parts[{i}].data': "
                        "required oneof field 'data' must have one initialized field."
                    )
        turn_complete = True if content.turn_complete is None else content.turn_complete
        return [ContentAppended(turns, turn_complete)]

    def _realtime_input(self, realtime: RealtimeInput) -> list[Event]:
        events: list[Event] = []
        manual = self._activity_detection_disabled()
        signalled = realtime.activity_start is not None or realtime.activity_end is not None
        if signalled and not manual:
            raise InvalidArgument(
                "Explicit activity control is not supported when automatic activity "
                "detection is enabled."
            )
        if realtime.audio_stream_end and manual:
            raise InvalidArgument(
                "audio_stream_end is only allowed with automatic activity detection."
            )
        if realtime.activity_start is not None:
            events.append(ActivityStarted())
        for chunk in (realtime.media_chunks or [])[:1]:
            mime = (chunk.mime_type or "").lower()
            events.append(
                AudioReceived(chunk) if mime.startswith("audio/") else VideoReceived(chunk)
            )
        if realtime.audio is not None:
            events.append(AudioReceived(realtime.audio))
        if realtime.video is not None:
            events.append(VideoReceived(realtime.video))
        if realtime.text is not None:
            events.append(TextReceived(realtime.text))
        if realtime.audio_stream_end:
            events.append(AudioStreamEnded())
        if realtime.activity_end is not None:
            events.append(ActivityEnded())
        return events

    def _activity_detection_disabled(self) -> bool:
        assert self.config is not None
        rt = self.config.setup.realtime_input_config
        aad = rt.automatic_activity_detection if rt else None
        return bool(aad and aad.disabled)

    @staticmethod
    def _tool_response(response: ToolResponse) -> list[Event]:
        return [ToolResponsesReceived(tuple(response.function_responses or ()))]

    @staticmethod
    def _context_update(update: ContextUpdate) -> list[Event]:
        tools = tuple(update.tools.tools or ()) if update.tools is not None else None
        return [ContextUpdated(update.system_instruction, tools)]

    # --- server to client ----------------------------------------------------------

    def complete_setup(self, config: SessionConfig) -> ServerMessage:
        """Accept the setup; return `setupComplete`, the first server message."""
        self._advance("complete_setup")
        self.config = config
        return ServerMessage(setup_complete=SetupComplete())

    def close(self) -> None:
        self.state = SessionState.CLOSED

    def _content(self, content: ServerContent, usage: TurnUsage | None = None) -> ServerMessage:
        if self.state is not SessionState.ACTIVE:
            raise RuntimeError(f"cannot send serverContent while {self.state.value}")
        return ServerMessage(
            server_content=content,
            usage_metadata=usage.to_metadata() if usage is not None else None,
        )

    def model_text(self, text: str) -> ServerMessage:
        return self._content(
            ServerContent(model_turn=Content(role="model", parts=[Part(text=text)]))
        )

    def model_thought(self, text: str) -> ServerMessage:
        """A delta of the model's reasoning: a text part marked `thought`."""
        return self._content(
            ServerContent(model_turn=Content(role="model", parts=[Part(text=text, thought=True)]))
        )

    def model_audio(self, pcm: bytes, rate: int = 24000) -> ServerMessage:
        blob = Blob(mime_type=f"audio/pcm;rate={rate}", data=pcm)
        return self._content(
            ServerContent(model_turn=Content(role="model", parts=[Part(inline_data=blob)]))
        )

    def input_transcription(self, text: str, *, finished: bool = True) -> ServerMessage:
        return self._content(
            ServerContent(input_transcription=Transcription(text=text, finished=finished))
        )

    def interim_input_transcription(self, text: str) -> ServerMessage:
        """The user's turn so far, while they speak; each replaces the one before."""
        return self._content(
            ServerContent(interim_input_transcription=Transcription(text=text, finished=False))
        )

    def output_transcription(self, text: str) -> ServerMessage:
        return self._content(ServerContent(output_transcription=Transcription(text=text)))

    def generation_complete(self) -> ServerMessage:
        return self._content(ServerContent(generation_complete=True))

    def turn_complete(self, usage: TurnUsage | None = None) -> ServerMessage:
        return self._content(ServerContent(turn_complete=True), usage)

    def interrupted(self) -> ServerMessage:
        return self._content(ServerContent(interrupted=True))

    def tool_call(self, calls: list[FunctionCall]) -> ServerMessage:
        self._check_active("toolCall")
        return ServerMessage(tool_call=ToolCall(function_calls=calls))

    def tool_call_cancellation(self, ids: list[str]) -> ServerMessage:
        self._check_active("toolCallCancellation")
        return ServerMessage(tool_call_cancellation=ToolCallCancellation(ids=ids))

    def _check_active(self, what: str) -> None:
        if self.state is not SessionState.ACTIVE:
            raise RuntimeError(f"cannot send {what} while {self.state.value}")


def _kind(message: ClientMessage) -> str:
    for name in ("setup", "client_content", "realtime_input", "tool_response", "context_update"):
        if getattr(message, name) is not None:
            return name
    raise InvalidArgument("A client message must set exactly one field.")
