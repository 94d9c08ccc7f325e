"""Text turns through the official Python SDK: latency, decode speed and the KV cache.

Starts real `openlive serve` processes (the embedded SmolLM2-135M-Instruct) on free
ports with a temporary data folder, and drives them over TLS on loopback with
`google.genai`, as an application would. Every figure is taken on the client.

* Conversation: one session, five text turns (`send_client_content`, turn_complete).
  Per turn: time to first text (send -> first message with text), decode speed
  (response tokens after the first / time from the first to the last text message),
  and `usage_metadata.prompt_token_count`, which shows the history growing.
* KV cache: two sessions A and B with long, different system instructions, driven in
  lock-step (A1, B1, A2, B2, ...), so that the model's context changes hands at every
  turn. Once against a server with the default `--kv-cache-mb` (a session's KV cells
  are saved when another session takes the context, and restored when it comes back),
  once against a server with `--kv-cache-mb 0` (every turn re-reads the whole history).
  Both servers are driven together, turn by turn, so that bursts of load from elsewhere
  on a shared machine fall on both alike; the no-cache/cache ratios are paired.

The lock-step runs fewer times than the conversation by default: without the cache,
every turn re-reads the whole history, and on two cores that is most of the run time.

Usage: .venv/bin/python benchmarks/text_turns.py [--repeats N] [--kv-repeats N] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from google import genai
from google.genai import types
from google.genai.live import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import Server, start_server, stop_server  # noqa: E402

_T = TypeVar("_T")

MODEL = "gemini-live-2.5-flash-preview"
CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.TEXT], temperature=0, max_output_tokens=64, seed=1
)
BUSY_LOAD = 1.0
"""A 1-minute load average above this, before starting, is work of other processes."""
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "text_turns.json"

CONVERSATION = (
    "Hi! I'm planning a weekend trip to Lisbon. What neighbourhoods should I stay in?",
    "Which of those is best if I want to walk to restaurants in the evening?",
    "Good. What are two day trips I could take by train from there?",
    "How long does the train to Sintra take, and should I book tickets in advance?",
    "Thanks. Can you sum up the plan in three short bullet points?",
)

# Two long system instructions that differ from their first word, so that the context
# one session leaves behind shares no prefix with the other session's prompt (beyond
# the chat template's few opening tokens).
PERSONA_A = (
    "You are Marlowe, the virtual concierge of the Harbourview Hotel, a family-run hotel "
    "of forty rooms on the waterfront of a small coastal town. You answer guests who write "
    "to you before and during their stay. Your tone is warm, calm and precise; you never "
    "invent facts about the hotel. Here is what you know. Check-in is from three in the "
    "afternoon until midnight; late arrivals must call the night porter, whose desk is "
    "staffed around the clock. Check-out is at eleven in the morning, and luggage can be "
    "left at the reception until eight in the evening at no charge. Breakfast is served "
    "in the Garden Room from seven to half past ten on weekdays and until eleven on "
    "weekends; it includes fresh bread from the bakery next door, local cheese, fruit, "
    "eggs cooked to order and a gluten-free shelf. The hotel has no restaurant for dinner, "
    "but you keep a list of six places within a ten-minute walk, from a seafood grill on "
    "the pier to a vegetarian bistro in the old town, and you can book a table for guests. "
    "Parking is available in the public garage two streets away, at a reduced rate of "
    "twelve euros a day for guests who show their key card. Bicycles can be borrowed for "
    "free from the shed behind the hotel; helmets are at the reception. For anything you "
    "cannot answer, you offer to pass the question to the manager, Ms. Okafor, who "
    "replies within a day. Keep answers short: two or three sentences unless the guest "
    "asks for details."
)
PERSONA_B = (
    "As the study assistant of an evening course in introductory statistics for adults, "
    "you help learners who are returning to mathematics after many years. The course "
    "covers, in order: describing data with tables and charts; the mean, the median and "
    "the mode, and when each one is misleading; spread, with the range, the interquartile "
    "range and the standard deviation; the normal distribution and z-scores; sampling and "
    "why random samples matter; confidence intervals for a mean and for a proportion; and "
    "finally hypothesis tests, with a careful treatment of what a p-value does and does "
    "not say. The learners use a spreadsheet program, not a programming language, so when "
    "you show a calculation you describe the spreadsheet functions by name, such as "
    "AVERAGE, MEDIAN, STDEV.S and NORM.DIST, and you spell out each step. You never simply "
    "give the answer to an exercise: you ask a guiding question first, and give a worked "
    "example with different numbers. You are patient and encouraging, and you point out "
    "common mistakes gently, for example confusing the standard deviation of the data with "
    "the standard error of the mean, or reading a large p-value as proof that there is no "
    "effect. When a learner seems anxious, you remind them that everyone finds this "
    "material hard at first and that practice is what makes it easier. Keep answers "
    "short: two or three sentences unless the learner asks for more detail."
)
TURNS_A = (
    "Good evening. We are a family of four arriving on Friday by car, probably quite late "
    "because of traffic, maybe around eleven at night. Is that a problem for check-in, and "
    "where exactly should we park the car when we arrive?",
    "Thank you, that helps. Our daughter cannot eat gluten and our son is very picky in "
    "the morning. Could you tell me what breakfast is like and at what time it is served "
    "on Saturday and on Sunday?",
    "Wonderful. On Saturday evening we would like to have dinner somewhere near the water, "
    "ideally with fish on the menu and not too formal because of the children. What would "
    "you suggest, and could you reserve a table for four at seven?",
    "On Sunday the weather is supposed to be nice. Is there anything we could do nearby "
    "with the kids in the morning, perhaps by bicycle, before we check out and drive home "
    "in the afternoon?",
    "One last thing: we have to leave the room at eleven but would like to stay in town "
    "until the evening. Can we leave our bags somewhere, and is there a charge for that?",
)
TURNS_B = (
    "Hello. I'm doing the exercise about the prices of coffee in ten cafes in my "
    "neighbourhood. I calculated the mean and the median and they are quite different, "
    "the mean is much higher. Did I make a mistake, or can that happen?",
    "I see, one cafe is very expensive, it charges almost twice as much as the others. "
    "Which of the two numbers should I report in my summary then, and how do I explain "
    "the choice in one sentence?",
    "Next the exercise asks for the standard deviation. In the spreadsheet there are two "
    "functions, STDEV.S and STDEV.P, and they give slightly different answers. Which one "
    "am I supposed to use for my ten cafes?",
    "Okay. Then it asks whether a price of four euros is unusual. I think I have to "
    "compute a z-score but I'm not sure what to divide by. Can you walk me through the "
    "steps without giving me the final number?",
    "I got a z-score of about 2.3. Does that mean the price is unusual? I'm a bit nervous "
    "about the exam next week, to be honest, because this is where I always get lost.",
)


# --- measuring ------------------------------------------------------------------------


@dataclass
class TurnResult:
    """One turn as the client saw it."""

    ttft_s: float
    tokens_per_s: float | None
    prompt_tokens: int
    response_tokens: int
    text: str


async def take_turn(session: AsyncSession, text: str) -> TurnResult:
    """Send one user turn and read the reply until turnComplete."""
    sent = time.perf_counter()
    await session.send_client_content(
        turns={"role": "user", "parts": [{"text": text}]}, turn_complete=True
    )
    first: float | None = None
    last = sent
    chunks: list[str] = []
    prompt_tokens = response_tokens = 0
    async for message in session.receive():  # ends after turnComplete
        if message.text:
            last = time.perf_counter()
            first = first if first is not None else last
            chunks.append(message.text)
        if message.usage_metadata is not None:
            prompt_tokens = message.usage_metadata.prompt_token_count or 0
            response_tokens = message.usage_metadata.response_token_count or 0
    if first is None:
        raise RuntimeError(f"no text in the reply to {text!r}")
    # The first token is in the time to first text; the time from the first to the
    # last text message holds the other response_tokens - 1.
    decode = last - first
    rate = (response_tokens - 1) / decode if response_tokens > 1 and decode > 0 else None
    return TurnResult(first - sent, rate, prompt_tokens, response_tokens, "".join(chunks))


def client(server: Server) -> genai.Client:
    return genai.Client(
        api_key="k", http_options={"base_url": server.https, "api_version": "v1beta"}
    )


def with_system(instruction: str, **update: Any) -> types.LiveConnectConfig:
    system = types.Content(parts=[types.Part(text=instruction)])
    return CONFIG.model_copy(update={"system_instruction": system, **update})


async def other_session(server: Server, instruction: str, text: str) -> None:
    """A short reply in a session whose prompt shares no prefix with the measured ones.

    The server's context keeps the last reply's tokens after its session has ended, and
    llama.cpp reuses whatever prefix a new prompt shares with them: a conversation
    repeated word for word would find its first turn already evaluated."""
    config = with_system(instruction, max_output_tokens=4)
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await take_turn(session, text)


async def warm_up(server: Server) -> None:
    """A long prompt, so that no measured turn pays for the first allocations."""
    await other_session(server, " ".join(CONVERSATION + TURNS_B), TURNS_A[0])


async def clear_context(server: Server) -> None:
    await other_session(server, "Answer in one word.", "Ready?")


async def conversation(server: Server) -> list[TurnResult]:
    async with client(server).aio.live.connect(model=MODEL, config=CONFIG) as session:
        return [await take_turn(session, text) for text in CONVERSATION]


Sessions = dict[str, list[TurnResult]]
"""One lock-step run on one server: each session's turns, by session name."""


