"""The bundled LLM converted once to Q8_0 (`models.prepare_llm`): made once, trusted on
later starts, made again when it or its source changes, and the model the server runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from llama_cpp import Llama

from openlive.backends.base import ChatMessage, Sampling, TextDelta
from openlive.backends.embedded import EmbeddedLLM, bundled_gguf
from openlive.backends.models import prepare_llm

pytestmark = pytest.mark.models


def file_type(path: Path) -> str:
    """The GGUF's `general.file_type`: llama.cpp's LLAMA_FTYPE_MOSTLY_* number."""
    model = Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return str(model.metadata["general.file_type"])
    finally:
        model.close()


def test_prepared_once_then_trusted(tmp_path: Path) -> None:
    made = prepare_llm(tmp_path, bundled_gguf())
    assert made.name == "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert file_type(made) == "7"  # Q8_0
    assert file_type(bundled_gguf()) == "3"  # the shipped Q4_1
    before = made.stat().st_mtime_ns
    assert prepare_llm(tmp_path, bundled_gguf()) == made
    assert made.stat().st_mtime_ns == before  # not made again
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_made_again_when_the_file_is_damaged(tmp_path: Path) -> None:
    made = prepare_llm(tmp_path, bundled_gguf())
    size = made.stat().st_size
    with made.open("r+b") as f:
        f.truncate(size // 2)
    assert prepare_llm(tmp_path, bundled_gguf()) == made
    assert made.stat().st_size == size


def test_made_again_when_the_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "src" / "Model.Q4_1.gguf"
    source.parent.mkdir()
    source.write_bytes(bundled_gguf().read_bytes())
    made = prepare_llm(tmp_path / "models", source)
    assert made.name == "Model.Q8_0.gguf"
    first = made.stat().st_mtime_ns
    os.utime(source, ns=(first, first + 1_000_000_000))
    prepare_llm(tmp_path / "models", source)
    assert made.stat().st_mtime_ns != first


def test_a_source_llama_cpp_cannot_read_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "broken.Q4_1.gguf"
    source.write_bytes(b"GGUF but not really")
    with pytest.raises(ValueError, match="cannot convert"):
        prepare_llm(tmp_path / "models", source)
    assert list((tmp_path / "models").iterdir()) == []  # no temporary file left


async def test_the_embedded_llm_runs_the_prepared_model(tmp_path: Path) -> None:
    llm = EmbeddedLLM(models_dir=tmp_path, context_tokens=512, cache_budget_bytes=0)
    await llm.start()
    try:
        assert llm.path == tmp_path / "SmolLM2-135M-Instruct.Q8_0.gguf"
        assert llm.name == "SmolLM2-135M-Instruct.Q8_0"  # the label of its /metrics
        conversation = llm.conversation()
        text = ""
        messages = [
            ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "What is the capital of France?"),
        ]
        async for event in conversation.reply(messages, Sampling(temperature=0.0, max_tokens=16)):
            if isinstance(event, TextDelta):
                text += event.text
        await conversation.aclose()
        assert "Paris" in text
    finally:
        await llm.aclose()


async def test_an_unwritable_folder_keeps_the_shipped_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "models"
    blocked.write_text("a file where the folder should be")
    llm = EmbeddedLLM(models_dir=blocked, context_tokens=512, cache_budget_bytes=0)
    with caplog.at_level(logging.WARNING):
        await llm.start()
    try:
        assert llm.path == bundled_gguf()
        assert "runs as shipped" in caplog.text
    finally:
        await llm.aclose()
