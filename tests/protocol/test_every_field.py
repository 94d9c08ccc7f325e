"""docs/protocol.md's appendix lists every field of the SDKs' Live types.

The test walks the pydantic models of the Python SDK (`google.genai.types`) from the
Live roots down, and the interfaces of the same names in the JavaScript SDK's
`genai.d.ts`; each type reached must have its table in the appendix ("### `Type`"), and
each of its fields (camelCase, as on the wire) a row there. A type in `WHOLE` is told in
its parent's row as a whole, so its own fields are not walked. When the SDKs grow a
field, this fails until the appendix says what OpenLive does with it.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from google.genai import types
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
DTS = ROOT / "tests" / "js" / "node_modules" / "@google" / "genai" / "dist" / "genai.d.ts"

ROOTS = (
    types.LiveConnectConfig,
    types.LiveClientMessage,
    types.LiveServerMessage,
    types.Tool,  # `tools` is typed as a list of callables or tools, which hides it
    types.FunctionDeclaration,
)

WHOLE: dict[str, str] = {
    "HttpOptions": "the SDK's own client settings, not sent",
    "File": "an SDK input the SDK turns into a part; not a wire type",
    "Schema": "converted to JSON Schema as a whole (parameters), or refused (responseSchema)",
    "ModelSelectionConfig": "refused with GenerationConfig.modelSelectionConfig",
    "GenerationConfigRoutingConfig": "refused with GenerationConfig.routingConfig",
    "ResponseFormat": "refused with GenerationConfig.responseFormat",
    "MultiSpeakerVoiceConfig": "refused with SpeechConfig.multiSpeakerVoiceConfig",
    "AvatarConfig": "ignored with LiveClientSetup.avatarConfig",
    "SafetySetting": "ignored with LiveClientSetup.safetySettings",
    "LanguageAuto": "with AudioTranscriptionConfig.languageAuto",
    "LanguageHints": "with AudioTranscriptionConfig.languageHints",
    "PartMediaResolution": "ignored with Part.mediaResolution",
    "VideoMetadata": "ignored with Part.videoMetadata",
    "PartialArg": "never sent (FunctionCall.partialArgs)",
    "FunctionResponsePart": "with FunctionResponse.parts",
    "ToolCall": "refused with Part.toolCall",
    "ToolResponse": "refused with Part.toolResponse",
    "SpeechMetadata": "refused with Part.speechMetadata",
    "DocumentMetadata": "refused with Part.documentMetadata",
    "SpreadsheetMetadata": "refused with Part.spreadsheetMetadata",
    "AudioMetadata": "refused with Part.audioMetadata",
    "GroundingMetadata": "never sent (its tools are refused)",
    "UrlContextMetadata": "never sent (its tool is refused)",
    # the built-in tools: each refused whatever it holds
    "Retrieval": "a built-in tool",
    "ComputerUse": "a built-in tool",
    "FileSearch": "a built-in tool",
    "GoogleSearch": "a built-in tool",
    "GoogleMaps": "a built-in tool",
    "ToolCodeExecution": "a built-in tool",
    "EnterpriseWebSearch": "a built-in tool",
    "GoogleSearchRetrieval": "a built-in tool",
    "ToolParallelAiSearch": "a built-in tool",
    "UrlContext": "a built-in tool",
    "McpServer": "a built-in tool",
    "ToolExaAiSearch": "a built-in tool",
}
"""Types told as a whole in their parent's row, with why."""


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def walked() -> dict[str, type[BaseModel]]:
    """Every type reached from the roots, by name, `WHOLE` ones included (not entered)."""
    found: dict[str, type[BaseModel]] = {}

    def walk(model: type[BaseModel]) -> None:
        if model.__name__ in found:
            return
        found[model.__name__] = model
        if model.__name__ in WHOLE:
            return
        for field in model.model_fields.values():
            for inner in _models(field.annotation):
                walk(inner)

    for root in ROOTS:
        walk(root)
    return found


def js_fields(name: str) -> list[str]:
    """The fields of the JavaScript SDK's interface (or class) `name`; [] if none."""
    match = re.search(
        rf"^export declare (?:interface|class) {name} \{{(.*?)^\}}", DTS.read_text(), re.M | re.S
    )
    return re.findall(r"^    (\w+)\??:", match.group(1), re.M) if match else []


def appendix() -> dict[str, set[str]]:
    """The appendix's tables: type name → the fields its rows name."""
    text = DOC.read_text().split("## Appendix: every field", 1)[1]
    tables: dict[str, set[str]] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        heading = re.match(r"`(\w+)`", section)
        assert heading, f"an appendix heading without a type name: {section[:40]!r}"
        rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
        tables[heading.group(1)] = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    return tables


TYPES = walked()


def test_the_walk_reaches_the_live_types() -> None:
    """A check that could not fail on a walk that found nothing."""
    for name in ("LiveClientSetup", "TranslationConfig", "ReplicatedVoiceConfig", "Transcription"):
        assert name in TYPES
    assert set(WHOLE) <= set(TYPES), set(WHOLE) - set(TYPES)  # no stale entries


def fields_of(name: str) -> set[str]:
    return {to_camel(f) for f in TYPES[name].model_fields} | set(js_fields(name))


WITH_FIELDS = sorted(name for name in set(TYPES) - set(WHOLE) if fields_of(name))
"""The types to list (`ActivityStart` and the like have no fields: their parent's row
says what OpenLive does with them)."""


@pytest.mark.parametrize("name", WITH_FIELDS)
def test_every_field_has_a_row(name: str) -> None:
    tables = appendix()
    assert name in tables, f"docs/protocol.md's appendix has no table for `{name}`"
    fields = fields_of(name)
    missing = sorted(fields - tables[name])
    assert not missing, f"`{name}` fields missing from its table in docs/protocol.md: {missing}"


def test_the_appendix_holds_no_stale_table() -> None:
    assert set(appendix()) <= set(WITH_FIELDS), set(appendix()) - set(WITH_FIELDS)


def test_the_javascript_sdk_is_read() -> None:
    assert {"targetLanguageCode", "echoTargetLanguage"} <= set(js_fields("TranslationConfig"))
    assert "abortSignal" in js_fields("LiveConnectConfig")  # a field the Python SDK lacks
