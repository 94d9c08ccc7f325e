"""What a client asks of the transcription of its audio, and what the server tells it of
what it heard.

- `transcription_options`: `inputAudioTranscription` checked and read: the languages to
  recognize among (`languageCodes`, and the deprecated `languageHints`), the vocabulary
  to favour (`customVocabulary`, and the deprecated `adaptationPhrases`), and whether
  words carry their times (`wordTimestamp`).
- `voice_activity`: the top-level `voiceActivity` message, `ACTIVITY_START` or
  `ACTIVITY_END`, with the `audioOffset` of the start or end of the speech.
- `input_transcription`: a turn's `serverContent.inputTranscription`, with the language
  recognized and, when asked, each word's `startOffset` and `endOffset`.

Every offset is a `google.protobuf.Duration` in its JSON form ("1.234s"): a time in the
connection's input audio, counted from its first sample, in the audio's own time (a
second of audio is a second, whatever its sample rate and however fast it was sent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .errors import InvalidArgument
from .messages import (
    AudioTranscriptionConfig,
    ServerContent,
    ServerMessage,
    Transcription,
    VoiceActivity,
    VoiceActivityType,
    WordInfo,
)
from .resumption import duration

__all__ = [
    "MAX_VOCABULARY",
    "TranscriptionOptions",
    "input_transcription",
    "transcription_options",
    "voice_activity",
]

LANGUAGE_TAG: Final = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
"""A BCP-47 language tag, as far as the language goes: a primary language subtag of two
or three letters, then any subtags (script, region, variant)."""

MAX_VOCABULARY: Final = 1000
"""The most phrases a vocabulary may hold (OpenLive's bound: a recognizer's prompt holds
far fewer; the first phrases are used)."""


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    """`inputAudioTranscription`, read. The defaults ask nothing."""

    languages: tuple[str, ...] = ()
    """BCP-47 tags as the client spelt them, each language once; empty: any language."""
    vocabulary: tuple[str, ...] = ()
    """Words and phrases to recognize more readily, each once, in the client's order."""
    word_timestamps: bool = False


def transcription_options(config: AudioTranscriptionConfig | None) -> TranscriptionOptions:
    """The options of `inputAudioTranscription` (None: not set); `InvalidArgument` for a
    language code that is not a BCP-47 tag, or a vocabulary over `MAX_VOCABULARY`."""
    if config is None:
        return TranscriptionOptions()
    hints = config.language_hints.language_codes if config.language_hints else None
    languages: dict[str, str] = {}
    for field, codes in (("language_codes", config.language_codes), ("language_hints", hints)):
        for code in codes or ():
            tag = code.strip()
            if not LANGUAGE_TAG.fullmatch(tag):
                raise InvalidArgument(
                    f'Invalid language code "{code[:40]}" in input_audio_transcription.{field}.'
                )
            languages.setdefault(tag.lower(), tag)
    vocabulary: dict[str, str] = {}
    for phrase in [*(config.custom_vocabulary or ()), *(config.adaptation_phrases or ())]:
        if phrase.strip():
            vocabulary.setdefault(phrase.strip().lower(), phrase.strip())
    if len(vocabulary) > MAX_VOCABULARY:
        raise InvalidArgument(
            f"input_audio_transcription.custom_vocabulary must hold at most {MAX_VOCABULARY} "
            f"phrases, got {len(vocabulary)}."
        )
    return TranscriptionOptions(
        languages=tuple(languages.values()),
        vocabulary=tuple(vocabulary.values()),
        word_timestamps=bool(config.word_timestamp),
    )


def voice_activity(start: bool, offset: float) -> ServerMessage:
    """`voiceActivity`: speech started (`start`) or ended, `offset` seconds into the
    input audio."""
    kind = VoiceActivityType.ACTIVITY_START if start else VoiceActivityType.ACTIVITY_END
    return ServerMessage(voice_activity=VoiceActivity(type=kind, audio_offset=duration(offset)))


def input_transcription(
    text: str,
    *,
    language_code: str | None = None,
    words: Sequence[tuple[str, float, float]] | None = None,
) -> ServerMessage:
    """A turn's transcript (`finished`), in `language_code`. `words`, when word times
    were asked for: each word with its start and end, in seconds into the input audio;
    the transcript's own offsets are then its first word's start and last word's end."""
    heard = Transcription(text=text, finished=True, language_code=language_code or None)
    if words is not None:
        heard.words = [
            WordInfo(word=word, start_offset=duration(start), end_offset=duration(end))
            for word, start, end in words
        ]
        if words:
            heard.start_offset = duration(words[0][1])
            heard.end_offset = duration(words[-1][2])
    return ServerMessage(server_content=ServerContent(input_transcription=heard))
