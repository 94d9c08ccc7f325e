"""Server configuration: command-line flags, environment and an optional TOML file.

Precedence: flags, then environment (`OPENLIVE_*`), then the file given by `--config`,
then the defaults below. The TOML file can define the default LLM and extra model names::

    [llm]                       # the backend every catalogue model uses by default
    kind = "openai"             # "embedded" (default) or "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "qwen2.5-1.5b-instruct"
    api_key = "sk-..."          # optional

    [models."my-assistant"]     # a Live model name of your own
    class = "half-cascade"      # or "native-audio", "native-audio-thinking"
    llm = { kind = "embedded", gguf = "/models/other.gguf" }
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "LLMSpec",
    "ModelSpec",
    "ServerConfig",
    "default_data_dir",
    "load_toml",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TLS_PORT = 8766
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

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
    kv_cache_mb: int = 512
    """embedded: memory for the KV caches of sessions waiting for their next turn."""
    base_url: str | None = None
    """openai: the engine's API root, e.g. http://127.0.0.1:8000/v1."""
    model: str | None = None
    """openai: the engine's model name."""
    api_key: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LLMSpec:
        known = {
            "kind",
            "gguf",
            "context_tokens",
            "threads",
            "kv_cache_mb",
            "base_url",
            "model",
            "api_key",
        }
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown llm settings: {', '.join(sorted(unknown))}")
        spec = cls(**{k: v for k, v in raw.items() if k != "gguf"})
        if raw.get("gguf"):
            spec = replace(spec, gguf=Path(raw["gguf"]).expanduser())
        spec.check()
        return spec

    def check(self) -> None:
        if self.kind not in ("embedded", "openai"):
            raise ValueError(f"llm kind must be 'embedded' or 'openai', not {self.kind!r}")
        if self.kind == "openai" and not (self.base_url and self.model):
            raise ValueError("an openai llm needs base_url and model")

    @property
    def key(self) -> tuple[object, ...]:
        """Identifies the backend instance, so that models sharing one share it."""
        if self.kind == "openai":
            return ("openai", self.base_url, self.model, self.api_key)
        return ("embedded", self.gguf, self.context_tokens, self.threads, self.kv_cache_mb)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model name defined by the user."""

    name: str
    model_class: ModelClass = "half-cascade"
    llm: LLMSpec | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls_port: int | None = DEFAULT_TLS_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    api_keys: tuple[str, ...] = ()
    allow_unauthenticated: bool = False
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    speculative_recognition: bool = True
    """Transcribe during a pause, before the end of the turn is decided."""
    llm: LLMSpec = field(default_factory=LLMSpec)
    models: tuple[ModelSpec, ...] = ()

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


def load_toml(path: Path) -> tuple[LLMSpec | None, tuple[ModelSpec, ...]]:
    """Read the `[llm]` table and the `[models.*]` tables of a config file."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {"llm", "models"}
    if unknown:
        raise ValueError(f"{path}: unknown tables: {', '.join(sorted(unknown))}")
    llm = LLMSpec.from_dict(raw["llm"]) if "llm" in raw else None
    models = []
    for name, table in raw.get("models", {}).items():
        table = dict(table)
        model_class = table.pop("class", "half-cascade")
        if model_class not in ("half-cascade", "native-audio", "native-audio-thinking"):
            raise ValueError(f"{path}: models.{name}.class: unknown class {model_class!r}")
        llm_table = table.pop("llm", None)
        description = table.pop("description", "")
        if table:
            raise ValueError(f"{path}: models.{name}: unknown keys: {', '.join(sorted(table))}")
        models.append(
            ModelSpec(
                name=name,
                model_class=model_class,
                llm=LLMSpec.from_dict(llm_table) if llm_table else None,
                description=description,
            )
        )
    return llm, tuple(models)
