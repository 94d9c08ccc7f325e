"""Live model names, what each can do, and which backend serves it.

The built-in names are the ones the Live API documentation and the SDKs use; every one
is served by the default LLM unless the configuration says otherwise. A model's class
decides what it accepts, as for the hosted models: half-cascade models answer in TEXT
or AUDIO, native-audio models in AUDIO only; half-cascade models take the 8 half-cascade
voice names and the 30 ``languageCode`` values, native-audio models the 30 native-audio
voice names, and choose their language themselves. Voice names defined in the
configuration are accepted by every model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import EngineSpec, LLMSpec, ModelClass, ModelSpec
from ..protocol.errors import InvalidArgument, NotFound
from ..protocol.messages import Modality
from .voices import HALF_CASCADE_VOICES, NATIVE_AUDIO_VOICES, Language, find_language

__all__ = ["BUILTIN_MODELS", "VOICE_ACTIVITY_MODELS", "Catalogue", "CatalogueEntry"]

_CLASS_MODALITIES: dict[ModelClass, frozenset[Modality]] = {
    "half-cascade": frozenset({Modality.TEXT, Modality.AUDIO}),
    "native-audio": frozenset({Modality.AUDIO}),
    "native-audio-thinking": frozenset({Modality.AUDIO}),
}

_CLASS_CONTEXT: dict[ModelClass, int] = {
    "half-cascade": 32_768,
    "native-audio": 131_072,
    "native-audio-thinking": 131_072,
}

BUILTIN_MODELS: dict[str, tuple[ModelClass, str]] = {
    "gemini-live-2.5-flash-preview": ("half-cascade", "Gemini Live 2.5 Flash Preview"),
    "gemini-2.0-flash-live-001": ("half-cascade", "Gemini 2.0 Flash Live"),
    "gemini-2.0-flash-live-preview-04-09": ("half-cascade", "Gemini 2.0 Flash Live Preview"),
    "gemini-live-2.5-flash": ("half-cascade", "Gemini Live 2.5 Flash"),
    "gemini-2.5-flash-preview-native-audio-dialog": (
        "native-audio",
        "Gemini 2.5 Flash Preview Native Audio Dialog",
    ),
    "gemini-2.5-flash-native-audio-preview-09-2025": (
        "native-audio",
        "Gemini 2.5 Flash Native Audio Preview 09-2025",
    ),
    "gemini-2.5-flash-native-audio-preview-12-2025": (
        "native-audio",
        "Gemini 2.5 Flash Native Audio Preview 12-2025",
    ),
    "gemini-live-2.5-flash-native-audio": ("native-audio", "Gemini Live 2.5 Flash Native Audio"),
    "gemini-3.1-flash-live-preview": ("native-audio", "Gemini 3.1 Flash Live Preview"),
    "gemini-2.5-flash-exp-native-audio-thinking-dialog": (
        "native-audio-thinking",
        "Gemini 2.5 Flash Exp Native Audio Thinking Dialog",
    ),
}

VOICE_ACTIVITY_MODELS: frozenset[str] = frozenset({"gemini-3.1-flash-live-preview"})
"""The built-in models that send `voiceActivity` messages, as their hosted counterparts
do (the 2.x models do not: a client written for them need not expect a message without
`serverContent` while the user speaks)."""


_CLASS_VOICES: dict[ModelClass, tuple[str, ...]] = {
    "half-cascade": HALF_CASCADE_VOICES,
    "native-audio": NATIVE_AUDIO_VOICES,
    "native-audio-thinking": NATIVE_AUDIO_VOICES,
}


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    name: str
    model_class: ModelClass
    display_name: str
    description: str
    llm: LLMSpec
    extra_voices: tuple[str, ...] = ()
    """Voice names of the configuration: accepted by every class."""
    recognizer: Path | EngineSpec | None = None
    """The model's own recognizer: a Whisper folder or an engine (None: the server's)."""
    speech: EngineSpec | None = None
    """The model's own speech engine (None: the server's voices)."""
    voice_activity: bool = False
    """Whether its sessions are sent `voiceActivity` as speech starts and ends."""

    @property
    def voices(self) -> tuple[str, ...]:
        """Every voice name the model takes: its class's prebuilt ones, then the
        configuration's."""
        return _CLASS_VOICES[self.model_class] + self.extra_voices

    @property
    def modalities(self) -> frozenset[Modality]:
        return _CLASS_MODALITIES[self.model_class]

    @property
    def input_token_limit(self) -> int:
        if self.llm.kind == "embedded":
            return min(self.llm.context_tokens, _CLASS_CONTEXT[self.model_class])
        return _CLASS_CONTEXT[self.model_class]

    def check_voice(self, name: str) -> str:
        """The voice name as the server spells it; `InvalidArgument` for a prebuilt
        voice name that the model's class does not have."""
        for voice in _CLASS_VOICES[self.model_class]:
            if voice.lower() == name.lower():
                return voice
        if name.lower() in (voice.lower() for voice in self.extra_voices):
            return name
        raise InvalidArgument(f'Voice name "{name[:40]}" is not supported by the model.')

    def check_language(self, code: str | None) -> Language | None:
        """The language of a `speechConfig.languageCode` (None when none is set).

        Half-cascade models take the 30 codes of the documentation; another closes the
        session (`InvalidArgument`). Native-audio models choose the language themselves
        and do not support setting it: a code they are given is used when it is one of
        the 30, and otherwise ignored, as the hosted models ignore it."""
        if not code:
            return None
        language = find_language(code)
        if language is None and self.model_class == "half-cascade":
            raise InvalidArgument(f'Language code "{code[:40]}" is not supported by the model.')
        return language

    def check_modality(self, modality: Modality) -> None:
        if modality not in self.modalities:
            raise InvalidArgument(
                f"The requested combination of response modalities ({modality.value}) is not "
                "supported by the model."
            )

    def to_rest(self) -> dict[str, object]:
        """The entry as a Gemini API `Model` resource."""
        return {
            "name": f"models/{self.name}",
            "baseModelId": self.name,
            "version": "openlive",
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_token_limit,
            "outputTokenLimit": min(8192, self.input_token_limit // 2),
            "supportedGenerationMethods": ["bidiGenerateContent"],
        }


class Catalogue:
    """Live model names → entries."""

    def __init__(
        self,
        default_llm: LLMSpec,
        user_models: Iterable[ModelSpec] = (),
        voices: Iterable[str] = (),
    ) -> None:
        """`voices`: the voice names that the configuration defines."""
        extra = tuple(voices)
        self._entries: dict[str, CatalogueEntry] = {}
        for name, (model_class, display) in BUILTIN_MODELS.items():
            self._entries[name] = CatalogueEntry(
                name=name,
                model_class=model_class,
                display_name=display,
                description=f"{display}, served by OpenLive ({_describe(default_llm)}).",
                llm=default_llm,
                extra_voices=extra,
                voice_activity=name in VOICE_ACTIVITY_MODELS,
            )
        for spec in user_models:
            llm = spec.llm or default_llm
            self._entries[spec.name] = CatalogueEntry(
                name=spec.name,
                model_class=spec.model_class,
                display_name=spec.name,
                description=spec.description or f"Served by OpenLive ({_describe(llm)}).",
                llm=llm,
                extra_voices=extra,
                recognizer=spec.transcription or spec.whisper,
                speech=spec.speech,
                voice_activity=spec.voice_activity,
            )

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, name: str) -> CatalogueEntry:
        """The entry for `name` (with or without `models/`), or `NotFound`."""
        for prefix in ("models/", "tunedModels/"):
            name = name.removeprefix(prefix)
        entry = self._entries.get(name)
        if entry is None:
            raise NotFound()
        return entry

    def llm_specs(self) -> list[LLMSpec]:
        """Each distinct backend the catalogue uses, once."""
        specs: dict[tuple[object, ...], LLMSpec] = {}
        for entry in self._entries.values():
            specs.setdefault(entry.llm.key, entry.llm)
        return list(specs.values())


def _describe(llm: LLMSpec) -> str:
    if llm.kind == "openai":
        return f"{llm.model} at {llm.base_url}"
    return f"embedded {llm.gguf.name if llm.gguf else 'SmolLM2-135M-Instruct'}"
