"""Silero VAD v6 on onnxruntime, from the ONNX file that `faster-whisper` ships.

The model scores 32 ms frames (512 samples at 16 kHz). It is recurrent: each call takes
the LSTM state (``h``, ``c``, each 1x1x128) that the previous call returned, and the
frame is preceded by the last 64 samples of the previous frame (the "context"), so the
input is 576 samples. That state is what a `SileroStream` holds; the model itself (one
`InferenceSession`, about 1.2 MB) is shared by every stream. onnxruntime allows
concurrent `run` calls on one session, so streams on different threads need no lock.
The model also takes a batch: `SileroVAD.probabilities` scores a frame of many streams
in one call, their states stacked on the batch axis.

Each call costs about 0.15 ms on one core, so the session runs on the caller's thread
alone (one intra-op and one inter-op thread): a thread pool would cost more to wake than
the work.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
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


def _across_streams(path: Path) -> bytes:
    """The model rewired to take one frame of each of many streams, serialized.

    As shipped, the model reads its input rows as consecutive frames of *one* stream:
    the encoder scores each row, and a transpose lays the rows out as the time axis of
    the LSTM, whose batch axis (and the state's, ``h`` and ``c`` of 1x1x128) is one.
    Transposed the other way, the rows become the LSTM's batch, a single time step
    each, and the state 1xNx128 holds N streams: the same weights and arithmetic, so each
    stream's probability is exactly what it would be alone (tests/backends/test_voice.py).
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    (transpose,) = [
        n for n in graph.node if n.op_type == "Transpose" and n.output[0] == "/Transpose_output_0"
    ]
    (perm,) = [a for a in transpose.attribute if a.name == "perm"]
    if list(perm.ints) != [0, 2, 1]:
        raise VoiceModelError(f"{path.name} is not the Silero VAD v6 graph this server knows")
    perm.ints[:] = [2, 0, 1]  # (rows, 1, features) -> (1, rows, features)
    for value in [*graph.input, *graph.output]:
        if value.name in ("h", "c", "hn", "cn"):
            value.type.tensor_type.shape.dim[1].dim_param = "streams"
        elif value.name == "speech_probs":
            value.type.tensor_type.shape.dim[0].dim_param = "streams"
    data: bytes = model.SerializeToString()
    return data


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
            self._batched: Any = onnxruntime.InferenceSession(
                _across_streams(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime and onnx raise their own untyped errors
            raise VoiceModelError(f"cannot load the VAD model {self.path}: {exc}") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> SileroVAD:
        """Load the model (the bundled one by default)."""
        return cls(path)

    def stream(self) -> SileroStream:
        return SileroStream(self)

    def probabilities(self, streams: Sequence[VADStream], frames: Samples) -> list[float]:
        """One model call for a frame of each stream (`_across_streams`)."""
        if len(streams) == 1:
            return [streams[0].probability(frames[0])]
        own = [s for s in streams if isinstance(s, SileroStream) and s._session is self.session]
        if len(own) != len(streams) or frames.shape != (len(streams), FRAME_SAMPLES):
            return super().probabilities(streams, frames)
        rows = np.empty((len(own), CONTEXT_SAMPLES + FRAME_SAMPLES), dtype=np.float32)
        for i, (stream, frame) in enumerate(zip(own, frames, strict=True)):
            rows[i] = stream._advance(frame)
        h = np.concatenate([s._h for s in own], axis=1)
        c = np.concatenate([s._c for s in own], axis=1)
        speech, h, c = self._batched.run(None, {"input": rows, "h": h, "c": c})
        for i, stream in enumerate(own):
            stream._h = h[:, i : i + 1].copy()
            stream._c = c[:, i : i + 1].copy()
        return [float(p) for p in np.asarray(speech).reshape(len(own), -1)[:, 0]]


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
        self._advance(frame)
        speech, self._h, self._c = self._session.run(
            None, {"input": self._input, "h": self._h, "c": self._c}
        )
        return float(speech.reshape(-1)[0])

    def _advance(self, frame: Samples) -> Samples:
        """Check `frame` and make it the model's next input row, after the context."""
        x = np.asarray(frame)
        if x.shape != (FRAME_SAMPLES,) or x.dtype.kind != "f":
            raise ValueError(
                f"a VAD frame is {FRAME_SAMPLES} mono float samples at {SAMPLE_RATE} Hz,"
                f" got {x.dtype} of shape {x.shape}"
            )
        row: Samples = self._input[0]
        row[:CONTEXT_SAMPLES] = row[-CONTEXT_SAMPLES:]
        row[CONTEXT_SAMPLES:] = x
        return row

    def reset(self) -> None:
        self._input.fill(0.0)
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
