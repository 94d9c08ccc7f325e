"""The prosody of a turn and the mood it is placed in, on human speech transformed to
sound excited (played 25 % faster, so higher, and 6 dB louder) or calm (20 % slower and
lower, 6 dB quieter); and the delivery each mood gets from the voice."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from openlive.audio.resample import StreamingResampler
from openlive.backends.voice import Delivery
from openlive.pipeline.affect import (
    AffectTracker,
    Mood,
    Prosody,
    classify,
    delivery,
    instruction,
    measure,
)

from ..conftest import SPEECH

FILES = ["beckett.wav", "clone-test.wav"]


def speech(name: str) -> np.ndarray:
    samples, rate = sf.read(SPEECH / name, dtype="float32")
    assert rate == 16000
    return np.asarray(samples, dtype=np.float32)


def played(samples: np.ndarray, speed: float, gain_db: float) -> np.ndarray:
    """`samples` played `speed` times faster (pitch and rate together), `gain_db` louder."""
    resampler = StreamingResampler(round(16000 * speed), 16000)
    out = np.concatenate([resampler.process(samples), resampler.flush()])
    return np.clip(out * 10 ** (gain_db / 20), -1, 1).astype(np.float32)


def excited(samples: np.ndarray) -> np.ndarray:
    return played(samples, 1.25, 6.0)


def calm(samples: np.ndarray) -> np.ndarray:
    return played(samples, 0.8, -6.0)


@pytest.mark.parametrize("name", FILES)
def test_the_cues_follow_the_transformations(name: str) -> None:
    plain = measure(speech(name))
    up, down = measure(excited(speech(name))), measure(calm(speech(name)))
    assert plain.voiced > 1.0
    assert up.pitch / plain.pitch == pytest.approx(1.25, rel=0.1)
    assert down.pitch / plain.pitch == pytest.approx(0.8, rel=0.1)
    assert up.energy - plain.energy == pytest.approx(6.0, abs=1.5)
    assert down.energy - plain.energy == pytest.approx(-6.0, abs=1.5)
    assert down.rate < plain.rate


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(
    ("transform", "mood"),
    [(excited, Mood.EXCITED), (calm, Mood.CALM), (lambda s: s, Mood.NEUTRAL)],
)
def test_a_turn_is_placed_against_the_sessions_baseline(name, transform, mood) -> None:  # type: ignore[no-untyped-def]
    tracker = AffectTracker()
    tracker.observe(measure(speech(name)))  # the user's usual voice
    assert tracker.observe(measure(transform(speech(name)))) is mood


def test_silence_and_noise_are_neutral() -> None:
    assert classify(measure(np.zeros(16000, dtype=np.float32))) is Mood.NEUTRAL
    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    assert measure(noise).voiced < 0.5
    assert classify(Prosody(0.0, 0.0, -20.0, 0.0, 0.0)) is Mood.NEUTRAL


def test_the_baseline_is_the_sessions_own() -> None:
    tracker = AffectTracker()
    assert tracker.baseline.pitch is None  # before any turn: the prior, without pitch
    tracker.observe(Prosody(100.0, 8.0, -30.0, 4.0, 2.0))
    tracker.observe(Prosody(400.0, 12.0, -20.0, 5.0, 2.0))
    baseline = tracker.baseline
    assert baseline.pitch == pytest.approx(200.0)  # geometric mean
    assert (baseline.pitch_range, baseline.energy, baseline.rate) == (10.0, -25.0, 4.5)


def test_each_mood_has_its_words_and_delivery() -> None:
    assert instruction(Mood.NEUTRAL) is None and delivery(Mood.NEUTRAL) is None
    assert instruction(None) is None and delivery(None) is None
    assert "excited" in (instruction(Mood.EXCITED) or "")
    assert "calm" in (instruction(Mood.CALM) or "")
    fast, slow = delivery(Mood.EXCITED), delivery(Mood.CALM)
    assert isinstance(fast, Delivery) and isinstance(slow, Delivery)
    assert fast.rate > 1 > slow.rate and fast.pitch > 1 > slow.pitch and fast.tilt > 0 > slow.tilt


def test_the_voice_speaks_each_delivery() -> None:
    """Excited answers come out faster and higher than calm ones, measured on the audio."""
    from openlive.backends.piper import PiperTTS

    tts = PiperTTS(threads=1)
    text = "That is wonderful news, tell me more about it."

    def spoken(d: Delivery | None) -> tuple[float, float]:
        """Length and pitch, each the mean of two takes (the model's delivery varies
        by a few per cent from one take to the next)."""
        takes = [np.concatenate(list(tts.synthesize(text, delivery=d))) for _ in range(2)]
        return (
            float(np.mean([len(a) / 24000 for a in takes])),
            float(np.mean([measure(a, 24000).pitch for a in takes])),
        )

    (plain_s, plain_hz), (fast_s, fast_hz), (slow_s, slow_hz) = (
        spoken(None),
        spoken(delivery(Mood.EXCITED)),
        spoken(delivery(Mood.CALM)),
    )
    assert fast_s < plain_s < slow_s and fast_s < slow_s * 0.85  # 0.76 asked; Piper varies
    assert fast_hz > plain_hz * 1.04 and slow_hz < plain_hz * 0.98  # 1.12 and 0.92 asked
    assert fast_hz > slow_hz * 1.12
    with pytest.raises(ValueError, match="delivery"):
        next(tts.synthesize(text, delivery=Delivery(rate=5.0)))


async def test_a_spoken_answer_passes_its_delivery_to_the_voice() -> None:
    from collections.abc import Iterator
    from typing import Any

    from openlive.backends.base import Sampling
    from openlive.backends.scheduler import Scheduler
    from openlive.backends.voice import TTS
    from openlive.pipeline.context import ChatContext
    from openlive.pipeline.speech import SpeechResponse
    from openlive.protocol.messages import ClientMessage, ServerMessage, Setup
    from openlive.protocol.session import LiveSession, validate_setup
    from tests.fakes import Reply, ScriptedLLM

    class Recorder(TTS):
        name = "recorder"
        sample_rate = 24_000

        def __init__(self) -> None:
            self.deliveries: list[Delivery | None] = []

        def synthesize(self, text: str, **options: Any) -> Iterator[np.ndarray]:
            self.deliveries.append(options.get("delivery"))
            yield np.zeros(240, dtype=np.float32)

    async def send(message: ServerMessage) -> None:
        pass

    live = LiveSession()
    live.receive(ClientMessage(setup=Setup(model="models/m")))
    live.complete_setup(validate_setup(Setup(model="models/m")))
    context = ChatContext()
    context.append_user("Guess what happened!")
    tts, scheduler = Recorder(), Scheduler("test")
    fast = delivery(Mood.EXCITED)
    try:
        response = SpeechResponse(
            live,
            ScriptedLLM(Reply(["Tell me. ", "I am all ears."])).conversation(),
            context,
            Sampling(),
            send,
            tts,
            scheduler,
            transcribe=False,
            delivery=fast,
        )
        await response.run()
    finally:
        scheduler.close()
    assert tts.deliveries == [fast, fast]


@pytest.mark.parametrize("name", FILES)
def test_a_first_turn_in_the_speakers_usual_voice_is_neutral(name: str) -> None:
    assert AffectTracker().observe(measure(speech(name))) is Mood.NEUTRAL
