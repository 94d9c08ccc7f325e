"""The languages of recognition: `inputAudioTranscription.languageCodes` (BCP-47 tags)
as the recognizer's codes, and the tag each transcript reports as its `languageCode`.

The recognizer (Whisper, and the engines that speak its API) knows a language by a code
of its own, mostly the tag's primary subtag (``en-US`` → ``en``), with a few old or
macrolanguage names (``cmn`` → ``zh``, ``jv`` → ``jw``). A session that names one
language is recognized in it; one that names several has its language detected among
them, on its first turn (detection costs a pass of the encoder over a full window, made
while the turn is spoken: `recognition.py`), and kept once the detector is sure, as
without them. A transcript reports the client's own
tag for the language it was recognized in (``en-US`` when that was asked for), else
`speechConfig.languageCode` when it is that language, else the tag of the recognizer's
code (``en``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ..protocol.errors import InvalidArgument

__all__ = ["WHISPER_LANGUAGES", "RecognitionLanguages", "recognition_languages", "whisper_code"]

_WHISPER_CODES: Final = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw
he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt
my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl
tr tt uk ur uz vi yi yo zh yue
"""
WHISPER_LANGUAGES: Final = frozenset(_WHISPER_CODES.split())
"""The codes of the languages Whisper recognizes."""

_ALIASES: Final = {
    "cmn": "zh",
    "jv": "jw",
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "nb": "no",
    "fil": "tl",
}
"""Primary subtags that Whisper knows by another code."""

_TAGS: Final = {"jw": "jv"}
"""Whisper codes that are not the BCP-47 tag of their language."""


def whisper_code(tag: str) -> str | None:
    """The recognizer's code for a BCP-47 tag (``pt-BR`` → ``pt``), None if it does
    not know the language."""
    primary = tag.strip().split("-")[0].lower()
    code = _ALIASES.get(primary, primary)
    return code if code in WHISPER_LANGUAGES else None


@dataclass(frozen=True, slots=True)
class RecognitionLanguages:
    """The languages a session is recognized in."""

    fixed: str | None = None
    """The recognizer's code of the session's one language; None: detected."""
    among: frozenset[str] = frozenset()
    """The codes detection chooses from; empty: any."""
    tags: tuple[tuple[str, str], ...] = ()
    """(recognizer code, the tag to report for it): the client's spellings."""

    def tag(self, code: str) -> str:
        """The `languageCode` to report for a transcript in the recognizer's `code`."""
        return dict(self.tags).get(code) or _TAGS.get(code, code)


def recognition_languages(
    tags: Iterable[str], speech: tuple[str, str] | None = None
) -> RecognitionLanguages:
    """The languages of `tags` (``languageCodes``); `speech` is the session's
    `speechConfig.languageCode` as (tag, recognizer code), if it has one.
    `InvalidArgument` for a tag of a language the recognizer does not know."""
    codes: dict[str, str] = {}
    for tag in tags:
        code = whisper_code(tag)
        if code is None:
            raise InvalidArgument(
                f'Language code "{tag[:40]}" in input_audio_transcription.language_codes '
                "is not supported."
            )
        codes.setdefault(code, tag)
    reported = dict(codes)
    if speech is not None:
        reported.setdefault(speech[1], speech[0])
    pairs = tuple(reported.items())
    if len(codes) == 1:
        return RecognitionLanguages(fixed=next(iter(codes)), tags=pairs)
    if codes:
        return RecognitionLanguages(among=frozenset(codes), tags=pairs)
    return RecognitionLanguages(fixed=speech[1] if speech else None, tags=pairs)
