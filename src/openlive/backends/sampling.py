"""How the embedded model picks each token: a reply's sampling settings, and the
llama.cpp sampler chain made from them (in the order llama-cpp-python builds it, so
that sampling is what `Llama.create_completion` would do: penalties, grammar, then
greedy, or top-k, top-p, min-p, temperature and a seeded draw)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MIN_P", "PENALTY_LAST_N", "SamplerSettings", "sampler_chain"]

PENALTY_LAST_N: Final = 64
"""How many of the newest generated tokens the repeat penalties look at (llama-cpp-python's
default)."""
MIN_P: Final = 0.05
"""llama-cpp-python's default min-p filter, kept so that sampling is unchanged."""


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    grammar: tuple[str, str] | None = None
    """A GBNF grammar and its root rule, or None."""


def sampler_chain(llama_cpp: Any, vocab: Any, s: SamplerSettings) -> Any:
    """A llama.cpp sampler chain for `s` (`llama_cpp` is the bindings' module, `vocab`
    the model's vocabulary); the caller frees it (`llama_sampler_free`)."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())

    def add(sampler: Any) -> None:
        llama_cpp.llama_sampler_chain_add(chain, sampler)

    add(
        llama_cpp.llama_sampler_init_penalties(
            llama_cpp.llama_vocab_n_tokens(vocab),
            PENALTY_LAST_N,
            s.repeat_penalty,
            s.frequency_penalty,
            s.presence_penalty,
        )
    )
    if s.grammar is not None:
        grammar, root = s.grammar
        add(llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), root.encode()))
    if s.temperature == 0.0:
        add(llama_cpp.llama_sampler_init_greedy())
    else:
        add(llama_cpp.llama_sampler_init_top_k(s.top_k))
        add(llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
        add(llama_cpp.llama_sampler_init_min_p(MIN_P, 1))
        add(llama_cpp.llama_sampler_init_temp(s.temperature))
        seed = s.seed if s.seed is not None else random.getrandbits(32)
        add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain
