"""Content on the wire: a turn's `Content`, its `Part`s, and what a part may carry
(text, inline data, a function's call or response, ...)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from .wire import Base64Bytes, Scheduling, WireModel

__all__ = [
    "PART_DATA",
    "Blob",
    "CodeExecutionResult",
    "Content",
    "ExecutableCode",
    "FileData",
    "FunctionCall",
    "FunctionResponse",
    "FunctionResponsePart",
    "Part",
]


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
