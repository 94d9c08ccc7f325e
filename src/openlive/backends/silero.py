"""Silero VAD v6 on onnxruntime, from the ONNX file that `faster-whisper` ships.

The model scores 32 ms frames (512 samples at 16 kHz). It is recurrent: each call takes
the LSTM state (``h``, ``c``, each 1x1x128) that the previous call returned, and the
frame is preceded by the last 64 samples of the previous frame (the "context"), so the
input is 576 samples. That state is what a `SileroStream` holds; the model itself (one
`InferenceSession`, about 1.2 MB) is shared by every stream. onnxruntime allows
concurrent `run` calls on one session, so streams on different threads need no lock.

Each call costs about 0.15 ms on one core, so the session runs on the caller's thread
alone (one intra-op and one inter-op thread): a thread pool would cost more to wake than
the work.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime

from openlive.audio.pcm import Samples

from .voice import SAMPLE_RATE, VAD, VADStream, VoiceModelError

__all__ = ["FRAME_SAMPLES", "SAMPLE_RATE", "SileroStream", "SileroVAD", "bundled_silero"]

FRAME_SAMPLES: Final = 512
"""Samples per frame at `SAMPLE_RATE` (32 ms); the only frame size the model takes."""
CONTEXT_SAMPLES: Final = 64
"""Samples of the previous frame that precede each frame in the model's input."""
_STATE_SHAPE: Final = (1, 1, 128)


def bundled_silero() -> Path:
    """The Silero VAD v6 model file inside the installed `faster-whisper` package.

    Found without importing `faster_whisper`, which would load CTranslate2, tokenizers
    and PyAV for nothing.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceModelError("the Silero VAD model is missing: pip install faster-whisper")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise VoiceModelError(f"the Silero VAD model is missing: {path}")
    return path


class SileroVAD(VAD):
    """The model, shared by all streams."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or bundled_silero()
        self.name = self.path.stem
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; it warns about unused initialisers
        try:
            self.session: Any = onnxruntime.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise VoiceModelError(f"cannot load the VAD model {self.path}: {exc}") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> SileroVAD:
        """Load the model (the bundled one by default)."""
        return cls(path)

    def stream(self) -> SileroStream:
        return SileroStream(self)


class SileroStream(VADStream):
    """The recurrent state and the context of one audio stream."""

    __slots__ = ("_c", "_h", "_input", "_session")

    def __init__(self, vad: SileroVAD) -> None:
        self._session = vad.session
        # One row: the context (the previous frame's last samples), then the frame.
        self._input = np.zeros((1, CONTEXT_SAMPLES + FRAME_SAMPLES), dtype=np.float32)
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)

    def probability(self, frame: Samples) -> float:
        x = np.asarray(frame)
        if x.shape != (FRAME_SAMPLES,) or x.dtype.kind != "f":
            raise ValueError(
                f"a VAD frame is {FRAME_SAMPLES} mono float samples at {SAMPLE_RATE} Hz,"
                f" got {x.dtype} of shape {x.shape}"
            )
        row = self._input[0]
        row[:CONTEXT_SAMPLES] = row[-CONTEXT_SAMPLES:]
        row[CONTEXT_SAMPLES:] = x
        speech, self._h, self._c = self._session.run(
            None, {"input": self._input, "h": self._h, "c": self._c}
        )
        return float(speech.reshape(-1)[0])

    def reset(self) -> None:
        self._input.fill(0.0)
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
