"""What recognition and speech cost as services: a node's `/v1/audio/*` endpoints
against the same models called in process.

Starts a real `openlive serve` (the embedded models) and calls its engine endpoints with
the official `openai` client, as another node's `EngineASR` and `EngineTTS` do. The
same models are loaded in this process and called directly; the two are measured in
alternation, `--repeats` times each:

- **Recognition**: a recording of human speech (`tests/fixtures/speech/clone-test.wav`,
  3.4 s) transcribed, `language="en"`: the in-process `WhisperASR.transcribe` against
  `POST /v1/audio/transcriptions` (a WAV upload).
- **Speech**: one clause synthesized: time to the first audio, in process (the first
  chunk of `PiperTTS.synthesize`) against the engine (the first bytes of the streamed
  `POST /v1/audio/speech`, `response_format="pcm"`).

Both sides run on the same two cores, so the engine's figures include the HTTP round
trip and the upload, not a faster machine. Results go to
`benchmarks/results/engines.json`.

Usage: .venv/bin/python benchmarks/engines.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.cluster import summary  # noqa: E402
from benchmarks.text_turns import machine, source  # noqa: E402
from tests.conftest import start_server, stop_server  # noqa: E402
from tests.e2e.test_voice import pcm  # noqa: E402

from openlive.audio.pcm import pcm16_to_float  # noqa: E402
from openlive.backends.models import prepare_whisper  # noqa: E402
from openlive.backends.openai_audio import wav_bytes  # noqa: E402
from openlive.backends.piper import PiperTTS  # noqa: E402
from openlive.backends.whisper import WhisperASR  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "engines.json"
CLAUSE = "The weather is nice today, so we will go to the park."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    samples = pcm16_to_float(pcm("clone-test.wav"))
    upload = wav_bytes(samples)
    times: dict[str, list[float]] = {
        k: [] for k in ("asr_here", "asr_engine", "tts_here", "tts_engine")
    }
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="openlive-eng-")))
        node = start_server(data_dir)
        stack.callback(stop_server, node)
        engine = openai.OpenAI(base_url=f"{node.http}/v1", api_key="bench", max_retries=0)
        asr = WhisperASR(prepare_whisper(data_dir / "models"))
        tts = PiperTTS()
        asr.transcribe(samples, "en")  # both sides warm
        next(iter(tts.synthesize(CLAUSE)))
        texts = set()
        for _ in range(args.repeats):
            started = time.perf_counter()
            texts.add(asr.transcribe(samples, "en").text)
            times["asr_here"].append(time.perf_counter() - started)
            started = time.perf_counter()
            said = engine.audio.transcriptions.create(
                model="whisper-1", file=("speech.wav", upload, "audio/wav"), language="en"
            )
            times["asr_engine"].append(time.perf_counter() - started)
            texts.add(said.text)

            started = time.perf_counter()
            pieces = tts.synthesize(CLAUSE)
            next(iter(pieces))
            times["tts_here"].append(time.perf_counter() - started)
            started = time.perf_counter()
            with engine.audio.speech.with_streaming_response.create(
                model="tts-1", voice="Puck", input=CLAUSE, response_format="pcm"
            ) as reply:
                chunks = reply.iter_bytes(4800)  # 100 ms of audio
                next(chunks)
                times["tts_engine"].append(time.perf_counter() - started)
                for _ in chunks:
                    pass

    result = {
        "machine": machine(),
        "source": source(),
        "args": vars(args) | {"out": str(args.out)},
        "seconds": {k: summary(v) for k, v in times.items()},
        "overhead_s": {
            "recognition": statistics.median(times["asr_engine"])
            - statistics.median(times["asr_here"]),
            "first_audio": statistics.median(times["tts_engine"])
            - statistics.median(times["tts_here"]),
        },
        "transcripts": sorted(texts),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("seconds", "overhead_s", "transcripts")}, indent=2))


if __name__ == "__main__":
    main()
