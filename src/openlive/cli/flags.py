"""The command line of `openlive serve` and `openlive env`: its flags, their defaults
and how each value is checked (`main.py` turns them into a `ServerConfig`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import (
    DEFAULT_BYTES_PER_SECOND,
    DEFAULT_HOST,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_MESSAGES_PER_SECOND,
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
)

__all__ = ["END_OF_TURN", "build_parser"]

END_OF_TURN = ("learned", "silence")
"""The values of --end-of-turn."""


def _listener_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"plain HTTP/WebSocket port (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--tls-port",
        type=int,
        default=DEFAULT_TLS_PORT,
        help=f"HTTPS/WSS port (default {DEFAULT_TLS_PORT}); 0 disables TLS",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where certificates and state live (default $OPENLIVE_DATA_DIR, "
        "else $XDG_DATA_HOME/openlive, else ~/.local/share/openlive)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept this API key (repeatable; also OPENLIVE_API_KEYS, "
        "comma-separated). Without keys any non-empty key is accepted.",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openlive",
        description=("A self-hosted Live API server (BidiGenerateContent) on local models."),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    _listener_flags(serve)
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="listen on a non-loopback address without API keys",
    )
    serve.add_argument(
        "--config", type=Path, help="a TOML file: [llm], [models.NAME] and [voices.NAME]"
    )
    serve.add_argument(
        "--llm",
        choices=["embedded", "openai"],
        default=None,
        help="the default LLM backend (default embedded; openai where --llm-url is given)",
    )
    serve.add_argument(
        "--gguf",
        type=Path,
        help="embedded: a GGUF model file (default: the bundled SmolLM2-135M-Instruct)",
    )
    serve.add_argument(
        "--context-tokens",
        type=int,
        default=None,
        help="embedded: context window in tokens (default 8192)",
    )
    serve.add_argument(
        "--kv-cache-mb",
        type=int,
        default=None,
        help="embedded: memory for the KV caches of all sessions, kept between their turns "
        "(default 512; 0 makes every reply re-read its whole history)",
    )
    serve.add_argument(
        "--llm-url", help="openai: the engine's API root, e.g. http://127.0.0.1:8000/v1"
    )
    serve.add_argument("--llm-model", help="openai: the model name the engine serves")
    serve.add_argument("--llm-api-key", help="openai: the engine's API key, if it wants one")
    serve.add_argument(
        "--state-url",
        default=os.environ.get("OPENLIVE_STATE_URL") or None,
        metavar="URL",
        help="keep ephemeral tokens and resumption handles in the Redis at this URL "
        "(redis://[:PASSWORD@]HOST:PORT/DB, rediss://, unix://), shared by every node "
        "behind a load balancer [env OPENLIVE_STATE_URL; default: a SQLite file in the "
        "data folder]",
    )
    serve.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest client message accepted (default 16 MiB)",
    )
    serve.add_argument(
        "--max-sessions",
        type=_count,
        default=DEFAULT_MAX_SESSIONS,
        metavar="N",
        help=f"the most sessions at once; more are refused with 1011 and /healthz answers "
        f"503 while full; 0 for no limit (default {DEFAULT_MAX_SESSIONS}, what the embedded "
        "models hold on two cores)",
    )
    serve.add_argument(
        "--max-sessions-per-key",
        type=_count,
        default=0,
        metavar="N",
        help="the most sessions at once on one API key (with the tokens it made); more are "
        "refused with 1011 as at --max-sessions; 0 for no limit (default)",
    )
    serve.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="listen as soon as the models are loaded, without running each once first "
        "(the first session is then slower)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (scheme://host[:port]) whose pages may open Live sessions, "
        "besides the server's own; repeat for several, '*' for any [env "
        "OPENLIVE_ALLOWED_ORIGINS, comma-separated]",
    )
    serve.add_argument(
        "--whisper",
        type=Path,
        default=Path(os.environ["OPENLIVE_WHISPER"])
        if os.environ.get("OPENLIVE_WHISPER")
        else None,
        metavar="DIR",
        help="the recognizer: a CTranslate2 Whisper model folder, such as a faster-whisper "
        "model (tiny to large-v3, distil) [env OPENLIVE_WHISPER; default: the bundled "
        "Whisper base]",
    )
    serve.add_argument(
        "--no-speculative-recognition",
        dest="speculative_recognition",
        action="store_false",
        help="transcribe a turn only once its end is decided, not during the pause before"
        " (slower answers; saves the work thrown away when the user goes on speaking);"
        " implies --no-speculative-answers",
    )
    serve.add_argument(
        "--no-speculative-answers",
        dest="speculative_answers",
        action="store_false",
        help="start the answer only once the turn's end is decided, not during the pause"
        " before it while the models have room (slower answers; saves the work thrown away"
        " when the user goes on speaking)",
    )
    serve.add_argument(
        "--end-of-turn",
        choices=END_OF_TURN,
        default=os.environ.get("OPENLIVE_END_OF_TURN") or "learned",
        help="how a turn ends where the session sets no silenceDurationMs: 'learned', when"
        " it sounds finished (a turn model, Smart Turn v3, on the audio, and the words"
        " heard so far) from 160 ms of silence, else after at most 1.6 s; or 'silence',"
        " after 500 ms of silence [env OPENLIVE_END_OF_TURN; default: learned]",
    )
    serve.add_argument(
        "--resumption-ttl",
        type=_seconds,
        default=2 * 3600.0,
        metavar="SECONDS",
        help="how long a session resumption handle stays valid after its session ends "
        "(default 7200)",
    )
    serve.add_argument(
        "--connection-limit",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="how long one connection may last; 0 for no limit (default 600). The client "
        "is sent goAway first, and continues on a new connection with session resumption",
    )
    serve.add_argument(
        "--go-away-before",
        type=_seconds,
        default=50.0,
        metavar="SECONDS",
        help="how long before the connection limit goAway is sent (default 50)",
    )
    serve.add_argument(
        "--session-limit",
        type=_seconds,
        default=900.0,
        metavar="SECONDS",
        help="how long a session without context window compression may last, across "
        "resumptions; 0 for no limit (default 900)",
    )
    serve.add_argument(
        "--video-session-limit",
        type=_seconds,
        default=120.0,
        metavar="SECONDS",
        help="the same, once the session has been sent video; 0 for no limit (default 120)",
    )
    serve.add_argument(
        "--setup-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="how long a connection has to send setup before it is closed with 1011; "
        "0 for no limit (default 10)",
    )
    serve.add_argument(
        "--max-messages-per-second",
        type=_rate,
        default=DEFAULT_MESSAGES_PER_SECOND,
        metavar="N",
        help="client messages one connection may send a second, on average (bursts of two "
        "seconds' worth); more close it with 1011 RESOURCE_EXHAUSTED; 0 for no limit "
        f"(default {DEFAULT_MESSAGES_PER_SECOND:g})",
    )
    serve.add_argument(
        "--max-input-bytes-per-second",
        type=_count,
        default=DEFAULT_BYTES_PER_SECOND,
        metavar="BYTES",
        help="client bytes one connection may send a second, on average (bursts of one "
        "largest message); past it the connection's next message is read later; 0 for no "
        "limit (default 1 MiB)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long the turns in progress have to finish before "
        "the sessions are saved and closed (default 10)",
    )
    serve.add_argument("--log-level", default=os.environ.get("OPENLIVE_LOG_LEVEL", "info"))

    env = commands.add_parser("env", help="print the exports that point a program at the server")
    _listener_flags(env)
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        return _seconds(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not a number a second: {text!r}") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}")
    return value
