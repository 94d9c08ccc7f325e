"""The session plan: a setup resolved against the catalogue, with plain calls (no event
loop); every refusal with the close the hosted service gives."""

from __future__ import annotations

from typing import Any

import pytest

from openlive.backends.base import Sampling
from openlive.backends.catalogue import Catalogue
from openlive.config import LLMSpec
from openlive.pipeline.languages import RecognitionLanguages
from openlive.pipeline.plan import Listening, SessionPlan, plan_session
from openlive.pipeline.turns import TurnSettings
from openlive.protocol.errors import LiveError
from openlive.protocol.messages import Modality, Setup, Tool

CATALOGUE = Catalogue(LLMSpec(), ())
MODEL = "models/gemini-live-2.5-flash-preview"
NATIVE = "models/gemini-2.5-flash-native-audio-preview-09-2025"
WEATHER = {"name": "get_weather", "behavior": "NON_BLOCKING"}


def plan(can_speak: bool = True, version: str = "v1beta", **setup: Any) -> SessionPlan:
    setup.setdefault("model", MODEL)
    return plan_session(Setup.model_validate(setup), CATALOGUE, version, can_speak=can_speak)


def test_a_bare_setup_speaks_with_the_defaults() -> None:
    p = plan()
    assert (p.config.modality, p.speak, p.voice, p.language) == (Modality.AUDIO, True, None, None)
    assert p.entry.name == "gemini-live-2.5-flash-preview"
    assert p.listening == Listening(TurnSettings.from_live())
    assert p.sampling == Sampling() and not p.functions.specs
    assert (p.transcribe_output, p.window) == (False, None)


def test_every_field_of_a_full_setup_lands_in_the_plan() -> None:
    p = plan(
        generationConfig={
            "responseModalities": ["TEXT"],
            "temperature": 0.5,
            "maxOutputTokens": 10,
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "kore"}},
                "languageCode": "de-DE",
            },
        },
        realtimeInputConfig={
            "automaticActivityDetection": {
                "disabled": True,
                "silenceDurationMs": 900,
                "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
            },
            "activityHandling": "NO_INTERRUPTION",
            "turnCoverage": "TURN_INCLUDES_ALL_INPUT",
        },
        inputAudioTranscription={},
        outputAudioTranscription={},
        contextWindowCompression={"triggerTokens": 400, "slidingWindow": {"targetTokens": 200}},
        tools=[{"functionDeclarations": [WEATHER]}],
    )
    assert (p.speak, p.voice) == (False, "Kore")
    assert p.language is not None and (p.language.code, p.language.whisper) == ("de-DE", "de")
    assert p.listening == Listening(
        TurnSettings.from_live(end_high=False, silence_duration_ms=900),
        automatic=False,
        interrupts=False,
        all_input=True,
        all_video=True,
        transcribe=True,
        languages=RecognitionLanguages(fixed="de", tags=(("de", "de-DE"),)),
    )
    assert (p.sampling.temperature, p.sampling.max_tokens) == (0.5, 10)
    assert [s.name for s in p.functions.specs] == ["get_weather"]
    assert not p.functions.blocking
    assert (p.transcribe_output, p.window) == (True, (400, 200))


@pytest.mark.parametrize(
    ("coverage", "audio", "video"),
    [
        (None, False, False),
        ("TURN_INCLUDES_ONLY_ACTIVITY", False, False),
        ("TURN_INCLUDES_ALL_INPUT", True, True),
        ("TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO", False, True),
    ],
)
def test_turn_coverage_says_what_a_turn_holds_of_audio_and_video(
    coverage: str | None, audio: bool, video: bool
) -> None:
    config = {"turnCoverage": coverage} if coverage else {}
    listening = plan(realtimeInputConfig=config).listening
    assert (listening.all_input, listening.all_video) == (audio, video)


def test_a_window_without_limits_takes_the_protocols_defaults() -> None:
    p = plan(contextWindowCompression={"slidingWindow": {}})
    trigger = p.entry.input_token_limit * 4 // 5
    assert p.window == (trigger, trigger // 2)


def test_the_features_follow_the_model_class_and_the_version() -> None:
    thinking = {"thinkingConfig": {"thinkingBudget": 64}}
    assert plan(model=NATIVE, generationConfig=thinking).features.thinking_budget == 64
    affective = {"enableAffectiveDialog": True}
    assert plan(
        model=NATIVE, version="v1alpha", generationConfig=affective
    ).features.affective_dialog
    with pytest.raises(LiveError) as refused:  # a v1alpha field, unknown on v1beta
        plan(model=NATIVE, generationConfig=affective)
    assert refused.value.code == 1007


def test_a_context_update_makes_a_new_plan() -> None:
    before = plan()
    after = before.with_tools([Tool.model_validate({"functionDeclarations": [WEATHER]})])
    assert [s.name for s in after.functions.specs] == ["get_weather"]
    assert not before.functions.specs and after.sampling is before.sampling


@pytest.mark.parametrize(
    ("setup", "can_speak", "closed"),
    [
        ({"model": "models/nope"}, True, (1008, "Requested entity was not found.")),
        (
            {
                "generationConfig": {
                    "speechConfig": {
                        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}
                    }
                }
            },
            True,
            (1007, 'Voice name "Nobody" is not supported by the model.'),
        ),
        (
            {"generationConfig": {"speechConfig": {"languageCode": "xx-XX"}}},
            True,
            (1007, 'Language code "xx-XX" is not supported by the model.'),
        ),
        ({}, False, (1007, "Response modality AUDIO is not available on this server.")),
        (
            {
                "contextWindowCompression": {
                    "triggerTokens": 10,
                    "slidingWindow": {"targetTokens": 100},
                }
            },
            True,
            (
                1007,
                "contextWindowCompression.slidingWindow.targetTokens (100) must be below "
                "triggerTokens (10).",
            ),
        ),
        (
            {"tools": [{"functionDeclarations": [{"name": "do it; rm -rf /"}]}]},
            True,
            (
                1007,
                "Invalid function name 'do it; rm -rf /': a letter or _, then letters, digits, "
                "_ . : or -, 128 at most.",
            ),
        ),
        (
            {"tools": [{"googleSearch": {}}]},
            True,
            (1007, "The built-in tool google_search is not available on this server."),
        ),
        (
            {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}},
            True,
            (1007, f"Thinking is not enabled for {MODEL}."),
        ),
        (
            {"generationConfig": {"temperature": 3}},
            True,
            (1007, "generation_config.temperature must be between 0 and 2, got 3."),
        ),
    ],
)
def test_refusals_close_as_the_hosted_service_does(
    setup: dict[str, Any], can_speak: bool, closed: tuple[int, str]
) -> None:
    with pytest.raises(LiveError) as refused:
        plan(can_speak, **setup)
    assert (refused.value.code, refused.value.reason) == closed
