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

from ..config import (
    LLMSpec,
    ServerConfig,
    default_data_dir,
    is_loopback,
)
from ..config_file import load_toml, load_voices
from .flags import END_OF_TURN, build_parser

__all__ = ["main"]

LOCAL_KEY = "openlive-local"
"""The key `openlive env` prints when the server accepts any key."""


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
        learned_end_of_turn=_end_of_turn(args.end_of_turn) == "learned",
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


def _end_of_turn(value: str) -> str:
    """--end-of-turn, checked (argparse checks a flag's value, not a default from
    OPENLIVE_END_OF_TURN)."""
    if value not in END_OF_TURN:
        raise ValueError(
            f"--end-of-turn (or OPENLIVE_END_OF_TURN) must be learned or silence, not {value!r}"
        )
    return value


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
