"""`inputAudioTranscription` read and checked, and the messages about what the server
heard (`voiceActivity`, `inputTranscription` with its language and words): their wire
form, and how the official SDK reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import _live_converters, types

from openlive.protocol.codec import decode, encode
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.listening import (
    MAX_VOCABULARY,
    TranscriptionOptions,
    input_transcription,
    transcription_options,
    voice_activity,
)
from openlive.protocol.messages import AudioTranscriptionConfig, ServerMessage


def options(**config: Any) -> TranscriptionOptions:
    return transcription_options(AudioTranscriptionConfig.model_validate(config))


def sdk(message: ServerMessage) -> types.LiveServerMessage:
    """What the Python SDK's `receive()` makes of the message as it is sent."""
    raw = json.loads(encode(message))
    return types.LiveServerMessage._from_response(
        response=_live_converters._LiveServerMessage_from_mldev(raw), kwargs={}
    )


def test_no_config_and_an_empty_one_ask_nothing() -> None:
    assert transcription_options(None) == TranscriptionOptions()
    assert options() == TranscriptionOptions()


def test_the_options_are_read_with_their_deprecated_spellings() -> None:
    read = options(
        languageCodes=["en-US", " de-DE ", "EN-us"],
        languageHints={"languageCodes": ["fr-FR"]},
        languageAuto={},
        customVocabulary=["Siobhan", " ", "siobhan", "Qdrant"],
        adaptationPhrases=["Nguyen"],
        wordTimestamp=True,
    )
    assert read == TranscriptionOptions(
        languages=("en-US", "de-DE", "fr-FR"),
        vocabulary=("Siobhan", "Qdrant", "Nguyen"),
        word_timestamps=True,
    )


@pytest.mark.parametrize("code", ["", "english", "e", "en_US", "en-", "12", "en-US!"])
def test_a_language_code_that_is_not_a_tag_is_refused(code: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        options(languageCodes=["en", code])
    assert error.value.code == 1007
    assert error.value.reason == (
        f'Invalid language code "{code}" in input_audio_transcription.language_codes.'
    )


def test_a_vocabulary_too_long_is_refused() -> None:
    assert len(options(customVocabulary=[f"w{i}" for i in range(MAX_VOCABULARY)]).vocabulary)
    with pytest.raises(InvalidArgument, match=r"at most 1000 phrases, got 1001"):
        options(customVocabulary=[f"w{i}" for i in range(MAX_VOCABULARY + 1)])


def test_options_of_the_wrong_type_close_with_1007_naming_the_field() -> None:
    frame = json.dumps(
        {"setup": {"model": "m", "inputAudioTranscription": {"customVocabulary": "Siobhan"}}}
    )
    with pytest.raises(InvalidArgument) as error:
        decode(frame)
    assert "input_audio_transcription.custom_vocabulary" in error.value.reason


def test_voice_activity_on_the_wire_and_in_the_sdk() -> None:
    start, end = voice_activity(True, 0.832), voice_activity(False, 9.3441)
    assert encode(start) == '{"voiceActivity":{"type":"ACTIVITY_START","audioOffset":"0.832s"}}'
    assert encode(end) == '{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"9.344s"}}'
    assert encode(voice_activity(True, 12.0)).endswith('"audioOffset":"12s"}}')
    read = sdk(start)
    assert read.voice_activity is not None and read.server_content is None
    assert read.voice_activity.voice_activity_type == types.VoiceActivityType.ACTIVITY_START
    assert read.voice_activity.audio_offset == "0.832s"


def test_a_transcript_with_its_language_and_words() -> None:
    message = input_transcription(
        "Ever tried.", language_code="en-US", words=[("Ever", 0.5, 0.82), ("tried.", 0.82, 1.7)]
    )
    assert json.loads(encode(message)) == {
        "serverContent": {
            "inputTranscription": {
                "text": "Ever tried.",
                "finished": True,
                "languageCode": "en-US",
                "words": [
                    {"word": "Ever", "startOffset": "0.5s", "endOffset": "0.82s"},
                    {"word": "tried.", "startOffset": "0.82s", "endOffset": "1.7s"},
                ],
                "startOffset": "0.5s",
                "endOffset": "1.7s",
            }
        }
    }
    heard = sdk(message).server_content
    assert heard is not None and heard.input_transcription is not None
    words = heard.input_transcription.words or []
    assert [(w.word, w.start_offset, w.end_offset) for w in words] == [
        ("Ever", "0.5s", "0.82s"),
        ("tried.", "0.82s", "1.7s"),
    ]
    assert heard.input_transcription.language_code == "en-US"


def test_a_transcript_without_words_asked_for_has_none() -> None:
    plain = json.loads(encode(input_transcription("Hi.", language_code="en")))
    assert plain == {
        "serverContent": {
            "inputTranscription": {"text": "Hi.", "finished": True, "languageCode": "en"}
        }
    }
    asked = json.loads(encode(input_transcription("", words=[])))
    assert asked == {
        "serverContent": {"inputTranscription": {"text": "", "finished": True, "words": []}}
    }
