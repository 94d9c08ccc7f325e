"""`openlive serve` and `openlive env`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import socket
import sys
from dataclasses import replace
from pathlib import Path

from ..config import (
    DEFAULT_BYTES_PER_SECOND,
    DEFAULT_HOST,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_MESSAGES_PER_SECOND,
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    LLMSpec,
    ServerConfig,
    default_data_dir,
    is_loopback,
    load_toml,
    load_voices,
)

__all__ = ["main"]

LOCAL_KEY = "openlive-local"
"""The key `openlive env` prints when the server accepts any key."""


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
        "else ~/.local/share/openlive)",
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
        help="the default LLM backend (default embedded)",
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
        choices=("learned", "silence"),
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


def _keys(args: argparse.Namespace) -> tuple[str, ...]:
    keys = list(args.api_key or [])
    keys += [k.strip() for k in os.environ.get("OPENLIVE_API_KEYS", "").split(",") if k.strip()]
    return tuple(dict.fromkeys(keys))


def _config(args: argparse.Namespace) -> ServerConfig:
    llm, models = load_toml(args.config) if args.config else (None, ())
    llm = llm or LLMSpec()
    overrides = {
        "kind": args.llm,
        "gguf": args.gguf,
        "context_tokens": args.context_tokens,
        "kv_cache_mb": args.kv_cache_mb,
        "base_url": args.llm_url,
        "model": args.llm_model,
        "api_key": args.llm_api_key,
    }
    llm = replace(llm, **{k: v for k, v in overrides.items() if v is not None})
    if args.llm is None and args.llm_url:
        llm = replace(llm, kind="openai")
    llm.check()
    return ServerConfig(
        host=args.host,
        port=args.port,
        tls_port=args.tls_port or None,
        data_dir=args.data_dir or default_data_dir(),
        state_url=_state_url(args.state_url),
        api_keys=_keys(args),
        allow_unauthenticated=args.allow_unauthenticated,
        max_message_bytes=args.max_message_bytes,
        max_sessions=args.max_sessions or None,
        max_sessions_per_key=args.max_sessions_per_key or None,
        warm_up=args.warm_up,
        speculative_recognition=args.speculative_recognition,
        speculative_answers=args.speculative_answers,
        learned_end_of_turn=args.end_of_turn == "learned",
        allowed_origins=_origins(args),
        whisper=args.whisper,
        llm=llm,
        models=models,
        voices=load_voices(args.config) if args.config else (),
        resumption_ttl=args.resumption_ttl,
        connection_limit=args.connection_limit or None,
        go_away_before=args.go_away_before,
        session_limit=args.session_limit or None,
        video_session_limit=args.video_session_limit or None,
        setup_timeout=args.setup_timeout or None,
        max_messages_per_second=args.max_messages_per_second or None,
        max_input_bytes_per_second=args.max_input_bytes_per_second or None,
        shutdown_grace=args.shutdown_grace,
    )


def _state_url(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"--state-url must be a redis://, rediss:// or unix:// URL, not {url!r}")
    return url


def _origins(args: argparse.Namespace) -> tuple[str, ...]:
    """The --allow-origin values and OPENLIVE_ALLOWED_ORIGINS, checked."""
    from ..server.origins import OriginPolicy

    env = os.environ.get("OPENLIVE_ALLOWED_ORIGINS", "")
    origins = (*args.allow_origin, *(o.strip() for o in env.split(",") if o.strip()))
    OriginPolicy.of(origins)  # ValueError names a bad one
    return origins


def _serve(args: argparse.Namespace) -> int:
    try:
        logging.basicConfig(
            level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        config = _config(args)
        for port in (config.port, config.tls_port):
            if port is not None:
                _check_port(config.host, port)
    except (ValueError, OSError) as exc:
        print(f"openlive: {exc}", file=sys.stderr)
        return 2
    if not config.api_keys and not config.loopback and not config.allow_unauthenticated:
        print(
            f"openlive: refusing to listen on {config.host} without API keys; give "
            "--api-key KEY (or OPENLIVE_API_KEYS), or --allow-unauthenticated",
            file=sys.stderr,
        )
        return 2
    from ..backends.base import LLMError
    from ..backends.voice import VoiceModelError
    from ..server.serve import serve
    from ..server.store import StoreUnavailable

    try:
        asyncio.run(serve(config))
    except (VoiceModelError, LLMError, StoreUnavailable) as exc:  # said plainly
        print(f"openlive: {exc}", file=sys.stderr)
        return 1
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail before the models load if a listener cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _env(args: argparse.Namespace) -> int:
    from ..server.tls import ensure_tls_files

    data_dir = args.data_dir or default_data_dir()
    host = args.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    tls = ensure_tls_files(data_dir, (args.host,))
    shown = f"[{host}]" if ":" in host else host
    keys = _keys(args)
    key = keys[0] if keys else LOCAL_KEY
    exports = {}
    if args.tls_port:
        exports["GOOGLE_GEMINI_BASE_URL"] = f"https://{shown}:{args.tls_port}"
    else:
        exports["GOOGLE_GEMINI_BASE_URL"] = f"http://{shown}:{args.port}"
    exports |= {
        "SSL_CERT_FILE": str(tls.bundle),
        "NODE_EXTRA_CA_CERTS": str(tls.ca_cert),
        "GEMINI_API_KEY": key,
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    # Both SDKs read either key variable and warn when both are set; GOOGLE_API_KEY
    # would win, so one left from elsewhere must go.
    print("unset GOOGLE_API_KEY")
    no_proxy = ",".join(
        dict.fromkeys(
            [
                host,
                "localhost",
                "127.0.0.1",
                *filter(None, os.environ.get("NO_PROXY", "").split(",")),
            ]
        )
    )
    print(f"export NO_PROXY={shlex.quote(no_proxy)}")
    if not is_loopback(host) and not keys:
        print("# the server needs --api-key when it listens beyond loopback", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _env(args)


if __name__ == "__main__":
    sys.exit(main())
