"""The config file (`--config`): a TOML file of the default LLM, extra model names and
voices, read into the specs of `openlive.config`.

It looks like this::

    [llm]                       # the backend every catalogue model uses by default
    kind = "openai"             # "embedded" (default) or "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "qwen2.5-1.5b-instruct"
    api_key = "sk-..."          # optional

    [models."my-assistant"]     # a Live model name of your own
    class = "half-cascade"      # or "native-audio", "native-audio-thinking"
    llm = { kind = "embedded", gguf = "/models/other.gguf" }
    whisper = "/models/faster-whisper-small"   # optional: its own recognizer
    # optional: recognition and speech on engines speaking the OpenAI audio API
    transcription = { base_url = "http://asr:8000/v1", model = "whisper-1" }
    speech = { base_url = "http://tts:8000/v1", model = "tts-1", voice = "alloy" }

    [voices."Kore"]             # a voice name (built in or new) on a Piper voice file
    model = "/voices/en_GB-vctk-medium.onnx"   # its .onnx.json beside it
    speaker = 12                # multi-speaker models: an id or a name
    pitch = 1.1                 # optional: pitch, formant, rate, tilt (see VoiceSpec)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .config import EngineSpec, LLMSpec, ModelSpec, VoiceSpec

__all__ = ["load_toml", "load_voices"]


def load_toml(path: Path) -> tuple[LLMSpec | None, tuple[ModelSpec, ...]]:
    """Read the `[llm]` table and the `[models.*]` tables of a config file."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {"llm", "models", "voices"}
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
        whisper = table.pop("whisper", None)
        voice_activity = table.pop("voice_activity", False)
        if not isinstance(voice_activity, bool):
            raise ValueError(f"{path}: models.{name}.voice_activity must be true or false")
        engines = {
            key: EngineSpec.from_dict(table.pop(key), f"{path}: models.{name}.{key}")
            for key in ("transcription", "speech")
            if key in table
        }
        if whisper and "transcription" in engines:
            raise ValueError(f"{path}: models.{name}: whisper or transcription, not both")
        if table:
            raise ValueError(f"{path}: models.{name}: unknown keys: {', '.join(sorted(table))}")
        models.append(
            ModelSpec(
                name=name,
                model_class=model_class,
                llm=LLMSpec.from_dict(llm_table) if llm_table else None,
                description=description,
                whisper=Path(whisper).expanduser() if whisper else None,
                voice_activity=voice_activity,
                **engines,
            )
        )
    return llm, tuple(models)


def load_voices(path: Path) -> tuple[VoiceSpec, ...]:
    """Read the `[voices.*]` tables of a config file, checked (model files included).

    A relative model path is taken from the config file's folder."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    voices = []
    for name, table in raw.get("voices", {}).items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: voices.{name} must be a table")
        table = dict(table)
        model = table.pop("model", None)
        speaker = table.pop("speaker", None)
        style = {
            key: table.pop(key) for key in ("pitch", "formant", "rate", "tilt") if key in table
        }
        if table:
            raise ValueError(f"{path}: voices.{name}: unknown keys: {', '.join(sorted(table))}")
        if speaker is not None and not isinstance(speaker, int | str):
            raise ValueError(f"{path}: voices.{name}.speaker must be an id or a name")
        spec = VoiceSpec(
            name=name,
            model=(path.parent / Path(model).expanduser()) if model else None,
            speaker=speaker,
            **style,
        )
        try:
            spec.check()
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        voices.append(spec)
    return tuple(voices)
