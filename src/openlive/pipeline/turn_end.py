"""Whether a paused turn is finished: how it was said (the turn model's probability,
from the audio) and what was said (the pause's transcript, and where its words end on
one that may go on, the language model's reading of them).

Pure functions of those readings, so that every rule can be tested with plain strings
and numbers; `judge.py` asks the models and `turns.TurnDetector` acts on the verdict.
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "FINISHED",
    "HANGING",
    "MESSAGE_END",
    "OPEN",
    "OPEN_FINISHED",
    "Reading",
    "asks_words",
    "finished",
    "reading",
    "said_finished",
    "words_finished",
]

FINISHED = 0.5
"""The turn model's probability from which audio alone counts as a finished turn."""
OPEN_FINISHED = 0.7
"""The same, for a transcript that ends on one of `OPEN`."""
MESSAGE_END = 0.02
"""The language model's probability that a message ends where its words do, below which
a sentence ending with one of `OPEN` holds the turn (`words_finished`). On 25 sentences
broken off on such a word, from 0.0000 ("I need something that.") to 0.011 ("What I
want to know is."); on 35 whole ones, 0.04 ("Let's go on.") to 0.6, but for five
short answers of a pronoun and a verb, 0.001 to 0.01 ("I know that.", "I will.",
"Please do."), which wait for the limit."""
_ENDS = (".", "?", "!", "。", "？", "！")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TRAILING_OFF = ("...", "…", "-", "—", ",", ";", ":")
HANGING = _words(
    """a an the and or but nor because if although though unless whose my your his her its
    our their every each very of to for at by about from into onto with without between
    during through than i we they he she um uh er erm hmm ah mm"""
)
"""English words that a finished utterance rarely ends with, and unfinished speech
often does (a speaker stops to think after them): articles, conjunctions, possessives,
prepositions that are not particles, subject pronouns, fillers. "Who are you talking
to?" waits."""
OPEN = _words(
    """that which who whom where when while until so like as in on after before over
    under is are was were be been being am will would could should can may might must
    shall do does did have has had this these those some any no"""
)
"""English words that an utterance may end with, though more often it goes on ("I know
who you are." "...and then we were"): the audio decides."""
SUBORDINATING = _words("if when whenever unless although though")
"""English words that open a clause which a main clause usually follows ("If it rains
tomorrow, we will stay in."). Whisper puts a full stop where the speaker draws breath
before the main clause ("If it rains tomorrow."), and the turn model hears that breath
as the end of a turn, so such a clause alone holds the turn. ("Because" and "before"
are left out: "Because it's late." and "Before lunch." are common answers.)"""
SUBORDINATE_WORDS = 4
"""The fewest words of a clause alone that hold the turn: "If possible." and "When you
can." are whole answers, and the audio decides them."""
RESTART_WORDS = 3
"""A transcript whose last sentence starts with this many words of the sentence before
it holds the turn (`_restarts`)."""
ECHO_WORDS = 2
"""A transcript whose last phrase ends on this many of its own words said again holds
the turn (`_echoes`)."""
_WORD = re.compile(r"[\w']+")
_SENTENCE = re.compile(r"[^.!?。？！]+[.!?。？！]*")


class Reading(enum.Enum):
    """What a transcript says of whether its speech is finished."""

    UNFINISHED = "unfinished"
    OPEN = "open"
    OPEN_WORD = "open word"
    FINISHED = "finished"


def reading(text: str) -> Reading:
    """How a transcript reads, by the recognizer's own punctuation (learned from how it
    was said: Whisper ends a sentence with a full stop or a question mark, and
    trailing-off speech with an ellipsis or a dash) and its last word:

    - `UNFINISHED`: it trails off, or ends with one of `HANGING`, or has no final
      punctuation and ends with one of `OPEN`, or its last sentence is a clause opened
      by one of `SUBORDINATING`, alone ("If it rains tomorrow."), or its last phrase
      ends by saying again words it said before, or its last sentence begins as the one
      before it did (`_echoes`, `_restarts`: "...to the station to the
      station?");
    - `OPEN` (the audio decides): it has no final punctuation (Whisper leaves it off
      many a short phrase: "Ever tried"), or its last sentence is a short clause
      opened by one of `SUBORDINATING` ("If possible.");
    - `OPEN_WORD` (the language model, then the audio): a sentence that ends with one
      of `OPEN` ("...is that.");
    - `FINISHED`: a sentence that ends with any other word."""
    text = text.strip()
    if not text or text.endswith(_TRAILING_OFF):
        return Reading.UNFINISHED
    words = _WORD.findall(text.lower())
    if not words or words[-1] in HANGING:
        return Reading.UNFINISHED
    if not text.endswith(_ENDS):
        # Whisper leaves the full stop off many a short phrase ("Ever tried"): without
        # one, a last word that may go on holds the turn, any other is the model's.
        return Reading.UNFINISHED if words[-1] in OPEN else Reading.OPEN
    clause = _subordinate_alone(text)
    if clause >= SUBORDINATE_WORDS or _echoes(text) or _restarts(text):
        return Reading.UNFINISHED
    if clause:
        return Reading.OPEN
    return Reading.OPEN_WORD if words[-1] in OPEN else Reading.FINISHED


