"""Builds the models of a process once: each LLM the catalogue names, and the voice stack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import EngineSpec, LLMSpec, VoiceSpec
from .base import LLM, LLMError
from .catalogue import Catalogue
from .scheduler import Scheduler
from .voice import ASR, TTS, VAD, TextTurnModel, TurnModel, VoiceModelError
from .voices import BUILTIN_VOICES, VoiceStyle

__all__ = ["Backends", "Recognizer", "VoiceModels", "build_llm", "load_voice", "voice_table"]

log = logging.getLogger(__name__)


Recognizer = Path | EngineSpec
"""What a model names for its recognizer: a Whisper folder, or an engine."""


@dataclass(frozen=True, slots=True)
class VoiceModels:
    """The voice stack, shared by every session."""

    vad: VAD
    asr: ASR
    """The server's recognizer."""
    tts: TTS
    """The server's synthesizer."""
    recognizers: Mapping[Recognizer, ASR] = field(default_factory=dict)
    """The models' own recognizers, by what they name."""
    synthesizers: Mapping[EngineSpec, TTS] = field(default_factory=dict)
    """The models' own speech engines."""
    turn: TurnModel | None = None
    """The learned end of turn (Smart Turn v3); None: turns end on silence alone."""
    words: TextTurnModel | None = None
    """The learned end of turn's reading of the words (the bundled LLM asked whether a
    message ends there); None: the words decide by their punctuation alone."""

    def for_model(
        self, recognizer: Recognizer | None = None, speech: EngineSpec | None = None
    ) -> VoiceModels:
        """The stack with the recognizer and synthesizer that a model names, if any."""
        return replace(
            self,
            asr=self.asr if recognizer is None else self.recognizers[recognizer],
            tts=self.tts if speech is None else self.synthesizers[speech],
        )

    def all_recognizers(self) -> list[ASR]:
        """The recognizers that run here (an engine's warm themselves)."""
        return [asr for asr in (self.asr, *self.recognizers.values()) if not asr.remote]


def load_voice(
    data_dir: Path,
    voices: Sequence[VoiceSpec] = (),
    whisper: Path | None = None,
    model_recognizers: Iterable[Recognizer] = (),
    model_speech: Iterable[EngineSpec] = (),
    learned_turns: bool = True,
) -> VoiceModels:
    """Load the embedded voice stack (blocking: call it off the event loop).

    The recognizer is the Whisper folder `whisper`, else the bundled Whisper base, whose
    weights ship split across two packages: the first start joins them into
    `data_dir/models` (about a second), later starts only check them.
    `model_recognizers` are what models name for themselves (Whisper folders, or
    engines), `model_speech` their speech engines; each is made once. `voices` are the
    voice names of the configuration; each distinct model file they name loads once.
    """
    from .models import prepare_whisper
    from .openai_audio import EngineASR, EngineTTS
    from .piper import PiperTTS
    from .silero import SileroVAD
    from .whisper import WhisperASR

    def recognizer(named: Recognizer) -> ASR:
        return EngineASR(named) if isinstance(named, EngineSpec) else WhisperASR(named)

    vad = SileroVAD()
    asr = WhisperASR(whisper or prepare_whisper(data_dir / "models"))
    recognizers = {named: recognizer(named) for named in dict.fromkeys(model_recognizers)}
    synthesizers = {spec: EngineTTS(spec) for spec in dict.fromkeys(model_speech)}
    tts = PiperTTS(voice_table(voices))
    turn = _turn_model() if learned_turns else None
    words = _text_turn_model(data_dir / "models") if turn is not None else None
    engines: list[ASR | TTS] = [*recognizers.values(), *synthesizers.values()]
    names = ", ".join(m.name for m in engines)
    log.info(
        "voice ready: %s, %s, %s%s%s",
        vad.name,
        asr.name,
        tts.name,
        f", {turn.name}" if turn else "",
        f", {words.name}" if words else "",
        f" (and {names})" * bool(names),
    )
    return VoiceModels(vad, asr, tts, recognizers, synthesizers, turn, words)


def _text_turn_model(models_dir: Path) -> TextTurnModel | None:
    """The bundled LLM as the embedded LLM runs it (prepared in `models_dir`), else as
    shipped; None, with a warning, where it cannot load."""
    from .models import bundled_gguf, llm_file
    from .text_turn import TextTurn

    try:
        return TextTurn(llm_file(models_dir, bundled_gguf()))
    except (LLMError, VoiceModelError) as exc:
        log.warning("a learned end of turn reads the words by punctuation alone: %s", exc)
        return None


def _turn_model() -> TurnModel | None:
    from .smart_turn import SmartTurn

    try:
        return SmartTurn()
    except VoiceModelError as exc:
        log.warning("turns end on silence alone: %s", exc)
        return None


def voice_table(
    voices: Sequence[VoiceSpec],
) -> dict[str, tuple[Path | None, int | str | None, VoiceStyle]]:
    """The configuration's voice names as `PiperTTS` takes them.

    A name that keeps the bundled model starts from its built-in style (if it has one)
    and changes what its table says; a name on another model starts from that model as
    it is."""
    builtin = {name.lower(): style for name, style in BUILTIN_VOICES.items()}
    table: dict[str, tuple[Path | None, int | str | None, VoiceStyle]] = {}
    for spec in voices:
        base = VoiceStyle()
        if spec.model is None:
            base = builtin.get(spec.name.lower(), base)
        given = {
            key: value
            for key in ("pitch", "formant", "rate", "tilt")
            if (value := getattr(spec, key)) is not None
        }
        table[spec.name] = (spec.model, spec.speaker, replace(base, **given))
    return table


def build_llm(
    spec: LLMSpec, scheduler: Scheduler | None = None, models_dir: Path | None = None
) -> LLM:
    """The LLM `spec` names; the bundled model is prepared in `models_dir`, if given."""
    if spec.kind == "openai":
        from .openai_compat import OpenAICompatibleLLM

        assert spec.base_url and spec.model
        return OpenAICompatibleLLM(spec.base_url, spec.model, spec.api_key, timeout=spec.timeout)
    from .embedded import EmbeddedLLM

    return EmbeddedLLM(
        spec.gguf,
        context_tokens=spec.context_tokens,
        threads=spec.threads,
        generation_threads=spec.generation_threads,
        cache_budget_bytes=spec.kv_cache_mb * 1024 * 1024,
        scheduler=scheduler,
        models_dir=models_dir,
    )


class Backends:
    """The started LLMs of a process, shared by all sessions."""

    def __init__(
        self,
        catalogue: Catalogue,
        prebuilt: Mapping[LLMSpec, LLM] | None = None,
        scheduler: Scheduler | None = None,
        models_dir: Path | None = None,
    ) -> None:
        """Build each LLM the catalogue uses, except those `prebuilt` already gives.

        Embedded models run their steps on `scheduler` (shared with the voice models),
        or on a scheduler of their own; the bundled one is prepared in `models_dir`."""
        self.catalogue = catalogue
        given = {spec.key: llm for spec, llm in (prebuilt or {}).items()}
        self._llms: dict[tuple[object, ...], LLM] = {
            spec.key: (
                given[spec.key] if spec.key in given else build_llm(spec, scheduler, models_dir)
            )
            for spec in catalogue.llm_specs()
        }

    async def start(self) -> None:
        await asyncio.gather(*(llm.start() for llm in self._llms.values()))
        log.info("backends ready: %s", ", ".join(llm.name for llm in self._llms.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(llm.aclose() for llm in self._llms.values()), return_exceptions=True)

    def __iter__(self) -> Iterator[LLM]:
        return iter(self._llms.values())

    def llm(self, spec: LLMSpec) -> LLM:
        return self._llms[spec.key]