async def lock_step(servers: Sequence[Server], first: int) -> list[Sessions]:
    """On each server, sessions A and B taking turns: A1, B1, A2, B2, ...

    The servers are driven together, each turn on one and then the same turn on the
    other (which goes first alternates), so that a burst of load from elsewhere on
    the machine falls on both alike. Each server still sees only its own A and B."""
    scripts = {"A": (PERSONA_A, TURNS_A), "B": (PERSONA_B, TURNS_B)}
    results: list[Sessions] = [{name: [] for name in scripts} for _ in servers]
    async with AsyncExitStack() as stack:
        sessions = [
            {
                name: await stack.enter_async_context(
                    client(server).aio.live.connect(model=MODEL, config=with_system(persona))
                )
                for name, (persona, _) in scripts.items()
            }
            for server in servers
        ]
        for turn in range(len(TURNS_A)):
            for name, (_, turns) in scripts.items():
                for i in range(len(servers)):
                    k = (first + turn + i) % len(servers)
                    results[k][name].append(await take_turn(sessions[k][name], turns[turn]))
    return results


@dataclass
class Runs:
    conversation: list[list[TurnResult]] = field(default_factory=list)
    cache: list[Sessions] = field(default_factory=list)
    no_cache: list[Sessions] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    """What ran, on which server, for how long, and the load average after it."""

    async def timed(self, phase: str, server: str, work: Awaitable[_T]) -> _T:
        started = time.monotonic()
        result = await work
        seconds = round(time.monotonic() - started, 2)
        load = os.getloadavg()[0]
        self.phases.append(
            {"phase": phase, "server": server, "seconds": seconds, "load_average_1m": load}
        )
        return result


