"""The text turn model on the bundled LLM (prepared as the server runs it): how likely a
message ends where its words do."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.backends.models import bundled_gguf, prepare_llm
from openlive.backends.text_turn import CONTEXT, TextTurn
from openlive.backends.voice import VoiceModelError
from openlive.pipeline.turn_end import MESSAGE_END


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory) -> TextTurn:
    return TextTurn(prepare_llm(tmp_path_factory.mktemp("models"), bundled_gguf()))


@pytest.mark.parametrize(
    "text",
    [
        "The reason I am calling is that.",  # Whisper's full stop after a pause
        "What time does the pharmacy on?",
        "My favourite thing to do on Sundays is.",
        "The reason I am calling this that.",  # as the server heard it in a test
    ],
)
def test_a_sentence_broken_off_is_unlikely_to_end_a_message(words: TextTurn, text: str) -> None:
    assert words.probability(text) < MESSAGE_END


@pytest.mark.parametrize(
    "text",
    [
        "What is the best way to get from the station to the old town?",
        "Could you remind me to call my sister tomorrow morning?",
        "Hold on.",
        "I don't know what that is.",
    ],
)
def test_a_whole_sentence_is_likely_to(words: TextTurn, text: str) -> None:
    assert words.probability(text) > 1.5 * MESSAGE_END


def test_the_final_punctuation_is_disregarded(words: TextTurn) -> None:
    text = "The meeting has been moved to Thursday afternoon at three"
    assert words.probability(text + ".") == pytest.approx(words.probability(text))
    assert words.probability("...") == 0.0 and words.probability("") == 0.0


def test_a_long_message_is_read_by_its_last_words(words: TextTurn) -> None:
    long = "I have been thinking about this for a while and " * 12  # past the context
    assert len(long.split()) > CONTEXT
    assert words.probability(long + "the reason is that.") < MESSAGE_END
    assert words.probability(long + "I would like a table for two tonight.") > MESSAGE_END


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF but not really")
    with pytest.raises(VoiceModelError, match="cannot load"):
        TextTurn(path)


def test_the_server_reads_the_words_with_the_llm_file_it_runs(tmp_path: Path) -> None:
    from openlive.backends.registry import _text_turn_model

    model = _text_turn_model(tmp_path / "models")
    assert model is not None and model.name == "SmolLM2-135M-Instruct.Q8_0 (words)"
    assert (tmp_path / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf").is_file()


def test_an_unwritable_folder_leaves_the_shipped_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from openlive.backends.registry import _text_turn_model

    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    model = _text_turn_model(blocked / "models")
    assert model is not None and model.name == "SmolLM2-135M-Instruct.Q4_1 (words)"
    assert "as shipped" in caplog.text
