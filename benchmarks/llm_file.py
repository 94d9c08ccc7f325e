"""The bundled LLM as shipped (Q4_1) against the file the server prepares from it (Q8_0).

Both load in one process, on one scheduler, as the server runs them (`EmbeddedLLM`),
and are driven in alternation, so that load from elsewhere falls on both alike:

* **Same weights?** Perplexity on the project's own prose (README.md, docs/*.md), and
  how often the two agree on the most likely next token, with the KL divergence of the
  prepared file's next-token distribution from the shipped one's.
* **Speed.** Conversations of spoken-style questions (a system instruction, then each
  question read ahead and answered, as the voice pipeline does): the time from the
  reply's start to the end of its first clause (the first `,` `.` `!` `?`, what the
  first audio waits for), and the time per token after that.

Usage: .venv/bin/python benchmarks/llm_file.py [--rounds N] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from openlive.backends.base import ChatMessage, Sampling, TextDelta  # noqa: E402
from openlive.backends.embedded import EmbeddedLLM, bundled_gguf  # noqa: E402
from openlive.backends.models import prepare_llm  # noqa: E402
from openlive.backends.scheduler import Scheduler  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "llm_file.json"
SYSTEM = "You are a friendly voice assistant. Answer in one short sentence."
QUESTIONS = (
    "Ever tried. Ever failed.",
    "No matter.",
    "What's the weather like on Mars?",
    "Can you recommend a good book?",
    "How do I boil an egg?",
    "Tell me a joke.",
)
CLAUSE_END = re.compile(r"[,.!?]")
TEXT_TOKENS = 700
"""Tokens of each document scored for perplexity."""


def perplexities(files: dict[str, Path], texts: list[str]) -> dict[str, dict[str, float]]:
    """Perplexity of each file on `texts`; for all but the first, agreement with the
    first on the next token and the mean KL divergence from it."""
    from llama_cpp import Llama

    reference: list[np.ndarray] = []
    out: dict[str, dict[str, float]] = {}
    for i, (name, path) in enumerate(files.items()):
        llm = Llama(model_path=str(path), n_ctx=1024, logits_all=True, verbose=False)
        nll, count, kl, agree = 0.0, 0, 0.0, 0
        for k, text in enumerate(texts):
            tokens = llm.tokenize(text.encode())[:TEXT_TOKENS]
            llm.reset()
            llm.eval(tokens)
            logits = np.array(llm.scores[: len(tokens)], dtype=np.float64)
            logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            nll -= float(logp[np.arange(len(tokens) - 1), tokens[1:]].sum())
            count += len(tokens) - 1
            if i == 0:
                reference.append(logp)
            else:
                ref = reference[k]
                kl += float((np.exp(ref) * (ref - logp)).sum(axis=1).sum())
                agree += int((ref.argmax(axis=1) == logp.argmax(axis=1)).sum())
        llm.close()
        row = {"perplexity": round(float(np.exp(nll / count)), 3)}
        if i:
            positions = sum(len(r) for r in reference)
            row |= {"top1_agreement": round(agree / positions, 3), "kl": round(kl / positions, 4)}
        out[name] = row
    return out


async def conversation(llm: EmbeddedLLM) -> tuple[list[float], list[float]]:
    """First-clause times and per-token times of one conversation of `QUESTIONS`."""
    talk = llm.conversation()
    history = [ChatMessage("system", SYSTEM)]
    clauses: list[float] = []
    per_token: list[float] = []
    try:
        for question in QUESTIONS:
            await talk.prepare(history)
            messages = [*history, ChatMessage("user", question)]
            start = time.perf_counter()
            text, first, pieces, last = "", None, 0, start
            async for event in talk.reply(messages, Sampling(temperature=0.0, max_tokens=40)):
                if isinstance(event, TextDelta):
                    text += event.text
                    pieces += 1
                    last = time.perf_counter()
                    if first is None and CLAUSE_END.search(text):
                        first = last - start
            if first is not None:
                clauses.append(first)
            if pieces > 1 and first is not None:
                per_token.append((last - start - first) / max(1, pieces - 1))
            history = [*messages, ChatMessage("assistant", text)]
    finally:
        await talk.aclose()
    return clauses, per_token


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "n": len(ordered),
    }


async def speeds(files: dict[str, Path], rounds: int) -> dict[str, dict[str, object]]:
    scheduler = Scheduler()
    llms = {
        name: EmbeddedLLM(path, scheduler=scheduler, cache_budget_bytes=64 << 20)
        for name, path in files.items()
    }
    for llm in llms.values():
        await llm.start()
    clauses: dict[str, list[float]] = {name: [] for name in llms}
    tokens: dict[str, list[float]] = {name: [] for name in llms}
    try:
        for round_ in range(rounds):
            order = list(llms) if round_ % 2 == 0 else list(reversed(llms))
            for name in order:
                first, per_token = await conversation(llms[name])
                clauses[name] += first
                tokens[name] += per_token
            print(f"round {round_ + 1}/{rounds}", flush=True)
    finally:
        for llm in llms.values():
            await llm.aclose()
        scheduler.close()
    return {
        name: {"first_clause": summary(clauses[name]), "per_token": summary(tokens[name])}
        for name in llms
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as models:
        shipped = bundled_gguf()
        files = {"shipped Q4_1": shipped, "prepared Q8_0": prepare_llm(Path(models), shipped)}
        prose = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        texts = [path.read_text(encoding="utf-8") for path in prose]
        quality = perplexities(files, texts)
        for name, row in quality.items():
            print(name, row, flush=True)
        speed = asyncio.run(speeds(files, args.rounds))
    for name, row in speed.items():
        print(name, row)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "quality": quality,
        "speed": speed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
