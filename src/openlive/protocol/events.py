"""What a session asks of the application, once a client message has been accepted.

The protocol core turns each valid client message into zero or more of these events;
the pipeline acts on them. They are plain frozen dataclasses with no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Blob, Content, FunctionResponse, Setup, Tool

__all__ = [
    "ActivityEnded",
    "ActivityStarted",
    "AudioReceived",
    "AudioStreamEnded",
    "ContentAppended",
    "ContextUpdated",
    "Event",
    "SetupRequested",
    "TextReceived",
    "ToolResponsesReceived",
    "VideoReceived",
]


@dataclass(frozen=True, slots=True)
class SetupRequested:
    """The client's `setup`; answer with `LiveSession.complete_setup` or close."""

    setup: Setup


@dataclass(frozen=True, slots=True)
class ContentAppended:
    """`clientContent`: turns appended to the history; answer them if `turn_complete`."""

    turns: tuple[Content, ...]
    turn_complete: bool


@dataclass(frozen=True, slots=True)
class TextReceived:
    """`realtimeInput.text`: a user turn typed in real time."""

    text: str


@dataclass(frozen=True, slots=True)
class AudioReceived:
    blob: Blob


@dataclass(frozen=True, slots=True)
class VideoReceived:
    blob: Blob


@dataclass(frozen=True, slots=True)
class AudioStreamEnded:
    pass


@dataclass(frozen=True, slots=True)
class ActivityStarted:
    pass


@dataclass(frozen=True, slots=True)
class ActivityEnded:
    pass


@dataclass(frozen=True, slots=True)
class ToolResponsesReceived:
    responses: tuple[FunctionResponse, ...]


@dataclass(frozen=True, slots=True)
class ContextUpdated:
    system_instruction: Content | None
    tools: tuple[Tool, ...] | None


Event = (
    SetupRequested
    | ContentAppended
    | TextReceived
    | AudioReceived
    | VideoReceived
    | AudioStreamEnded
    | ActivityStarted
    | ActivityEnded
    | ToolResponsesReceived
    | ContextUpdated
)
