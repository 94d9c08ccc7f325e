"""The wire's building blocks: the base of every Live API object, its scalar types
(base64 bytes, int64), and its enums.

Objects from clients are read leniently in the ways protobuf JSON is lenient (either
lowerCamelCase or snake_case for every field, both base64 alphabets with or without
padding, int64 as a number or a string) and strictly everywhere else: an unknown field
is an error, as it is for the hosted service. Objects are written as canonical
proto-JSON: lowerCamelCase, standard padded base64, int64 as strings.
"""

from __future__ import annotations

import base64
import binascii
import enum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ActivityHandling",
    "Base64Bytes",
    "Behavior",
    "EndSensitivity",
    "Int64",
    "InteractionStatus",
    "MediaResolution",
    "Modality",
    "Scheduling",
    "StartSensitivity",
    "ThinkingLevel",
    "TurnCompleteReason",
    "TurnCoverage",
    "WireModel",
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
