"""What a session asks of recognition, resolved, and the words' times fitted to the
speech: plain calls, no models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openlive.backends.catalogue import VOICE_ACTIVITY_MODELS, Catalogue
from openlive.backends.voice import Word
from openlive.config import LLMSpec
from openlive.config_file import load_toml
from openlive.pipeline.languages import RecognitionLanguages, recognition_languages, whisper_code
from openlive.pipeline.plan import SessionPlan, plan_session
from openlive.pipeline.word_times import fit_words, speech_runs
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Setup

FRAME_S = 0.032


def plan(model: str = "gemini-live-2.5-flash-preview", **setup: Any) -> SessionPlan:
    catalogue = Catalogue(LLMSpec(), ())
    return plan_session(Setup(model=model, **setup), catalogue, "v1beta", can_speak=True)


# --- speech runs ---------------------------------------------------------------------


def test_a_run_spans_the_frames_above_the_silence_threshold_around_a_voiced_one() -> None:
    scores = [0.0, 0.4, 0.9, 0.9, 0.4, 0.1, 0.0, 0.0, 0.0, 0.6, 0.2]
    assert speech_runs(scores, 1.0, FRAME_S, speech=0.5, silence=0.35) == [
        pytest.approx((1.0 + 1 * FRAME_S, 1.0 + 5 * FRAME_S)),
        pytest.approx((1.0 + 9 * FRAME_S, 1.0 + 10 * FRAME_S)),
    ]


def test_frames_that_never_reach_the_speech_threshold_are_no_run() -> None:
    assert speech_runs([0.4, 0.45, 0.4, 0.0], 0.0, FRAME_S, speech=0.5, silence=0.35) == []


def test_a_gap_shorter_than_a_tenth_of_a_second_does_not_split_a_run() -> None:
    scores = [0.9, 0.9, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.9]  # gaps of 64, 128 ms
    runs = speech_runs(scores, 0.0, FRAME_S, speech=0.5, silence=0.35)
    assert runs == [pytest.approx((0.0, 6 * FRAME_S)), pytest.approx((10 * FRAME_S, 11 * FRAME_S))]


def test_a_run_still_open_ends_with_the_frames() -> None:
    assert speech_runs([0.0, 0.9], 0.0, 0.5, speech=0.5, silence=0.35) == [(0.5, 1.0)]


# --- fitting words -----------------------------------------------------------------


def test_words_move_onto_the_speech_at_its_edges_and_keep_their_times_inside() -> None:
    """Whisper's way on a recording with a pause: the first word starts with the audio,
    the pause is given to the word after it, the last word ends early."""
    words = [
        Word("Ever", 0.0, 0.52),
        Word("tried,", 0.52, 0.98),
        Word("ever", 1.58, 2.06),
        Word("failed.", 2.06, 2.54),
    ]
    runs = [(0.32, 1.18), (1.89, 2.78)]
    assert fit_words(words, runs) == (
        Word("Ever", 0.32, 0.52),
        Word("tried,", 0.52, 1.18),
        Word("ever", 1.89, 2.06),
        Word("failed.", 2.06, 2.78),
    )


def test_a_word_in_no_run_goes_to_the_nearest() -> None:
    words = [Word("one", 0.0, 0.2), Word("two", 1.7, 1.9)]
    fitted = fit_words(words, [(0.5, 1.0), (2.0, 2.4)])
    assert fitted == (Word("one", 0.5, 1.0), Word("two", 2.0, 2.4))


def test_words_stay_in_order_and_never_overlap() -> None:
    words = [Word("a", 0.0, 0.9), Word("b", 0.5, 0.6), Word("c", 0.6, 1.0)]
    fitted = fit_words(words, [(0.2, 1.0)])
    assert [w.text for w in fitted] == ["a", "b", "c"]
    for before, after in zip(fitted, fitted[1:], strict=False):
        assert before.start <= before.end <= after.start <= after.end
    assert (fitted[0].start, fitted[-1].end) == (0.2, 1.0)


def test_without_runs_words_are_as_heard() -> None:
    words = (Word("a", 0.0, 0.3),)
    assert fit_words(words, []) == words
    assert fit_words((), [(0.0, 1.0)]) == ()


# --- languages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en-US", "en"),
        ("pt-BR", "pt"),
        ("cmn-Hans-CN", "zh"),
        ("zh-TW", "zh"),
        ("yue-HK", "yue"),
        ("jv-ID", "jw"),
        ("iw", "he"),
        ("nb-NO", "no"),
        ("fil-PH", "tl"),
        ("haw", "haw"),
        ("xx-YY", None),
        ("tlh", None),
    ],
)
def test_a_tag_is_the_recognizer_s_code_of_its_language(tag: str, code: str | None) -> None:
    assert whisper_code(tag) == code


def test_one_language_is_fixed_and_several_are_detected_among() -> None:
    one = recognition_languages(["en-GB"])
    assert (one.fixed, one.among, one.tag("en")) == ("en", frozenset(), "en-GB")
    several = recognition_languages(["en-US", "de-DE", "en-GB"], speech=("fr-FR", "fr"))
    assert (several.fixed, several.among) == (None, frozenset({"en", "de"}))
    assert [several.tag(c) for c in ("en", "de", "fr", "jw", "es")] == [
        "en-US",
        "de-DE",
        "fr-FR",
        "jv",
        "es",
    ]


def test_without_language_codes_the_speech_language_is_recognition_s() -> None:
    assert recognition_languages([], speech=("de-DE", "de")) == RecognitionLanguages(
        fixed="de", tags=(("de", "de-DE"),)
    )
    assert recognition_languages([]) == RecognitionLanguages()


def test_a_language_the_recognizer_does_not_know_is_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        recognition_languages(["en-US", "tlh-Latn"])
    assert error.value.code == 1007
    assert error.value.reason == (
        'Language code "tlh-Latn" in input_audio_transcription.language_codes is not supported.'
    )


# --- the plan ------------------------------------------------------------------------


def test_the_plan_carries_what_the_transcription_asks() -> None:
    listening = plan(
        input_audio_transcription={
            "language_codes": ["de-DE", "en-US"],
            "custom_vocabulary": ["Siobhan"],
            "word_timestamp": True,
        },
        generation_config={"speech_config": {"language_code": "en-US"}},
    ).listening
    assert listening.languages.among == frozenset({"de", "en"})
    assert listening.languages.fixed is None
    assert (listening.vocabulary, listening.word_times) == (("Siobhan",), True)
    with pytest.raises(InvalidArgument, match="not supported"):
        plan(input_audio_transcription={"language_codes": ["xx"]})


def test_voice_activity_is_sent_by_the_models_that_send_it_with_automatic_detection() -> None:
    assert set(VOICE_ACTIVITY_MODELS) == {"gemini-3.1-flash-live-preview"}
    assert plan("gemini-3.1-flash-live-preview").listening.voice_activity
    assert not plan("gemini-live-2.5-flash-preview").listening.voice_activity
    assert not plan("gemini-2.5-flash-native-audio-preview-09-2025").listening.voice_activity
    manual = {"automatic_activity_detection": {"disabled": True}}
    off = plan("gemini-3.1-flash-live-preview", realtime_input_config=manual)
    assert not off.listening.voice_activity


def test_a_model_of_the_config_file_sends_voice_activity_when_it_says_so(tmp_path: Path) -> None:
    config = tmp_path / "openlive.toml"
    config.write_text('[models."mine"]\nvoice_activity = true\n[models."plain"]\n')
    _, models = load_toml(config)
    catalogue = Catalogue(LLMSpec(), models)
    assert catalogue.lookup("mine").voice_activity
    assert not catalogue.lookup("plain").voice_activity
    config.write_text('[models."mine"]\nvoice_activity = "yes"\n')
    with pytest.raises(ValueError, match="voice_activity must be true or false"):
        load_toml(config)