async def measure(cached: Server, uncached: Server, repeats: int, kv_repeats: int) -> Runs:
    runs = Runs()
    for server, name in ((cached, "default"), (uncached, "kv_cache_mb_0")):
        await runs.timed("warm-up", name, warm_up(server))
    for r in range(repeats):
        print(f"  conversation {r + 1}/{repeats}", file=sys.stderr, flush=True)
        await clear_context(cached)
        turns = await runs.timed("conversation", "default", conversation(cached))
        runs.conversation.append(turns)
    for r in range(kv_repeats):
        print(f"  lock-step {r + 1}/{kv_repeats}", file=sys.stderr, flush=True)
        on, off = await runs.timed("lock-step", "both", lock_step((cached, uncached), r))
        runs.cache.append(on)
        runs.no_cache.append(off)
    return runs


# --- summarising ----------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p90": p90(values), "n": len(values)}


def summarise(runs: Runs) -> dict[str, Any]:
    n_turns = len(CONVERSATION)
    conv = [
        {
            "turn": t + 1,
            "prompt_tokens": statistics.median(run[t].prompt_tokens for run in runs.conversation),
            "ttft_s": stats([run[t].ttft_s for run in runs.conversation]),
            "tokens_per_s": stats(
                [rate for run in runs.conversation if (rate := run[t].tokens_per_s)]
            ),
        }
        for t in range(n_turns)
    ]
    rates = [rate for run in runs.conversation for turn in run if (rate := turn.tokens_per_s)]
    summary: dict[str, Any] = {
        "conversation": {"turns": conv, "tokens_per_s_all_turns": stats(rates)}
    }

    kv: dict[str, Any] = {}
    for name, mode in (("cache", runs.cache), ("no_cache", runs.no_cache)):
        samples = [session for run in mode for session in run.values()]
        kv[name] = {
            "turns": [
                {
                    "turn": t + 1,
                    "prompt_tokens": statistics.median(s[t].prompt_tokens for s in samples),
                    "ttft_s": stats([s[t].ttft_s for s in samples]),
                }
                for t in range(n_turns)
            ],
            # per session and run, then the median of those
            "turn5_over_turn1": stats([s[-1].ttft_s / s[0].ttft_s for s in samples]),
        }
    # Paired: the same turn of the same session and round, taken back to back on either
    # server.
    kv["turn5_no_cache_over_cache"] = stats(
        [
            off[name][-1].ttft_s / on[name][-1].ttft_s
            for on, off in zip(runs.cache, runs.no_cache, strict=True)
            for name in on
        ]
    )
    summary["kv_cache"] = kv
    return summary


