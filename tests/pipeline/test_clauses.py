"""Cutting an answer's text into clauses to speak, as it streams in."""

from __future__ import annotations

from openlive.pipeline.speech import clauses


def stream(deltas: list[str]) -> list[str]:
    out: list[str] = []
    buffer = ""
    for delta in deltas:
        ready, buffer = clauses(buffer + delta, first=not out, final=False)
        out += ready
    ready, _ = clauses(buffer, first=not out, final=True)
    return out + ready


def test_sentences_are_cut_as_they_complete() -> None:
    deltas = ["Hello", " there.", " How", " are", " you?", " Fine", "!"]
    assert stream(deltas) == ["Hello there.", "How are you?", "Fine!"]


def test_a_sentence_is_not_cut_before_the_space_that_ends_it() -> None:
    ready, rest = clauses("It costs 3.5", first=False, final=False)
    assert ready == [] and rest == "It costs 3.5"
    assert stream(["It costs 3", ".5 euros."]) == ["It costs 3.5 euros."]


def test_the_first_clause_is_cut_at_a_comma_to_start_sooner() -> None:
    assert stream(["Sure", ",", " I can", " help."]) == ["Sure,", "I can help."]
    assert stream(["Hi, yes", ", fine, thanks."]) == ["Hi, yes,", "fine, thanks."]  # "Hi" is short
    assert stream(["No", ","]) == ["No,"]

    text = "Once upon a time in a small harbour town, there lived a keeper "
    ready, rest = clauses(text, first=True, final=False)
    assert ready == ["Once upon a time in a small harbour town,"]
    assert rest == "there lived a keeper "
    assert clauses(text, first=False, final=False) == ([], text)  # later ones wait


def test_the_first_clause_does_not_wait_for_the_word_after_its_mark() -> None:
    assert clauses("I'm sorry for your loss,", first=True, final=False) == (
        ["I'm sorry for your loss,"],
        "",
    )
    assert clauses("Hello!", first=True, final=False) == (["Hello!"], "")
    assert clauses("It costs 1,", first=True, final=False) == ([], "It costs 1,")  # 1,500
    assert stream(["It costs 1,", "500 euros."]) == ["It costs 1,500 euros."]
    assert clauses("Hello!", first=False, final=False) == ([], "Hello!")  # later ones wait


def test_the_rest_is_spoken_at_the_end() -> None:
    assert stream(["no punctuation at all"]) == ["no punctuation at all"]
    assert stream(["  "]) == []


def test_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert stream(['He said "go." Then', " he left."]) == ['He said "go."', "Then he left."]
