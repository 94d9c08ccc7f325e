"""The config file's engines: recognition and speech of a model on OpenAI audio API
engines, read and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.backends.catalogue import Catalogue
from openlive.config import EngineSpec, LLMSpec, ModelSpec
from openlive.config_file import load_toml

ENGINES = """
[models."remote-voice"]
transcription = { base_url = "http://asr:8000/v1/", model = "whisper-1", api_key = "sk-1" }
speech = { base_url = "https://tts:8443/v1", model = "tts-1", voice = "alloy", timeout = 5 }
"""


def _load(tmp_path: Path, text: str) -> tuple[ModelSpec, ...]:
    path = tmp_path / "openlive.toml"
    path.write_text(text)
    return load_toml(path)[1]


def test_a_model_names_its_engines(tmp_path: Path) -> None:
    (model,) = _load(tmp_path, ENGINES)
    assert model.transcription == EngineSpec("http://asr:8000/v1", "whisper-1", api_key="sk-1")
    assert model.speech == EngineSpec("https://tts:8443/v1", "tts-1", voice="alloy", timeout=5.0)
    entry = Catalogue(LLMSpec(), (model,)).lookup("remote-voice")
    assert (entry.recognizer, entry.speech) == (model.transcription, model.speech)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('transcription = { model = "w" }', "transcription needs base_url and model"),
        ('speech = { base_url = "ftp://x", model = "t" }', "speech.base_url must be an http"),
        ('speech = { base_url = "http://x", model = "t", pitch = 2 }', "unknown keys: pitch"),
        ('speech = { base_url = "http://x", model = "t", timeout = 0 }', "timeout must be a"),
        ('speech = "http://x"', "speech must be a table"),
        (
            'whisper = "/w"\ntranscription = { base_url = "http://x", model = "w" }',
            "whisper or transcription, not both",
        ),
    ],
)
def test_engine_mistakes_are_named(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _load(tmp_path, f'[models."m"]\n{table}\n')


def test_the_llm_threads_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "openlive.toml"
    path.write_text("[llm]\nthreads = 2\ngeneration_threads = 1\n")
    llm = load_toml(path)[0]
    assert llm is not None and (llm.threads, llm.generation_threads) == (2, 1)
    for bad in ("0", '"two"', "1.5", "true"):
        path.write_text(f"[llm]\ngeneration_threads = {bad}\n")
        with pytest.raises(ValueError, match="generation_threads must be a whole number"):
            load_toml(path)
