"""Warming up: every model run once before the node says it is ready.

The first call into each model costs more than the later ones (onnxruntime and
CTranslate2 plan their kernels, llama.cpp sizes its buffers, Piper loads its phoneme
tables), and without a warm-up the first session after a start pays for all of them: a
first spoken turn about half a second slower than the next. `warm_up` runs a spoken
turn through the models, off the event loop: a sentence synthesized, its audio
resampled to 16 kHz, scored by the VAD (one stream and two at once), recognized and
judged by the turn model, and a short reply from each embedded LLM (alone, then two
side by side). Language detection is left out: it costs its 0.65 to 1.3 s on every
first turn without `languageCode`, not only the first after a start, and would double
the warm-up.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..audio.pcm import OUTPUT_RATE
from ..audio.resample import resample
from ..backends.registry import Backends, VoiceModels
from ..backends.scheduler import Priority
from ..backends.voice import SAMPLE_RATE
from .parts import Voice

__all__ = ["warm_up"]

log = logging.getLogger(__name__)

PHRASE = "Hello, this is a short sentence to warm the models up."


async def warm_up(backends: Backends, voice: Voice | None) -> float:
    """Run each model once; return the seconds it took."""
    started = time.perf_counter()
    if voice is not None:
        await voice.scheduler.run(Priority.RECOGNITION, _voice_turn, voice.models)
    for llm in backends:
        await llm.warm_up()
    took = time.perf_counter() - started
    log.info("models warmed up in %.2f s", took)
    return took


def _voice_turn(models: VoiceModels) -> None:
    audio = np.concatenate(list(models.tts.synthesize(PHRASE)))
    speech = resample(audio, OUTPUT_RATE, SAMPLE_RATE)
    size = models.vad.frame_samples
    frames = speech[: len(speech) // size * size].reshape(-1, size)
    one, two = models.vad.stream(), models.vad.stream()
    for frame in frames[:16]:
        one.probability(frame)
        models.vad.probabilities([one, two], np.stack([frame, frame]))
    for asr in models.all_recognizers():
        asr.transcribe(speech, "en")
    if models.turn is not None:
        models.turn.probability(speech)
