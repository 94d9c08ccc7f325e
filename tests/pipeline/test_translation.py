"""Translation (`translationConfig`) as data: the target language, who translates, what
each spoken turn is answered with, what the LLM is asked; and the setup's refusals,
with plain calls (the reply of an answer already written is the one async part)."""

from __future__ import annotations

from typing import Any

import pytest

from openlive.backends.base import ChatMessage, Sampling, TextDelta, Usage
from openlive.backends.catalogue import Catalogue
from openlive.config import LLMSpec
from openlive.pipeline.context import ChatContext
from openlive.pipeline.plan import SessionPlan, plan_session
from openlive.pipeline.translation import STOP, Translation, Verbatim, resolve, target_language
from openlive.protocol.errors import LiveError
from openlive.protocol.messages import Setup, TranslationConfig

MODEL = "gemini-live-2.5-flash-preview"


def plan(llm: LLMSpec | None = None, **generation: Any) -> SessionPlan:
    setup = Setup.model_validate({"model": MODEL, "generationConfig": generation})
    return plan_session(setup, Catalogue(llm or LLMSpec(), ()), "v1beta", can_speak=True)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en-US"),
        ("EN-gb", "en-GB"),
        ("es", "es-ES"),
        ("es-MX", "es-ES"),  # a region not among the 30: the language's usual one
        ("es-US", "es-US"),
        ("zh", "cmn-CN"),
        ("cmn", "cmn-CN"),
        ("ja", "ja-JP"),
        ("pt_PT", "pt-BR"),
        ("sv", None),
        ("xx-YY", None),
    ],
)
def test_a_target_is_one_of_the_languages_spoken(code: str, expected: str | None) -> None:
    found = target_language(code)
    assert (found.code if found else None) == expected


def test_who_translates() -> None:
    """The recognizer into English on the embedded LLM; the LLM otherwise (another
    target, or an engine, which translates better than Whisper base)."""
    config = TranslationConfig(target_language_code="en")
    assert resolve(None, embedded_llm=True) is None
    english = resolve(config, embedded_llm=True)
    assert english is not None and english.by_recognizer and english.recognizer_target == "en"
    engine = resolve(config, embedded_llm=False)
    assert engine is not None and engine.recognizer_target is None
    spanish = resolve(TranslationConfig(target_language_code="es"), embedded_llm=True)
    assert spanish is not None and spanish.recognizer_target is None
    assert not spanish.echo and resolve(
        TranslationConfig(target_language_code="es", echo_target_language=True), embedded_llm=True
    ) == Translation(spanish.target, echo=True)


@pytest.mark.parametrize(
    ("translation", "reason"),
    [
        ({}, "generation_config.translation_config.target_language_code is required."),
        ({"targetLanguageCode": "  "}, "target_language_code is required."),
        (
            {"targetLanguageCode": "sv-SE"},
            'Translation into "sv-SE" is not supported by the model.',
        ),
    ],
)
def test_a_target_it_cannot_speak_is_refused(translation: dict[str, Any], reason: str) -> None:
    with pytest.raises(LiveError) as refused:
        plan(translationConfig=translation)
    assert refused.value.code == 1007 and reason in refused.value.reason


def test_the_plan_speaks_the_target() -> None:
    p = plan(
        translationConfig={"targetLanguageCode": "fr", "echoTargetLanguage": True},
        speechConfig={"languageCode": "de-DE"},
    )
    assert p.translation is not None and p.translation.echo
    assert p.language is not None and p.language.code == "de-DE"  # recognized in German
    assert p.speech_language == "fr-FR"  # spoken in French
    assert plan(speechConfig={"languageCode": "de-DE"}).speech_language == "de-DE"
    assert plan().speech_language is None


@pytest.mark.parametrize(
    ("echo", "heard_in", "translation", "answer"),
    [
        (False, "en", None, ""),  # the target spoken, no echo: nothing said
        (True, "en", None, "I do think so."),  # echoed as heard
        (True, "en", "ignored", "I do think so."),
        (False, "es", "I want coffee.", "I want coffee."),  # the recognizer's
        (False, "es", None, None),  # the LLM's
    ],
)
def test_the_answer_to_a_spoken_turn(
    echo: bool, heard_in: str, translation: str | None, answer: str | None
) -> None:
    english = target_language("en")
    assert english is not None
    rule = Translation(english, echo=echo, by_recognizer=True)
    assert rule.spoken(heard_in, "I do think so.", translation) == answer


async def test_an_answer_already_written_is_replayed() -> None:
    spanish = target_language("es")
    assert spanish is not None
    context = ChatContext("You are a pirate.", [ChatMessage("user", "Good morning")])
    conversation, asked, sampling = Translation(spanish).turn(
        Verbatim("unused"), context, Sampling(temperature=0.9), "Buenos días."
    )
    assert isinstance(conversation, Verbatim) and sampling.temperature == 0.9
    assert asked.system_instruction == ""  # no model reads it
    events = [e async for e in conversation.reply(asked.messages(), sampling)]
    assert events == [TextDelta("Buenos días."), Usage(prompt_tokens=0, response_tokens=3)]


def test_the_llm_is_asked_for_the_last_user_turn_alone() -> None:
    """The instruction names the language; the history and the client's instruction are
    not sent; greedy unless asked otherwise, no thinking, the reply cut at a blank line."""
    german = target_language("de")
    assert german is not None
    session = object()
    context = ChatContext(
        "You are a pirate.",
        [
            ChatMessage("user", "Hello"),
            ChatMessage("assistant", "Hallo"),
            ChatMessage("user", "Where is the station?"),
        ],
    )
    conversation, asked, sampling = Translation(german).turn(
        session,  # type: ignore[arg-type]
        context,
        Sampling(thinking_budget=-1, stop=("END",)),
        None,
    )
    assert conversation is session
    assert asked.system_instruction.startswith("Translate the user's message into German.")
    assert "pirate" not in asked.system_instruction
    assert asked.turns == [ChatMessage("user", "Where is the station?")]
    assert sampling == Sampling(temperature=0.0, thinking_budget=0, stop=("END", *STOP))
    assert Translation(german).sampling(Sampling(temperature=0.7)).temperature == 0.7
