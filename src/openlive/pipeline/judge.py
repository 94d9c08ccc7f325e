"""A learned end of turn's judgements: whether a paused turn is finished.

The listener asks at the detector's `PauseCheck` (`pause`), and when audio stops
arriving mid-turn (`audio`). A pause is judged by its speculative transcript first
(promoted to a decided turn's priority, since the decision now waits for it; the answer
would wait for it anyway): its words decide where they can (`turn_end.said_finished`;
where they end on a word that may go on, the text turn model is asked whether a
message ends there: `turn_end.words_finished`), and only where they do not is the turn
model asked. Both models run after the transcript (beside Whisper they would slow the
transcript the answer waits for), on the VAD's lane of the scheduler, so that no
transcription in progress delays them.
"""

from __future__ import annotations

import asyncio
import logging

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

    async def pause(self, start: int, end: int, pause: Utterance | None) -> bool:
        """Whether the turn whose speech runs from `start` to `end` is finished, paused
        there: by `pause`'s transcript (and the text turn model's reading of it), and
        where its words do not decide, the turn model."""
        text = None
        if pause is not None and (guess := pause.guess) is not None:
            if pause.ticket is not None:
                pause.ticket.promote(Priority.RECOGNITION)
            await asyncio.wait([guess])  # not cancelled with this task: the turn may use it
            if not guess.cancelled() and guess.exception() is None:
                text = guess.result().text
        message_end = None
        if self._words is not None and asks_words(text):
            assert text is not None
            try:
                message_end = await self._scheduler.run(Priority.VAD, self._words.probability, text)
            except Exception:  # it only advises: the turn model decides, as without it
                log.exception("the text turn model failed; the turn model decides")
        verdict = words_finished(text, message_end)
        if verdict is None:
            verdict = finished(await self.audio(start, end), text)
        return verdict
