"""Server configuration: command-line flags, environment and an optional TOML file.

Precedence: flags, then environment (`OPENLIVE_*`), then the file given by `--config`
(read by `openlive.config_file`), then the defaults below.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "EngineSpec",
    "LLMSpec",
    "ModelSpec",
    "ServerConfig",
    "VoiceSpec",
    "DEFAULT_LLM_TIMEOUT",
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_MESSAGES_PER_SECOND",
    "DEFAULT_BYTES_PER_SECOND",
    "STYLE_RANGES",
    "default_data_dir",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TLS_PORT = 8766
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SESSIONS = 6
"""Concurrent sessions a node admits by default: what the embedded stack holds on two
cores with every spoken answer on time (benchmarks/capacity.py)."""
DEFAULT_LLM_TIMEOUT = 30.0
"""Seconds an OpenAI-compatible engine may send nothing before its answer fails."""
DEFAULT_MESSAGES_PER_SECOND = 200.0
"""Client messages a connection may send a second, on average (`--max-messages-per-second`):
audio in 20 ms chunks is 50 a second."""
DEFAULT_BYTES_PER_SECOND = 1024 * 1024
"""Client bytes a connection may send a second, on average (`--max-input-bytes-per-second`):
real-time audio (43 KB/s at 16 kHz) and video (a frame a second) with room to spare."""

STYLE_RANGES: Final = {
    "pitch": (0.5, 3.0),
    "formant": (0.7, 1.5),
    "rate": (0.5, 2.0),
    "tilt": (-6.0, 6.0),
}
"""The bounds of the config file's voice style keys (and of `VoiceStyle`'s fields)."""

ModelClass = Literal["half-cascade", "native-audio", "native-audio-thinking"]


def default_data_dir() -> Path:
    env = os.environ.get("OPENLIVE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openlive"


@dataclass(frozen=True, slots=True)
class LLMSpec:
    """Which LLM backend serves a model."""

    kind: Literal["embedded", "openai"] = "embedded"
    gguf: Path | None = None
    """embedded: a GGUF file; None means the bundled SmolLM2-135M-Instruct."""
    context_tokens: int = 8192
    threads: int | None = None
    generation_threads: int | None = None
    """embedded: threads for a step of a single token (None: 1 for a small model)."""
    kv_cache_mb: int = 512
    """embedded: memory for the KV caches of sessions waiting for their next turn."""
    base_url: str | None = None
    """openai: the engine's API root, e.g. http://127.0.0.1:8000/v1."""
    model: str | None = None
    """openai: the engine's model name."""
    api_key: str | None = None
    timeout: float = DEFAULT_LLM_TIMEOUT
    """openai: seconds the engine may send nothing (before the answer's first chunk, or
    between two) before the answer fails."""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LLMSpec:
        known = {
            "kind",
            "gguf",
            "context_tokens",
            "threads",
            "generation_threads",
            "kv_cache_mb",
            "base_url",
            "model",
            "api_key",
            "timeout",
        }
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown llm settings: {', '.join(sorted(unknown))}")
        timeout = raw.get("timeout", DEFAULT_LLM_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError("llm timeout must be a positive number of seconds")
        given = {k: v for k, v in raw.items() if k not in ("gguf", "timeout")}
        spec = cls(**given, timeout=float(timeout))
        if raw.get("gguf"):
            spec = replace(spec, gguf=Path(raw["gguf"]).expanduser())
        spec.check()
        return spec

    def check(self) -> None:
        if self.kind not in ("embedded", "openai"):
            raise ValueError(f"llm kind must be 'embedded' or 'openai', not {self.kind!r}")
        for name in ("threads", "generation_threads"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"llm {name} must be a whole number of at least 1")
        if self.kind == "openai" and not (self.base_url and self.model):
            raise ValueError("an openai llm needs base_url and model")

    @property
    def key(self) -> tuple[object, ...]:
        """Identifies the backend instance, so that models sharing one share it."""
        if self.kind == "openai":
            return ("openai", self.base_url, self.model, self.api_key, self.timeout)
        return (
            "embedded",
            self.gguf,
            self.context_tokens,
            self.threads,
            self.generation_threads,
            self.kv_cache_mb,
        )


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """A recognition or speech engine speaking the OpenAI audio API
    (`POST {base_url}/audio/transcriptions`, `POST {base_url}/audio/speech`)."""

    base_url: str
    """The engine's API root, e.g. http://127.0.0.1:8000/v1."""
    model: str
    """The engine's model name."""
    api_key: str | None = None
    voice: str | None = None
    """speech: the engine's voice for every session; None passes the session's Live
    voice name (what another OpenLive node takes)."""
    timeout: float = 30.0
    """Seconds one request may take."""

    @classmethod
    def from_dict(cls, raw: object, where: str) -> EngineSpec:
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a table")
        unknown = set(raw) - {"base_url", "model", "api_key", "voice", "timeout"}
        if unknown:
            raise ValueError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
        if not (isinstance(raw.get("base_url"), str) and isinstance(raw.get("model"), str)):
            raise ValueError(f"{where} needs base_url and model")
        if not raw["base_url"].startswith(("http://", "https://")):
            raise ValueError(f"{where}.base_url must be an http:// or https:// URL")
        timeout = raw.get("timeout", DEFAULT_LLM_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"{where}.timeout must be a positive number of seconds")
        return cls(**{**raw, "base_url": raw["base_url"].rstrip("/"), "timeout": float(timeout)})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model name defined by the user."""

    name: str
    model_class: ModelClass = "half-cascade"
    llm: LLMSpec | None = None
    description: str = ""
    whisper: Path | None = None
    """The model's own recognizer: a CTranslate2 Whisper folder (None: the server's)."""
    transcription: EngineSpec | None = None
    """Its recognizer as a service (instead of `whisper`)."""
    speech: EngineSpec | None = None
    """Its synthesizer as a service (None: the server's voices)."""
    voice_activity: bool = False
    """Whether its sessions are sent `voiceActivity` messages."""


@dataclass(frozen=True, slots=True)
class VoiceSpec:
    """A voice name defined, or redefined, by the user.

    The style keys left out (None) keep the built-in voice's values when the name is
    built in and the model is the bundled one; otherwise they leave the model as it is.
    """

    name: str
    model: Path | None = None
    """A Piper ``.onnx`` file, its ``.onnx.json`` beside it; None is the bundled voice."""
    speaker: int | str | None = None
    """Multi-speaker models: a speaker id, or a name from the model's speaker map."""
    pitch: float | None = None
    """The factor on the voice's pitch."""
    formant: float | None = None
    """The factor on its formants (vocal tract): above 1 sounds smaller."""
    rate: float | None = None
    """The speaking rate: above 1 is faster."""
    tilt: float | None = None
    """Brightness: dB per octave above 1 kHz."""

    def check(self) -> None:
        """Check the ranges, and the speaker against the model's config file."""
        for key, (low, high) in STYLE_RANGES.items():
            value = getattr(self, key)
            if value is not None and not (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and low <= value <= high
            ):
                raise ValueError(f"voices.{self.name}.{key} must be between {low} and {high}")
        if self.model is None:
            if self.speaker is not None:
                raise ValueError(f"voices.{self.name}.speaker needs a model")
            return
        if self.model.suffix != ".onnx" or not self.model.is_file():
            raise ValueError(f"voices.{self.name}.model: no Piper .onnx file at {self.model}")
        config_path = self.model.with_name(self.model.name + ".json")
        try:
            raw = json.loads(config_path.read_text(encoding="utf-8"))
            count = int(raw.get("num_speakers", 1))
            names = dict(raw.get("speaker_id_map") or {})
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"voices.{self.name}.model: cannot read {config_path}: {exc}") from exc
        if isinstance(self.speaker, str) and self.speaker not in names:
            raise ValueError(
                f"voices.{self.name}.speaker: {self.model.name} has no speaker {self.speaker!r}"
            )
        if isinstance(self.speaker, bool) or (
            isinstance(self.speaker, int) and not 0 <= self.speaker < count
        ):
            raise ValueError(
                f"voices.{self.name}.speaker {self.speaker} is out of range:"
                f" {self.model.name} has {count} speaker(s), 0 to {count - 1}"
            )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls_port: int | None = DEFAULT_TLS_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    state_url: str | None = None
    """Where tokens and resumption handles live: a `redis://` URL shared by several
    nodes, or None for the SQLite file in `data_dir`."""
    api_keys: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    """Web origins whose pages may open sessions, besides the server's own ("*": any)."""
    allow_unauthenticated: bool = False
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_sessions: int | None = DEFAULT_MAX_SESSIONS
    """The most sessions at once (None: no limit); more are refused at the door."""
    max_sessions_per_key: int | None = None
    """The most concurrent sessions on one API key or on the tokens it made (None: no
    limit beyond `max_sessions`)."""
    warm_up: bool = True
    """Run every model once before listening, so the first session is as fast as later
    ones."""
    speculative_recognition: bool = True
    """Transcribe during a pause, before the end of the turn is decided."""
    speculative_answers: bool = True
    """Answer during a pause too (the LLM and the first clause's speech), when the models
    have room; nothing of it is sent unless the pause ends the turn. Needs
    `speculative_recognition`."""
    learned_end_of_turn: bool = True
    """Where a session sets no `silenceDurationMs`, end its turns when they sound finished
    (the turn model, Smart Turn v3, and the pause's transcript) rather than after 500 ms
    of silence."""
    whisper: Path | None = None
    """The recognizer: a CTranslate2 Whisper folder (None: the bundled Whisper base)."""
    llm: LLMSpec = field(default_factory=LLMSpec)
    models: tuple[ModelSpec, ...] = ()
    voices: tuple[VoiceSpec, ...] = ()
    resumption_ttl: float = 2 * 3600.0
    """Seconds a session resumption handle stays valid after its session ends."""
    connection_limit: float | None = 600.0
    """Seconds a connection may last (None: no limit); `goAway` comes first."""
    go_away_before: float = 50.0
    """Seconds between `goAway` and the end of a connection at its limit."""
    session_limit: float | None = 900.0
    """Seconds a session without context window compression may last, across its
    connections (None: no limit)."""
    video_session_limit: float | None = 120.0
    """The same, for a session that has been sent video."""
    setup_timeout: float | None = 10.0
    """Seconds a connection has to send `setup` (None: no limit)."""
    max_messages_per_second: float | None = DEFAULT_MESSAGES_PER_SECOND
    """Client messages a connection may send a second, on average; more close it with
    1011 (None: no limit)."""
    max_input_bytes_per_second: int | None = DEFAULT_BYTES_PER_SECOND
    """Client bytes a connection may send a second, on average; past it, its next
    message is read later (None: no limit)."""
    shutdown_grace: float = 10.0
    """Seconds a stopping server gives the turns in progress to finish."""

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
