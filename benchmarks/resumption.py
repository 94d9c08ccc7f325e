"""Session resumption time: connect with a handle -> `setupComplete`, with a long history.

Starts a real `openlive serve` (the embedded model) with a temporary data folder and
drives it over TLS on loopback with `google.genai`, as an application would.

1. One session builds a history of `--turns` user turns and as many model turns: they
   are sent as `clientContent` with `turnComplete: false` (no generation), then one
   real turn (one token at most) makes the server store a snapshot of all of it and
   send its handle.
2. Resumption time, measured `--repeats` times: from `connect()` with that handle to
   its return, which is when the SDK has received `setupComplete`. It includes the TLS
   and WebSocket handshakes, so the same is measured for a new session (no handle) in
   alternation, and the difference is what resuming costs: reading the snapshot from
   SQLite and restoring the history.
3. Once: the first turn after resuming, whose `promptTokenCount` shows that the whole
   history came back. Its time to first text is taken twice: after another session has
   used the model (the whole history is read again: a new connection brings no KV
   cache), and right after (the model's context still holds the history, and
   llama.cpp's prefix matching reads only the new turn).

Usage: .venv/bin/python benchmarks/resumption.py [--turns N] [--repeats N] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from google import genai
from google.genai import types

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.text_turns import (  # noqa: E402
    BUSY_LOAD,
    _interrupt,
    log_problems,
    machine,
    serve,
    source,
)
from tests.conftest import Server  # noqa: E402

MODEL = "gemini-live-2.5-flash-preview"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "resumption.json"


def config(handle: str | None, max_tokens: int = 1) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        temperature=0,
        max_output_tokens=max_tokens,
        system_instruction="You are a helpful assistant.",
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )


def history(turns: int) -> list[types.Content]:
    contents = []
    for i in range(1, turns + 1):
        contents.append(
            types.Content(role="user", parts=[types.Part(text=f"Note {i}: the code is {i * 7}.")])
        )
        contents.append(types.Content(role="model", parts=[types.Part(text=f"Noted: {i * 7}.")]))
    return contents


async def next_handle(session: Any) -> str:
    async for message in session.receive():
        update = message.session_resumption_update
        if update is not None and update.resumable and update.new_handle:
            return str(update.new_handle)
    raise AssertionError("the turn ended without a handle")


async def turn(session: Any, text: str) -> tuple[float | None, int | None]:
    """Ask; (time to first text, promptTokenCount)."""
    sent = time.perf_counter()
    first = None
    usage = None
    await session.send_client_content(turns={"role": "user", "parts": [{"text": text}]})
    async for message in session.receive():
        if message.text and first is None:
            first = time.perf_counter() - sent
        if message.usage_metadata is not None:
            usage = message.usage_metadata.prompt_token_count
    return first, usage


async def measure(server: Server, turns: int, repeats: int) -> dict[str, Any]:
    client = genai.Client(
        api_key="bench", http_options={"base_url": server.https, "api_version": "v1beta"}
    )
    live = client.aio.live
    async with live.connect(model=MODEL, config=config(None)) as session:
        await next_handle(session)  # the one after setupComplete
        await session.send_client_content(turns=history(turns), turn_complete=False)
        _, built_prompt = await turn(session, "Reply with OK.")
        handle = await next_handle(session)

    resumed: list[float] = []
    fresh: list[float] = []
    for _ in range(repeats):
        for handle_used, times in ((handle, resumed), (None, fresh)):
            started = time.perf_counter()
            async with live.connect(model=MODEL, config=config(handle_used)) as session:
                times.append(time.perf_counter() - started)

    # Another session takes the model's context, so that nothing of the history is
    # left in it: the first turn after resuming then reads the whole history again.
    other = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        max_output_tokens=1,
        system_instruction="Another session, with another system instruction.",
    )
    async with live.connect(model=MODEL, config=other) as session:
        await turn(session, "Hello.")
    async with live.connect(model=MODEL, config=config(handle)) as session:
        first_text, resumed_prompt = await turn(session, "Reply with OK.")
    # Resumed again at once: the model's context still holds that history, and
    # llama.cpp's prefix matching reads only the new turn.
    async with live.connect(model=MODEL, config=config(handle)) as session:
        warm_first_text, _ = await turn(session, "Reply with OK.")
    return {
        "prompt_tokens_when_built": built_prompt,
        "prompt_tokens_after_resuming": resumed_prompt,
        "first_text_after_resuming_s": first_text,
        "first_text_after_resuming_warm_s": warm_first_text,
        "resume_s": resumed,
        "new_session_s": fresh,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=100, help="user turns in the history")
    parser.add_argument("--repeats", type=int, default=15, help="resumptions measured")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON result")
    args = parser.parse_args(argv)
    if args.turns < 1 or args.repeats < 1:
        parser.error("--turns and --repeats must be at least 1")

    signal.signal(signal.SIGTERM, _interrupt)
    info = machine()
    load = info["load_average"][0]
    print(f"{info['cpu_model']}, {info['nproc']} cores, load {load:.2f}", file=sys.stderr)
    if load > BUSY_LOAD:
        print("the machine is busy: figures will be slower and noisier", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="openlive-bench-") as tmp, ExitStack() as stack:
            server = serve(stack, Path(tmp))
            os.environ["SSL_CERT_FILE"] = server.env["SSL_CERT_FILE"]
            runs = asyncio.run(measure(server, args.turns, args.repeats))
            problems = log_problems(server)
    except KeyboardInterrupt:
        print("interrupted; the server is stopped", file=sys.stderr)
        return 130

    resume = statistics.median(runs["resume_s"])
    fresh = statistics.median(runs["new_session_s"])
    print(f"history: {args.turns} user turns and {args.turns} model turns")
    print(
        f"promptTokenCount: {runs['prompt_tokens_when_built']} when built, "
        f"{runs['prompt_tokens_after_resuming']} on the first turn after resuming"
    )
    print(
        f"connect -> setupComplete, median of {args.repeats}: resumed {resume * 1000:.1f} ms, "
        f"new session {fresh * 1000:.1f} ms, difference {(resume - fresh) * 1000:.1f} ms"
    )
    print(
        f"first text after resuming: {runs['first_text_after_resuming_s']:.2f} s (history "
        f"read again), {runs['first_text_after_resuming_warm_s']:.2f} s (still in the "
        "model's context)"
    )
    for line in problems:
        print(f"server: {line}", file=sys.stderr)
    result = {
        "benchmark": "resumption",
        "machine": info,
        "source": source(),
        "model": MODEL,
        "turns": args.turns,
        "repeats": args.repeats,
        "median_resume_s": resume,
        "median_new_session_s": fresh,
        "server_log_problems": problems,
        **runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