def _ms(s: dict[str, float]) -> str:
    return f"{s['median'] * 1000:6.0f} {s['p90'] * 1000:6.0f}"


def print_tables(summary: dict[str, Any], repeats: int, kv_repeats: int) -> None:
    conv = summary["conversation"]
    print(f"\nOne session, 5 text turns ({repeats} runs; median and p90)")
    print("turn  prompt tokens   TTFT ms   med    p90   tokens/s   med    p90")
    for t in conv["turns"]:
        rate = t["tokens_per_s"]
        print(
            f"{t['turn']:4d}  {t['prompt_tokens']:13.0f}   {'':8}{_ms(t['ttft_s'])}"
            f"   {'':9}{rate['median']:6.0f} {rate['p90']:6.0f}"
        )
    rate = conv["tokens_per_s_all_turns"]
    print(f"decode, all turns: {rate['median']:.0f} tokens/s median, p90 {rate['p90']:.0f}")

    kv = summary["kv_cache"]
    print(f"\nTwo sessions in lock-step: TTFT ms ({2 * kv_repeats} samples a turn; median, p90)")
    print("turn  prompt tokens   KV cache  med    p90   no cache  med    p90   no cache/cache")
    for on, off in zip(kv["cache"]["turns"], kv["no_cache"]["turns"], strict=True):
        tokens = f"{on['prompt_tokens']:.0f}/{off['prompt_tokens']:.0f}"
        ratio = off["ttft_s"]["median"] / on["ttft_s"]["median"]
        print(
            f"{on['turn']:4d}  {tokens:>13}   {'':8}{_ms(on['ttft_s'])}"
            f"   {'':8}{_ms(off['ttft_s'])}   {ratio:14.2f}"
        )
    print("(prompt tokens: with the cache / without; greedy replies can differ slightly)")
    for name, label in (("cache", "KV cache"), ("no_cache", "no cache")):
        r = kv[name]["turn5_over_turn1"]
        print(f"turn 5 / turn 1, {label}: {r['median']:.2f} median (p90 {r['p90']:.2f})")
    r = kv["turn5_no_cache_over_cache"]
    print(f"turn 5, no cache / KV cache, paired: {r['median']:.2f} median (p90 {r['p90']:.2f})")


