"""Speech-to-speech translation (`generationConfig.translationConfig`), as data.

A translation session answers each user turn with its translation into the target
language, spoken (or written, with TEXT), instead of with a reply. How a turn is
translated depends on what the session's models can do:

- **The recognizer** translates, when the target is English, the recognizer can
  translate into English (Whisper's own ``translate`` task) and the model's LLM is the
  embedded one: the translation is Whisper's, from the audio, and the LLM is not asked.
- **The LLM** translates otherwise (another target, text input, or a model whose LLM is
  an OpenAI-compatible engine, which translates far better than the embedded model): it
  is given an instruction to translate and the user's words alone, not the history.

`echoTargetLanguage` (the SDKs: "If true, the model will generate audio when the target
language is spoken, essentially it will parrot the input. If false, we will not produce
audio for the target language"): speech already in the target language is spoken back
as it was heard, or left unanswered (a bare `turnComplete`). It applies to speech, whose
language the recognizer tells; text input is always handed to the LLM.

Nothing here does I/O, except `Verbatim`, the answer that is already written.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace
from typing import Final

from ..backends.base import (
    ChatMessage,
    Conversation,
    FunctionSpec,
    ReplyEvent,
    Sampling,
    TextDelta,
    Usage,
)
from ..backends.voices import LANGUAGES, Language, find_language
from ..protocol.errors import InvalidArgument
from ..protocol.messages import TranslationConfig
from .context import ChatContext

__all__ = ["Translation", "Verbatim", "resolve", "target_language"]

_PREFERRED: Final = {
    "en": "en-US",
    "es": "es-ES",
    "fr": "fr-FR",
    "pt": "pt-BR",
    "zh": "cmn-CN",
    "cmn": "cmn-CN",
    "ar": "ar-XA",
}
"""The language meant by a bare code that several of the 30 share."""

STOP: Final = ("\n\n",)
"""A translation ends at its first blank line: what a small model writes after one is
commentary ("In Spanish, this means ..."), not translation."""


def target_language(code: str) -> Language | None:
    """The language of a BCP-47 `targetLanguageCode` among the 30 that OpenLive speaks:
    one of them (``es-ES``, any letter case), or a bare language (``es``, or a region
    not among them, ``es-MX``), which is its usual region's; None for another."""
    found = find_language(code)
    if found is not None:
        return found
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if primary in _PREFERRED:
        return LANGUAGES[_PREFERRED[primary].lower()]
    for language in LANGUAGES.values():
        if primary in (language.whisper, language.code.lower().split("-")[0]):
            return language
    return None


@dataclass(frozen=True, slots=True)
class Translation:
    """What a session's `translationConfig` asks, resolved against its model."""

    target: Language
    echo: bool = False
    """`echoTargetLanguage`: speech in the target language is spoken back as heard."""
    by_recognizer: bool = False
    """Speech is translated by the recognizer (into English) rather than the LLM, where
    the recognizer can."""

    @property
    def recognizer_target(self) -> str | None:
        """The language (Whisper's code) the recognizer is asked to translate speech
        into; None where the LLM translates."""
        return self.target.whisper if self.by_recognizer else None

    def instruction(self) -> str:
        """The LLM's instruction for one translation."""
        name = self.target.name.split(" (")[0]
        return (
            f"Translate the user's message into {name}. Reply with the {name} "
            "translation only, with nothing before or after it."
        )

    def context(self, text: str) -> ChatContext:
        """What the LLM reads to translate `text`: the instruction and the text alone."""
        return ChatContext(self.instruction(), [ChatMessage("user", text)])

    def sampling(self, sampling: Sampling) -> Sampling:
        """The client's sampling for a translation: greedy unless it set a temperature,
        no thinking, and the reply ends at a blank line."""
        return replace(
            sampling,
            temperature=0.0 if sampling.temperature is None else sampling.temperature,
            thinking_budget=0,
            stop=(*sampling.stop, *STOP),
        )

    def turn(
        self,
        conversation: Conversation,
        context: ChatContext,
        sampling: Sampling,
        verbatim: str | None,
    ) -> tuple[Conversation, ChatContext, Sampling]:
        """What answers the last user message of `context`: `verbatim`, where the
        answer is already written, else the session's `conversation` asked for its
        translation, alone."""
        users = [m.content for m in context.turns if m.role == "user"]
        text = users[-1] if users else ""
        if verbatim is not None:
            return Verbatim(verbatim), ChatContext("", [ChatMessage("user", text)]), sampling
        return conversation, self.context(text), self.sampling(sampling)

    def spoken(self, language: str, text: str, translation: str | None) -> str | None:
        """The answer to a spoken turn, where it is already written: `text` heard in
        `language` (Whisper's code), and the recognizer's `translation` of it, if any.
        Returns the words to speak; "" where nothing is spoken (the target language
        without echo); None where the LLM must translate `text`."""
        if language == self.target.whisper:
            return text if self.echo else ""
        return translation


class Verbatim(Conversation):
    """A reply already written: the recognizer's translation, or the user's own words
    echoed. No model reads a prompt for it, and its response tokens are its words and
    punctuation marks (the recognizer's output has no LLM tokens to count)."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        functions: Sequence[FunctionSpec] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        if self.text:
            yield TextDelta(self.text)
        yield Usage(prompt_tokens=0, response_tokens=len(_TOKENS.findall(self.text)))


_TOKENS: Final = re.compile(r"\w+|[^\w\s]")


def resolve(config: TranslationConfig | None, *, embedded_llm: bool) -> Translation | None:
    """The translation a setup asks for, None for none; `InvalidArgument` for a target
    that is missing or not one of the languages OpenLive speaks. `embedded_llm`: the
    model's LLM is the embedded one, which the recognizer outdoes at translating into
    English."""
    if config is None:
        return None
    code = (config.target_language_code or "").strip()
    if not code:
        raise InvalidArgument(
            "generation_config.translation_config.target_language_code is required."
        )
    target = target_language(code)
    if target is None:
        raise InvalidArgument(f'Translation into "{code[:40]}" is not supported by the model.')
    return Translation(
        target=target,
        echo=bool(config.echo_target_language),
        by_recognizer=embedded_llm and target.whisper == "en",
    )
