"""The words' side of a learned end of turn: how likely a message ends where its text does.

A sentence that ends on a word that may go on ("The reason I am calling is that.",
"What time does the pharmacy on?") is one that Whisper often ends with a full stop or a
question mark after a speaker stops to think, and one that the turn model, which hears
a falling pitch and a breath, often takes for finished. The bundled LLM knows better:
asked for the token after the user's words (in its chat template, without the final
punctuation), it gives ".", "?", "!" or the end of the message a probability of about
0.002 after those two, and 0.2 to 0.9 after "...to the old town" or "...at eight
tonight" (`benchmarks/end_of_turn.py`). It is as sure that a few short phrases go on
which in fact end there ("I know that."): so it is asked only where the words end on
such a word (`turn_end.Reading.OPEN_WORD`), and a low probability only holds the turn
(to the limit), never ends it.

The model is the bundled SmolLM2-135M-Instruct (Q8_0, as the embedded LLM runs it), in
a context of its own of `CONTEXT` tokens: the words' last ones are read (about 10 ms a
token on one thread), in one pass, each call from scratch: about 40 ms for a sentence.
Its weights are the LLM's file, mapped (the same pages of the page cache); what it adds
is its context and buffers, about 27 MB.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np

from .voice import TextTurnModel, VoiceModelError

__all__ = ["CONTEXT", "TextTurn"]

CONTEXT: Final = 64
"""Tokens of the model's context: the message's header and its last words."""
_ENDINGS: Final = (".", "?", "!", "<|im_end|>")
_HEADER: Final = "<|im_start|>user\n"
_FINAL = re.compile(r"[.?!。？！…]+$")


class TextTurn(TextTurnModel):
    """A GGUF chat model, asked for the probability that a user's message ends."""

    def __init__(self, gguf: Path, threads: int = 1) -> None:
        from llama_cpp import Llama

        try:
            self._llama: Any = Llama(
                model_path=str(gguf),
                n_ctx=CONTEXT,
                n_batch=CONTEXT,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, OSError) as exc:
            raise VoiceModelError(f"cannot load {gguf}: {exc}") from exc
        self.name = f"{gguf.stem} (words)"
        tokenize = self._llama.tokenize
        self._header = tokenize(_HEADER.encode(), add_bos=False, special=True)
        self._endings = [tokenize(t.encode(), add_bos=False, special=True)[-1] for t in _ENDINGS]
        if len(set(self._endings)) != len(_ENDINGS):
            raise VoiceModelError(f"{gguf.name} has no chat template of ChatML's tokens")
        self._lock = threading.Lock()

    def probability(self, text: str) -> float:
        words = _FINAL.sub("", text.strip())
        if not words:
            return 0.0
        llama = self._llama
        with self._lock:
            tokens = llama.tokenize(words.encode(), add_bos=False, special=False)
            tokens = self._header + tokens[-(CONTEXT - len(self._header)) :]
            llama.reset()  # the context from scratch: its cells are dropped as it reads
            llama.eval(tokens)
            logits = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),))
            scores = logits.astype(np.float64)
        weights = np.exp(scores - scores.max())
        return float(weights[self._endings].sum() / weights.sum())
