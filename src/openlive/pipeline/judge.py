"""A learned end of turn's judgements: whether a paused turn is finished.

The listener asks at the detector's `PauseCheck` (`pause`), and when audio stops
arriving mid-turn (`audio`). A pause is judged by its speculative transcript first
(promoted to a decided turn's priority, since the decision now waits for it; the answer
would wait for it anyway): its words decide where they can (`turn_end.said_finished`;
where they end on a word that may go on, the text turn model is asked whether a
message ends there: `turn_end.words_finished`), and only where they do not does the turn
model's probability count. Both models run on the VAD's lane of the scheduler, so that
no transcription in progress delays them.

The turn model is asked at once, beside Whisper, when the cores have room (`early`:
Whisper decodes a pause on one thread, and the VAD's lane has the other core): its
answer is then there when the transcript is, instead of some 50 ms after it, and is
thrown away where the words decide. Where they have no room (other sessions' replies
are being generated, or their jobs wait), it is asked only where the words do not
decide, after the transcript. The text turn model reads the transcript, so it always
runs after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from ..backends.scheduler import Priority, Scheduler
from ..backends.voice import TextTurnModel, TurnModel
from .intake import RATE, AudioIntake
from .recognition import Utterance
from .turn_end import asks_words, finished, words_finished

__all__ = ["Judge"]

log = logging.getLogger(__name__)


class Judge:
    def __init__(
        self,
        model: TurnModel | None,
        scheduler: Scheduler,
        intake: AudioIntake,
        lead_in: int,
        words: TextTurnModel | None = None,
    ) -> None:
        """`model`: the turn model (None: every turn sounds finished); `lead_in`: samples
        of audio given to it before the turn's speech; `words`: the text turn model
        (None: the words decide by their reading alone)."""
        self._model = model
        self._words = words
        self._scheduler = scheduler
        self._intake = intake
        self._lead_in = lead_in

    async def audio(self, start: int, end: int, silence: float = 0.0) -> float:
        """The turn model's probability that the turn is finished: its speech from
        sample `start` (with the lead-in) to `end`, then `silence` seconds of silence."""
        if self._model is None:
            return 1.0
        ring = self._intake.ring
        audio = ring.window(max(ring.position, start - self._lead_in), end)
        if silence:
            audio = np.concatenate([audio, np.zeros(int(silence * RATE), dtype=np.float32)])
        return await self._scheduler.run(Priority.VAD, self._model.probability, audio)

    async def pause(
        self,
        start: int,
        end: int,
        pause: Utterance | None,
        decide: Callable[[bool], None],
        *,
        early: bool = False,
    ) -> None:
        """Judge whether the turn whose speech runs from `start` to `end` is finished,
        paused there, and give the verdict to `decide` as soon as it is known: by
        `pause`'s transcript (and the text turn model's reading of it), and where its
        words do not decide, the turn model (asked at once if `early`). Returns once
        every job it started has ended."""
        async with asyncio.TaskGroup() as tasks:
            heard = tasks.create_task(self.audio(start, end), name="turn-model") if early else None
            text = await self._transcript(pause)
            verdict = await self._read(text)
            if verdict is None:
                probability = await (heard if heard is not None else self.audio(start, end))
                verdict = finished(probability, text)
            elif heard is not None:
                heard.cancel()  # dropped if still queued; a running job ends on its own
            decide(verdict)

    async def _transcript(self, pause: Utterance | None) -> str | None:
        """The pause's speculative transcript (None: none, or it failed)."""
        if pause is None or (guess := pause.guess) is None:
            return None
        if pause.ticket is not None:
            pause.ticket.promote(Priority.RECOGNITION)
        await asyncio.wait([guess])  # not cancelled with this task: the turn may use it
        if guess.cancelled() or guess.exception() is not None:
            return None
        return guess.result().text

    async def _read(self, text: str | None) -> bool | None:
        """What the words say of the end of the turn (None: they do not decide)."""
        message_end = None
        if self._words is not None and asks_words(text):
            assert text is not None
            try:
                message_end = await self._scheduler.run(Priority.VAD, self._words.probability, text)
            except Exception:  # it only advises: the turn model decides, as without it
                log.exception("the text turn model failed; the turn model decides")
        return words_finished(text, message_end)
