"""Language detection while the user speaks, against detection on the whole turn.

A session without `languageCode` detects its language during its first turn
(`pipeline/recognition.py`): a full-window detection of the speech so far once the turn
holds `DETECT_FROM` of audio, again on more of it (each `DETECT_STEP`, a pass taking
`--pass-s` seconds) while less than `DETECT_SURE` sure; the turn is transcribed in the
language found if the detector was that sure, or heard all but `DETECT_COVERS` of the
turn, else detected on the whole turn as before. This replays that schedule on
recordings, with the server's own Whisper, and compares the language chosen with the
one detection on the whole turn gives (what the server did before).

The speech: the three sentences of each language of `languages.py`, spoken by
espeak-ng (the only speech in other languages to be had offline; a formant voice,
harder to place than a human one), and the recordings of `tests/fixtures/speech`. Each
turn starts 0.2 s before its first loud sample (the listener's lead-in).

Usage: .venv/bin/python benchmarks/detection.py [--pass-s 1.3] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.languages import SENTENCES  # noqa: E402

from openlive.audio.pcm import Samples, pcm16_to_float  # noqa: E402
from openlive.backends.models import prepare_whisper  # noqa: E402
from openlive.backends.voices import LANGUAGES  # noqa: E402
from openlive.backends.whisper import WhisperASR  # noqa: E402
from openlive.config import default_data_dir  # noqa: E402
from openlive.pipeline.recognition import (  # noqa: E402
    DETECT_COVERS,
    DETECT_FROM,
    DETECT_STEP,
    DETECT_SURE,
    LANGUAGE_CONFIDENCE,
)

RATE = 16_000
SURE = DETECT_SURE
"""How sure a detection of part of a turn must be to stand for the whole turn's."""
FIXTURES = {"beckett.wav": "en", "clone-test.wav": "en", "cafe-es-espeak.wav": "es"}
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "detection.json"


def load(path: Path) -> Samples:
    with wave.open(str(path)) as w:
        return pcm16_to_float(w.readframes(w.getnframes()))


def espeak(voice: str, text: str) -> Samples:
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = f"{tmp}/raw.wav", f"{tmp}/out.wav"
        for command in (
            ["espeak-ng", "-v", voice, "-s", "150", "-w", raw, text],
            ["sox", raw, "-r", str(RATE), "-c", "1", "-b", "16", out],
        ):
            subprocess.run(command, check=True, capture_output=True)
        return load(Path(out))


def cases() -> list[tuple[str, str, Samples]]:
    """(the language spoken, a name, the audio)."""
    found: list[tuple[str, str, Samples]] = []
    seen: set[str] = set()
    for code, sentences in SENTENCES.items():
        language = LANGUAGES[code.lower()]
        if language.whisper in seen:
            continue
        seen.add(language.whisper)
        found += [(language.whisper, f"{code}: {s}", espeak(language.espeak, s)) for s in sentences]
    speech = ROOT / "tests" / "fixtures" / "speech"
    found += [(code, name, load(speech / name)) for name, code in FIXTURES.items()]
    return found


def replay(asr: WhisperASR, audio: Samples, pass_s: float) -> dict[str, Any]:
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    turn = audio[max(0, loud[0] - RATE // 5) : loud[-1] + 1024]
    whole = asr.detect_language(turn)
    assert whole is not None
    # the detections while speaking: (samples heard, result), until one is sure
    at, passes = DETECT_FROM, []
    while at <= len(turn):
        found = asr.detect_language(turn[:at])
        assert found is not None
        passes.append((at, found))
        if found[1] >= SURE:
            break
        at += max(int(pass_s * RATE), DETECT_STEP)
    used, how = whole, "whole turn"
    if passes:
        at, found = passes[-1]
        if found[1] >= SURE or len(turn) - at <= DETECT_COVERS:
            used, how = found, "while speaking"
    return {
        "seconds": round(len(turn) / RATE, 2),
        "whole": [whole[0], round(whole[1], 2)],
        "passes": [[round(n / RATE, 2), f[0], round(f[1], 2)] for n, f in passes],
        "used": [used[0], round(used[1], 2)],
        "how": how,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pass-s", type=float, default=1.3, help="seconds a detection takes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    asr = WhisperASR(prepare_whisper(default_data_dir() / "models"), threads=2)
    rows = []
    for spoken, name, audio in cases():
        row = {"spoken": spoken, "name": name, **replay(asr, audio, args.pass_s)}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)

    def count(key: str) -> dict[str, int]:
        return {
            "right": sum(r[key][0] == r["spoken"] for r in rows),
            "sure_and_wrong": sum(
                r[key][1] >= LANGUAGE_CONFIDENCE and r[key][0] != r["spoken"] for r in rows
            ),
        }

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "pass_s": args.pass_s,
        "turns": len(rows),
        "whole_turn": count("whole"),
        "while_speaking": {
            **count("used"),
            "same_as_whole_turn": sum(r["used"][0] == r["whole"][0] for r in rows),
            "left_to_the_whole_turn": sum(r["how"] == "whole turn" for r in rows),
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
