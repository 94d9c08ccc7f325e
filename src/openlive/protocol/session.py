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
    Modality,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    ServerContent,
    ServerMessage,
    SetupComplete,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    UsageMetadata,
)
from .setup import SessionConfig, validate_setup
from .turn import Ending, turn_end

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
        self.initial_history = False
        """`historyConfig.initialHistoryInClientContent`: `clientContent` is history,
        answered by nothing, until one with `turnComplete: true` ends it."""

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

    def _client_content(self, content: ClientContent) -> list[Event]:
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
        if self.initial_history:
            self.initial_history = not turn_complete
            return [ContentAppended(turns, turn_complete=False)]
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
        responses = tuple(response.function_responses or ())
        for r, function_response in enumerate(responses):
            for i, part in enumerate(function_response.parts or ()):
                if part.inline_data is None and part.file_data is None:
                    raise InvalidArgument(
                        f"Invalid value at 'tool_response.function_responses[{r}].parts[{i}]"
                        "': a part must hold inline_data or file_data."
                    )
        return [ToolResponsesReceived(responses)]

    @staticmethod
    def _context_update(update: ContextUpdate) -> list[Event]:
        tools = tuple(update.tools.tools or ()) if update.tools is not None else None
        return [ContextUpdated(update.system_instruction, tools)]

    # --- server to client ----------------------------------------------------------

    def complete_setup(
        self, config: SessionConfig, session_id: str = "", *, resumed: bool = False
    ) -> ServerMessage:
        """Accept the setup; return `setupComplete`, the first server message, with the
        session's id ("": none). A `resumed` session has its history already: it takes
        no initial history."""
        self._advance("complete_setup")
        self.config = config
        history = config.setup.history_config
        self.initial_history = bool(history and history.initial_history_in_client_content)
        self.initial_history &= not resumed
        return ServerMessage(setup_complete=SetupComplete(session_id=session_id or None))

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

    def interim_input_transcription(self, text: str) -> ServerMessage:
        """The user's turn so far, while they speak; each replaces the one before."""
        return self._content(
            ServerContent(interim_input_transcription=Transcription(text=text, finished=False))
        )

    def output_transcription(self, text: str) -> ServerMessage:
        return self._content(ServerContent(output_transcription=Transcription(text=text)))

    def generation_complete(self) -> ServerMessage:
        return self._content(ServerContent(generation_complete=True))

    def turn_complete(
        self,
        usage: TurnUsage | None = None,
        *,
        ending: Ending = Ending.ANSWERED,
        more: bool = False,
    ) -> ServerMessage:
        """`turnComplete` of a turn that ended so (`more`: another answer follows)."""
        return self._content(turn_end(ending, more=more), usage)

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
