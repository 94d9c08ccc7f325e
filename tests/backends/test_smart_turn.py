"""Smart Turn v3, the learned end of turn's model: where it comes from and what it hears.

The model file is what `make` extracts from the pipecat-ai wheel into the environment
(`backends/smart_turn.py`); these tests use that file.
"""

from __future__ import annotations

import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

from openlive.backends import smart_turn
from openlive.backends.smart_turn import (
    LICENSE_MEMBER,
    WHEEL_MEMBER,
    SmartTurn,
    bundled_smart_turn,
    extract,
    features,
)
from openlive.backends.voice import VoiceModelError

pytestmark = pytest.mark.models

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
RATE = 16_000


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn()


def recording(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0


def test_the_model_is_installed_and_is_the_one_expected() -> None:
    path = bundled_smart_turn()
    assert path.stat().st_size > 8_000_000
    assert (path.parent / "SMART-TURN-LICENSE").read_text().startswith("BSD 2-Clause")


def test_extracting_takes_the_checked_file_out_of_a_wheel(tmp_path: Path) -> None:
    data = bundled_smart_turn().read_bytes()
    wheel = tmp_path / "pipecat_ai-1.14.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(WHEEL_MEMBER, data)
        archive.writestr(LICENSE_MEMBER, "BSD 2-Clause License\n")
    dest = extract(wheel, tmp_path / "share" / smart_turn.MODEL_FILE)
    assert dest.read_bytes() == data
    assert (dest.parent / "SMART-TURN-LICENSE").is_file()

    damaged = tmp_path / "damaged.whl"
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr(WHEEL_MEMBER, data[:-1] + b"x")
        archive.writestr(LICENSE_MEMBER, "")
    with pytest.raises(VoiceModelError, match="SHA-256"):
        extract(damaged, tmp_path / "other" / smart_turn.MODEL_FILE)
    assert not (tmp_path / "other" / smart_turn.MODEL_FILE).exists()


def test_a_missing_model_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smart_turn, "installed_path", lambda: Path("/nonexistent/m.onnx"))
    monkeypatch.setattr(smart_turn.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VoiceModelError, match="make"):
        bundled_smart_turn()


def test_features_are_the_last_eight_seconds_padded_before() -> None:
    rng = np.random.default_rng(0)
    short = rng.standard_normal(RATE).astype(np.float32) * 0.1
    mel = features(short)
    assert mel.shape == (80, 800) and mel.dtype == np.float32
    assert np.allclose(mel[:, 0], mel[:, 10])  # the padding before the speech is flat
    long = np.concatenate([rng.standard_normal(5 * RATE), short]).astype(np.float32)
    assert np.array_equal(features(long)[:, -100:], features(long[-8 * RATE :])[:, -100:])


def test_the_model_hears_a_phrase_end(model: SmartTurn) -> None:
    """'Ever tried. Ever failed.': after 'Ever failed.' the speaker has finished a
    phrase; cut in the middle of the first word, they have not."""
    audio = recording("beckett.wav").astype(np.float32)
    silence = np.zeros(RATE // 5, dtype=np.float32)
    ended = model.probability(np.concatenate([audio[: int(2.5 * RATE)], silence]))
    cut = model.probability(np.concatenate([audio[: int(1.0 * RATE)], silence]))
    assert 0.0 <= cut < 0.5 < ended <= 1.0
