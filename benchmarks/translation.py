"""How well speech-to-speech translation (`translationConfig`) works, measured by ear.

One `openlive serve` on the embedded models, driven through the Python SDK. Each source
sentence is spoken into a translation session as a microphone would send it, and what
comes back is measured twice:

- **text**: the answer's `outputTranscription` (the translation as written, before it
  is spoken) against a reference translation;
- **read back**: the answer's audio transcribed by the server's own recognizer
  (Whisper base, in-process, told the target language) against the same reference:
  the translation as a listener would hear it.

Error rates are word error rates after lower-casing and removing punctuation (character
error rates for Japanese and Chinese); a translation that says the same in other words
scores badly, so the recall of the reference's content words (those of four letters or
more) is given beside it.

Two directions, the two ways OpenLive translates:

- **into English** (Whisper translates the audio): German, Spanish, French and Italian
  sentences spoken by espeak-ng (`espeak-ng` must be installed: the packages' only
  recordings of human speech are English);
- **out of English** (the embedded LLM translates the transcript): the English sentences,
  spoken by the server's own voice, into Spanish, French and German.

Usage: .venv/bin/python benchmarks/translation.py [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
from google import genai
from google.genai import types

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import Server, start_server, stop_server  # noqa: E402

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float  # noqa: E402
from openlive.audio.resample import resample  # noqa: E402
from openlive.backends.models import prepare_whisper  # noqa: E402
from openlive.backends.piper import PiperTTS  # noqa: E402
from openlive.backends.whisper import WhisperASR  # noqa: E402

MODEL = "gemini-live-2.5-flash-preview"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "translation.json"
QUIET_S = 2.0


def _sentences() -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The everyday sentences of `languages.py`: English, and each language's own."""
    spec = importlib.util.spec_from_file_location("languages", ROOT / "benchmarks" / "languages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["languages"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.ENGLISH, module.SENTENCES


ENGLISH, SENTENCES = _sentences()
INTO_ENGLISH = {"de-DE": "de", "es-ES": "es", "fr-FR": "fr", "it-IT": "it"}
"""Source languages and their espeak-ng voices."""
OUT_OF_ENGLISH = ("es-ES", "fr-FR", "de-DE")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^\w\s']", " ", text).split())


def error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not hyp:
        return 1.0
    return float(jiwer.wer(ref, hyp))


def recall(reference: str, hypothesis: str) -> float:
    content = {w for w in normalize(reference).split() if len(w) >= 4}
    said = set(normalize(hypothesis).split())
    return len(content & said) / len(content) if content else 1.0


@dataclass
class Row:
    direction: str
    source: str
    target: str
    sentence: str
    reference: str
    heard: str
    """`inputTranscription`: the sentence as recognized."""
    text: str
    """`outputTranscription`: the translation as written."""
    read_back: str
    """The answer's audio, as the recognizer hears it."""
    text_wer: float
    read_back_wer: float
    text_recall: float
    read_back_recall: float
    seconds: float
    """From the end of the input to the last message of the answer."""


async def translate(server: Server, audio16k: bytes, target: str) -> tuple[str, str, bytes, float]:
    config = {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "translation_config": {"target_language_code": target},
    }
    client = genai.Client(
        api_key="bench", http_options={"base_url": server.https, "api_version": "v1beta"}
    )
    heard, said, audio = "", "", b""
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        for offset in range(0, len(audio16k), 16000):
            blob = types.Blob(
                data=audio16k[offset : offset + 16000], mime_type="audio/pcm;rate=16000"
            )
            await session.send_realtime_input(audio=blob)
        await session.send_realtime_input(audio_stream_end=True)
        sent = time.monotonic()
        last = [sent]
        done = [False]

        async def collect() -> None:
            nonlocal heard, said, audio
            while True:
                async for message in session.receive():
                    last[0] = time.monotonic()
                    content = message.server_content
                    if content is None:
                        continue
                    audio += message.data or b""
                    if content.input_transcription:
                        heard += (content.input_transcription.text or "") + " "
                    if content.output_transcription:
                        said += content.output_transcription.text or ""
                    done[0] = done[0] or bool(content.turn_complete)

        reader = asyncio.create_task(collect())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not reader.done():  # noqa: ASYNC110
            if done[0] and time.monotonic() - last[0] > QUIET_S:
                break
            await asyncio.sleep(0.1)
        reader.cancel()
        await asyncio.wait([reader])
    return heard.strip(), said.strip(), audio, last[0] - sent


def espeak(text: str, voice: str) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "145", "-w", f.name, text], check=True)
        with wave.open(f.name) as w:
            rate = w.getframerate()
            samples = pcm16_to_float(w.readframes(w.getnframes()))
    return float_to_pcm16(resample(samples, rate, 16000))


async def run(server: Server, asr: WhisperASR, tts: PiperTTS) -> list[Row]:
    rows: list[Row] = []

    async def measure(
        direction: str, source: str, target: str, sentence: str, reference: str, audio: bytes
    ) -> None:
        heard, text, answer, seconds = await translate(server, audio, target)
        language = "en" if target == "en" else target.split("-")[0]
        back = ""
        if answer:
            samples = resample(pcm16_to_float(answer), 24000, 16000)
            back = asr.transcribe(samples, language).text
        row = Row(
            direction, source, target, sentence, reference, heard, text, back,
            error_rate(reference, text), error_rate(reference, back),
            recall(reference, text), recall(reference, back), seconds,
        )  # fmt: skip
        rows.append(row)
        print(f"{source}->{target}: {sentence!r} heard {heard!r}")
        print(f"    said {text!r}, read back {back!r}")

    for source, voice in INTO_ENGLISH.items():
        for sentence, reference in zip(SENTENCES[source], ENGLISH, strict=True):
            await measure(
                "into English", source, "en", sentence, reference, espeak(sentence, voice)
            )
    for target in OUT_OF_ENGLISH:
        for sentence, reference in zip(ENGLISH, SENTENCES[target], strict=True):
            speech = np.concatenate(list(tts.synthesize(sentence)))
            audio = float_to_pcm16(resample(speech, 24000, 16000))
            await measure("out of English", "en", target, sentence, reference, audio)
    return rows


def summary(rows: list[Row]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted({(r.direction, r.source, r.target) for r in rows}):
        group = [r for r in rows if (r.direction, r.source, r.target) == key]
        out[f"{key[1]}->{key[2]}"] = {
            "direction": key[0],
            "text_wer": statistics.mean(r.text_wer for r in group),
            "read_back_wer": statistics.mean(r.read_back_wer for r in group),
            "text_recall": statistics.mean(r.text_recall for r in group),
            "read_back_recall": statistics.mean(r.read_back_recall for r in group),
            "seconds": statistics.median(r.seconds for r in group),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed for the non-English speech: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as data:
        server = start_server(Path(data))
        try:
            os.environ.update(server.env)
            asr = WhisperASR(prepare_whisper(Path(data)), threads=2)
            tts = PiperTTS(threads=2)
            rows = asyncio.run(run(server, asr, tts))
        finally:
            stop_server(server)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {p: version(p) for p in ("faster-whisper", "piper-tts", "llama-cpp-python")},
        "summary": summary(rows),
        "rows": [asdict(r) for r in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