def _restarts(text: str) -> bool:
    """Whether the last sentence of `text` begins with the first `RESTART_WORDS` words
    of the sentence before it: a speaker who starts again, or Whisper filling the pause
    after a sentence broken off with its start ("Please add some eggs and. Please add
    some eggs.")."""
    sentences = [_WORD.findall(s.lower()) for s in _SENTENCE.findall(text)]
    sentences = [words for words in sentences if words]
    if len(sentences) < 2:
        return False
    before, last = sentences[-2], sentences[-1]
    return len(before) >= RESTART_WORDS and last[:RESTART_WORDS] == before[:RESTART_WORDS]


def _echoes(text: str) -> bool:
    """Whether the last phrase of `text` (from its last punctuation) ends on
    `ECHO_WORDS` of its own words said again, in the same order: how Whisper fills the
    silence after a sentence broken off ("...from the station to" heard as "...from the
    station to the station?")."""
    phrase = re.split(r"[.!?。？！,;:]\s", text.rstrip(".!?。？！"))[-1]
    words = _WORD.findall(phrase.lower())
    tail = words[-ECHO_WORDS:]
    return len(words) > ECHO_WORDS and any(
        words[i : i + ECHO_WORDS] == tail for i in range(len(words) - ECHO_WORDS)
    )


def _subordinate_alone(text: str) -> int:
    """The words of the last sentence of `text` if it is a statement that a
    subordinating word opens and no comma splits (a clause without its main clause),
    else 0."""
    sentences = _SENTENCE.findall(text)
    last = sentences[-1].strip() if sentences else ""
    words = _WORD.findall(last.lower())
    alone = bool(words) and words[0] in SUBORDINATING and last.endswith(".")
    return len(words) if alone and not re.search(r"[,;:]", last) else 0


def said_finished(transcript: str | None) -> bool | None:
    """Whether the words alone decide that a turn is finished (True) or not (False);
    None where the turn model must: `finished` without the model's probability."""
    match None if transcript is None else reading(transcript):
        case Reading.UNFINISHED:
            return False
        case Reading.FINISHED:
            return True
        case _:
            return None


def words_finished(transcript: str | None, message_end: float | None) -> bool | None:
    """`said_finished`, with the language model's probability that the message ends
    where the transcript's words do (`message_end`; None: not asked, see `asks_words`):
    below `MESSAGE_END`, a sentence that ends with one of `OPEN` is unfinished. It
    never ends a turn: the model is as sure that a few short phrases go on ("I know
    that.")."""
    if message_end is not None and message_end < MESSAGE_END and asks_words(transcript):
        return False
    return said_finished(transcript)


def asks_words(transcript: str | None) -> bool:
    """Whether the language model is asked about the transcript (`words_finished`): a
    sentence that ends with one of `OPEN`."""
    return transcript is not None and reading(transcript) is Reading.OPEN_WORD


def finished(probability: float, transcript: str | None) -> bool:
    """Whether a turn is finished, from the turn model's `probability` (how it was said)
    and the pause's `transcript` (what was said; None where there is none). The
    transcript decides where it can: `UNFINISHED` holds the turn open, `FINISHED` ends
    it (on this project's voices the model alone is wrong too often to overrule it:
    `benchmarks/end_of_turn.py`). An `OPEN` or `OPEN_WORD` one is the model's to decide
    (`OPEN_FINISHED`), and so is a turn without a transcript (`FINISHED`)."""
    said = said_finished(transcript)
    if said is not None:
        return said
    return probability >= (FINISHED if transcript is None else OPEN_FINISHED)
