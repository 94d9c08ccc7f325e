"""Proactive audio: whether a spoken turn is for the model at all.

With `proactivity.proactiveAudio`, the model may stay silent when what it heard is not
addressed to it or has nothing to do with its system instruction (people talking in the
room, the television). `decide` judges each transcript with a lexical relevance score,
cheap enough to cost nothing before an answer:

- the utterance's content words (lower case, stop words out, crudely stemmed: "tried"
  and "try", "recipes" and "recipe" meet) are looked up in the vocabulary of the system
  instruction and of the last few turns of the conversation;
- the turn is answered when enough of its content words are found there
  (`MIN_SHARE`, and at least one), or when it speaks to the assistant by a name that
  the instruction gives it;
- an utterance with no content words at all ("hello?", "um, okay") is answered when it
  greets or asks, and not otherwise;
- with no system instruction and no history there is nothing to judge against, and
  every turn is answered.

It is lexical: a relevant question in words the conversation has not used yet ("will it
rain?" to a weather assistant whose instruction says "forecast") is missed.
benchmarks/proactive.py measures the decision rates on a set of relevant and
irrelevant utterances. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HISTORY_TURNS", "MIN_SHARE", "Decision", "content_words", "decide"]

MIN_SHARE = 0.25
"""The share of an utterance's content words that must be on topic."""
HISTORY_TURNS = 6
"""Recent turns whose words count as the topic, besides the system instruction."""


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = _set(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his
    how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more
    most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some
    such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's
    which while who who's whom why why's with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves yes yeah okay ok oh um uh hmm well just
    really like also get got go going gonna want wanna know think thing things something
    anything one two lot now still even maybe right sure please thanks thank tell say
    said will shall may might must us let make made see look way time much many"""
)
_GREETINGS = _set("hello hi hey hiya greetings morning evening afternoon")
_STOP = _STOP | _GREETINGS
_QUESTION = _set("what how why when where who which can could would will is are do does")
_NAMED = re.compile(r"\b(?i:you are|you're|your name is|called|named)\s+([A-Z][a-z]+)")


def _stem(word: str) -> str:
    word = word.split("'")[0]
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    for suffix in ("ing", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The stems of the words of `text` that carry its topic."""
    return [_stem(w) for w in _words(text) if w not in _STOP and len(w) > 1]


@dataclass(frozen=True, slots=True)
class Decision:
    answer: bool
    score: float
    """The share of the utterance's content words that are on topic (1.0: no basis)."""
    reason: str


def decide(utterance: str, instruction: str, history: Sequence[str] = ()) -> Decision:
    """Whether to answer `utterance`, given the system instruction and the recent turns'
    texts (oldest first)."""
    recent = list(history)[-HISTORY_TURNS:]
    vocabulary = set(content_words(instruction)).union(*(content_words(t) for t in recent))
    words = _words(utterance)
    name = _assistant_name(instruction)
    if name is not None and name in words:
        return Decision(True, 1.0, f"addressed by name ({name})")
    if not vocabulary:
        return Decision(True, 1.0, "nothing to judge against")
    content = content_words(utterance)
    if not content:
        asks = bool(words) and (words[0] in _QUESTION or utterance.rstrip().endswith("?"))
        greets = bool(_GREETINGS.intersection(words))
        reason = "a greeting or a question" if greets or asks else "no content words"
        return Decision(greets or asks, 0.0, reason)
    found = sum(1 for w in content if w in vocabulary)
    share = found / len(content)
    answer = found >= 1 and share >= MIN_SHARE
    return Decision(answer, share, f"{found} of {len(content)} content words on topic")


def _assistant_name(instruction: str) -> str | None:
    match = _NAMED.search(instruction)
    if match is None:
        return None
    name = match.group(1).lower()
    return None if name in _STOP or name in ("a", "an", "the") else name
