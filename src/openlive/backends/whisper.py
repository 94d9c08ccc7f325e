"""Whisper through faster-whisper (CTranslate2, int8 on the CPU), for whole utterances.

The pipeline segments speech with the VAD and hands each utterance (or a speculative
prefix of one, when a pause begins) to `WhisperASR.transcribe`. So the decoding options
are those of short, already-segmented audio, chosen for latency:

- greedy decoding (``beam_size=1``), and one temperature: no fallback to sampling at
  higher temperatures, which could decode the same audio up to six times on a doubtful
  utterance;
- no timestamps, no conditioning on earlier text, no VAD filter (the pipeline's VAD
  already did that work);
- faster-whisper's no-speech rule is kept: a segment whose no-speech probability is
  high *and* whose decoding is unsure is dropped, which removes most of Whisper's
  hallucinated "Thank you." on noise.

Giving the language skips detection, an extra encoder pass (about 0.4 s on two cores).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from openlive.audio.pcm import Samples

from .models import WHISPER_FILES
from .voice import ASR, SAMPLE_RATE, ASRCapabilities, Transcript, VoiceModelError

__all__ = ["WhisperASR"]

log = logging.getLogger(__name__)

FALLBACK_TEMPERATURES = (0.0, 0.4, 0.8)
"""Decoding temperatures, tried in turn while the transcript loops (``he he he ...``)."""


class WhisperASR(ASR):
    """A CTranslate2 Whisper model folder (such as `prepare_whisper` makes), loaded once.

    ``threads`` is CTranslate2's intra-op thread count for one transcription. Calls from
    several threads run one after the other, in the order they arrive, so that they do
    not compete for the cores; which utterance goes first is the caller's decision.
    """

    def __init__(self, model_dir: Path, threads: int = 2) -> None:
        self.model_dir = Path(model_dir)
        missing = [name for name in WHISPER_FILES if not (self.model_dir / name).is_file()]
        if missing:
            # Checked here because faster-whisper would otherwise reach for the Hub.
            raise VoiceModelError(
                f"not a CTranslate2 Whisper folder: {self.model_dir} lacks {', '.join(missing)}"
            )
        from faster_whisper import WhisperModel  # heavy: CTranslate2, tokenizers, PyAV

        self.name = self.model_dir.name
        self.threads = threads
        try:
            self._model: Any = WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise VoiceModelError(f"cannot load Whisper from {self.model_dir}: {exc}") from exc
        self.capabilities = ASRCapabilities(
            streaming=False,
            language_detection=bool(self._model.model.is_multilingual),
            languages=frozenset(self._model.supported_languages),
        )
        self._lock = threading.Lock()

    def transcribe(self, samples: Samples, language: str | None = None) -> Transcript:
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected a 1-D array of mono samples, got shape {audio.shape}")
        if language is not None and language not in self.capabilities.languages:
            raise ValueError(f"Whisper does not know the language {language!r}")
        duration = len(audio) / SAMPLE_RATE
        if len(audio) == 0:
            return Transcript("", language or "", 1.0 if language else 0.0, 0.0)
        # One transcription at a time, whole: CTranslate2 queues each encode and decode
        # step separately, so two calls at once would interleave, and both finish late.
        with self._lock:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=1,
                best_of=1,
                # Greedy first; a transcript that repeats itself (a loop: its text
                # compresses too well) is decoded again, sampled, as Whisper does.
                temperature=FALLBACK_TEMPERATURES,
                compression_ratio_threshold=2.4,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            text = "".join(segment.text for segment in segments).strip()
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            duration=duration,
        )
