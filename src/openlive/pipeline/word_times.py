"""Word times made true to the speech: the recognizer's times moved onto the runs of
speech that the VAD heard.

Whisper's word times come from its decoder's attention, and they are good inside a run
of speech but wrong at its edges: the silence before a word is given to that word (on a
recording with pauses, a word after a pause starts up to 0.6 s early) and the first word
of an utterance starts where the audio starts, lead-in included. The VAD knows where
speech is, to a frame (32 ms). So each word is given to the run of speech it overlaps
most (or the nearest), the first word of a run starts where the run starts and the last
ends where it ends, and every word is kept inside its run. Inside a run, the
recognizer's times stay.

Pure functions on plain numbers: no models, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..backends.voice import Word

__all__ = ["MIN_GAP_S", "Run", "fit_words", "speech_runs"]

Run = tuple[float, float]
"""A run of speech: (start, end) in seconds."""

MIN_GAP_S = 0.1
"""A pause shorter than this (a stop consonant's closure) does not split a run."""


def speech_runs(
    scores: Sequence[float],
    start: float,
    frame_s: float,
    *,
    speech: float,
    silence: float,
) -> list[Run]:
    """The runs of speech in consecutive VAD frames: `scores[i]` is the probability of
    speech of the frame that begins at ``start + i * frame_s`` seconds. A run is a
    stretch of frames scored at least `silence` that holds a frame scored at least
    `speech` (the turn detector's thresholds, and its hysteresis); runs closer than
    `MIN_GAP_S` are joined."""
    runs: list[Run] = []
    rise: int | None = None
    voiced = False
    for i, score in enumerate([*scores, 0.0]):  # a silent frame closes the last run
        if score < silence:
            if rise is not None and voiced:
                runs.append((start + rise * frame_s, start + i * frame_s))
            rise, voiced = None, False
            continue
        rise = i if rise is None else rise
        voiced = voiced or score >= speech
    joined: list[Run] = []
    for run in runs:
        if joined and run[0] - joined[-1][1] < MIN_GAP_S:
            joined[-1] = (joined[-1][0], run[1])
        else:
            joined.append(run)
    return joined


def fit_words(words: Sequence[Word], runs: Sequence[Run]) -> tuple[Word, ...]:
    """`words` (in order, times in the same seconds as `runs`) moved onto the runs of
    speech; unchanged where there are no runs."""
    if not runs or not words:
        return tuple(words)
    owners = [_owner(word, runs) for word in words]
    fitted: list[Word] = []
    for i, (word, run) in enumerate(zip(words, owners, strict=True)):
        first = i == 0 or owners[i - 1] != run
        last = i == len(words) - 1 or owners[i + 1] != run
        begin = run[0] if first else min(max(word.start, run[0]), run[1])
        end = run[1] if last else min(max(word.end, run[0]), run[1])
        if fitted and begin < fitted[-1].end:
            begin = fitted[-1].end  # in order, never overlapping
        fitted.append(replace(word, start=begin, end=max(begin, end)))
    return tuple(fitted)


def _owner(word: Word, runs: Sequence[Run]) -> Run:
    """The run `word` overlaps most; if it overlaps none, the nearest."""

    def overlap(run: Run) -> float:
        return min(word.end, run[1]) - max(word.start, run[0])

    best = max(runs, key=overlap)
    if overlap(best) > 0:
        return best
    return min(runs, key=lambda run: max(run[0] - word.end, word.start - run[1]))