# --- the machine, the servers, the run ------------------------------------------------


def source() -> dict[str, Any]:
    """The commit measured, and whether src/ differed from it."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(git("status", "--porcelain", "--", "src")),
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "llama_cpp_python": version("llama_cpp_python"),
        "google_genai": version("google-genai"),
    }


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a server starts, so that none is left running
    without its stop registered; raise KeyboardInterrupt afterwards."""
    received: list[int] = []

    def defer(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    saved = {sig: signal.signal(sig, defer) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if received:
            raise KeyboardInterrupt


def serve(stack: ExitStack, data_dir: Path, *args: str) -> Server:
    with interrupts_deferred():
        server = start_server(data_dir, *args)
        stack.callback(stop_server, server)
    return server


def log_problems(server: Server) -> list[str]:
    """Warnings and errors in a server's log, e.g. a KV cache that failed to restore."""
    return [
        line
        for line in server.logs().splitlines()
        if " WARNING " in line or " ERROR " in line or line.startswith("Traceback")
    ]


def report_servers(servers: dict[str, Server]) -> None:
    """After a failure: whether each server is still up, and the end of its log.

    A server that closed the sessions with 1012 (service restart) was told to stop by a
    signal from outside; it exits within seconds."""
    for name, server in servers.items():
        try:
            code: int | None = server.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        state = "running" if code is None else f"exited with {code}"
        tail = "\n    ".join(server.logs().splitlines()[-10:])
        print(f"server {name} ({state}), its log ends:\n    {tail}", file=sys.stderr)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="five-turn conversations (default 5)"
    )
    parser.add_argument(
        "--kv-repeats", type=int, default=2, help="lock-step runs per server (default 2)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON result")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.kv_repeats < 1:
        parser.error("--repeats and --kv-repeats must be at least 1")

    signal.signal(signal.SIGTERM, _interrupt)
    info, measured = machine(), source()
    load = info["load_average"][0]
    print(f"{info['cpu_model']}, {info['nproc']} cores, load {load:.2f}", file=sys.stderr)
    if load > BUSY_LOAD:
        print(
            "the machine is busy: the model's threads will share its cores, and the figures "
            "will be slower and noisier (see the load averages in the result)",
            file=sys.stderr,
        )
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="openlive-bench-") as tmp, ExitStack() as stack:
            cached = serve(stack, Path(tmp))
            uncached = serve(stack, Path(tmp), "--kv-cache-mb", "0")
            servers = {"default": cached, "kv_cache_mb_0": uncached}
            os.environ["SSL_CERT_FILE"] = cached.env["SSL_CERT_FILE"]
            try:
                runs = asyncio.run(measure(cached, uncached, args.repeats, args.kv_repeats))
            except Exception:
                report_servers(servers)
                raise
            problems = {name: log_problems(server) for name, server in servers.items()}
    except KeyboardInterrupt:
        print("interrupted; the servers are stopped", file=sys.stderr)
        return 130
    seconds = round(time.monotonic() - started, 1)

    summary = summarise(runs)
    print_tables(summary, args.repeats, args.kv_repeats)
    loads = [phase["load_average_1m"] for phase in runs.phases]
    print(
        f"load average (1 min) after each phase: median {statistics.median(loads):.2f}, "
        f"max {max(loads):.2f}"
    )
    for name, lines in problems.items():
        for line in lines:
            print(f"server {name}: {line}", file=sys.stderr)
    result = {
        "benchmark": "text_turns",
        "machine": info,
        "source": measured,
        "seconds": seconds,
        "model": MODEL,
        "config": CONFIG.model_dump(mode="json", exclude_none=True),
        "repeats": args.repeats,
        "kv_repeats": args.kv_repeats,
        "server_log_problems": problems,
        "summary": summary,
        "runs": asdict(runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{seconds:.0f} s in all; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
