"""A GGUF model's prompts: its chat template applied to a history, and its tokenizer.

`ChatPrompt` is made once from the model's `Llama` object (which holds the vocabulary
and the template in its metadata) and renders with llama-cpp-python's own Jinja2
formatter, so that a prompt is what the model was trained to read.

Besides the whole prompt of a reply (`prompt`: the history, ending with the assistant's
header), it renders the start of the next one (`head`: the history and the next user
message's header, up to where its words go), which the embedded backend reads into a
conversation's cache while the user is still speaking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import ChatMessage, LLMError
from .calling import render_history

__all__ = ["ChatPrompt"]

_MARK = "\x00"
"""Stands for the user's words in `head`: a character no template writes itself."""


class ChatPrompt:
    """The chat template and tokenizer of `llama` (a `llama_cpp.Llama`)."""

    def __init__(self, llama: Any, name: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(f"{name} has no chat template")
        model = llama._model
        self._llama = llama
        self._formatter: Any = Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(llama.token_eos()),
            bos_token=model.token_get_text(llama.token_bos()),
            stop_token_ids=[llama.token_eos()],
        )
        self.longest_token = max(len(llama.detokenize([t])) for t in range(llama.n_vocab()))
        """The most bytes of text one token of the vocabulary stands for."""

    def tokens(self, text: str) -> list[int]:
        """`text` tokenized, special tokens included, without a beginning of sequence."""
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def count(self, text: str) -> int:
        return len(self.tokens(text))

    def prompt(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The chat template applied to `messages`, tokenized, ending with the
        assistant's header."""
        return self._tokenized(self._formatter(messages=render_history(messages)).prompt)

    def head(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt of `messages` and a user message, up to where its words begin
        (empty if the template hides them)."""
        rendered = self._formatter(messages=render_history([*messages, ChatMessage("user", _MARK)]))
        at = rendered.prompt.rfind(_MARK)
        return self._tokenized(rendered.prompt[:at]) if at >= 0 else []

    def _tokenized(self, prompt: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        return tokens
