"""Affective dialog: the user's vocal affect from a turn's prosody, and how to answer it.

`measure` reads a turn's audio (16 kHz mono) for four cues:

- **pitch**: the median fundamental frequency of the voiced frames (`librosa.yin`,
  65 to 500 Hz, median-filtered; a frame is voiced when it is within 30 dB of the
  turn's loudest frame, repeats itself at yin's period, and lies within an octave of
  the turn's median, which drops yin's octave errors);
- **pitch range**: the spread of that pitch, 10th to 90th percentile, in semitones;
- **energy**: the level of the voiced frames, in dB below full scale;
- **rate**: the syllable rhythm, the centroid of the loudness envelope's modulation
  spectrum between 1.5 and 10 Hz (it scales with the speaking rate).

`AffectTracker` keeps the session's running baseline (the mean of the turns heard so
far) and places each turn against it, as a z-like arousal score, into one of three
states: excited (higher, wider, louder, faster than the user's usual), calm (the
opposite), or neutral. Before the first turn there is no baseline: a prior stands in
for it (10 semitones of range, a 4 Hz syllable rhythm, -26 dBFS), with a higher
threshold, and pitch, which depends on the speaker far more than on their mood, is not
used until the session has one.

Each state maps to a line for the LLM's instructions (its words) and a `Delivery` for
the TTS (its voice: faster, higher and brighter for excited; slower, lower, darker for
calm). Nothing here does I/O; the listener calls `measure` on the voice scheduler.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from ..audio.pcm import Samples
from ..backends.voice import Delivery

__all__ = [
    "AffectTracker",
    "Mood",
    "Prosody",
    "classify",
    "delivery",
    "instruction",
    "measure",
    "warm_up",
]

RATE = 16_000
_FRAME = 1024
_HOP = 256
_FMIN = 65.0
_FMAX = 500.0
_PERIODIC = 0.5
"""The autocorrelation at the pitch period above which a frame is voiced."""
_VOICED_DB = 30.0
"""A frame more than this far below the turn's loudest is not speech."""


class Mood(enum.Enum):
    EXCITED = "excited"
    CALM = "calm"
    NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class Prosody:
    """The prosodic cues of one turn."""

    pitch: float
    """Median f0 of the voiced frames, Hz; 0 when nothing was voiced."""
    pitch_range: float
    """10th to 90th percentile of f0, in semitones."""
    energy: float
    """RMS level of the voiced frames, dBFS."""
    rate: float
    """Onsets per second of voiced time."""
    voiced: float
    """Seconds of voiced audio."""


def measure(samples: Samples, rate: int = RATE) -> Prosody:
    """The prosody of one turn of speech."""
    import librosa  # heavy import, only for sessions that use it
    import scipy.signal

    x = np.asarray(samples, dtype=np.float32)
    if len(x) < _FRAME:
        return Prosody(0.0, 0.0, -120.0, 0.0, 0.0)
    rms = librosa.feature.rms(y=x, frame_length=_FRAME, hop_length=_HOP, center=True)[0]
    level = 20 * np.log10(np.maximum(rms, 1e-6))
    f0 = librosa.yin(
        x, fmin=_FMIN, fmax=_FMAX, sr=rate, frame_length=_FRAME, hop_length=_HOP, center=True
    )
    count = min(len(f0), len(level))
    f0, level, rms = scipy.signal.medfilt(f0[:count], 5), level[:count], rms[:count]
    # yin answers every frame: a frame is voiced when it is loud and yin found a period
    # inside its bounds
    voiced = (level > level.max() - _VOICED_DB) & (f0 > _FMIN * 1.05) & (f0 < _FMAX * 0.95)
    voiced &= _periodic(x, f0, rate)
    if voiced.any():  # octave errors: more than an octave from the median is not the voice
        center = np.median(f0[voiced])
        voiced &= (f0 > center / 2) & (f0 < center * 2)
    seconds = float(voiced.sum()) * _HOP / rate
    if seconds < 0.2:
        return Prosody(0.0, 0.0, float(level.max()), 0.0, seconds)
    pitches = f0[voiced]
    low, median, high = np.percentile(pitches, [10, 50, 90])
    energy = 10 * np.log10(np.mean(np.square(rms[voiced])) + 1e-12)
    return Prosody(
        pitch=float(median),
        pitch_range=float(12 * math.log2(high / low)),
        energy=float(energy),
        rate=_syllable_rate(x, rate),
        voiced=seconds,
    )


def _periodic(x: Samples, f0: np.ndarray, rate: int) -> np.ndarray:
    """Whether each frame repeats itself at yin's period (normalized autocorrelation at
    that lag above `_PERIODIC`): yin gives every frame a period, noise included."""
    padded = np.pad(x, _FRAME // 2)
    out = np.zeros(len(f0), dtype=bool)
    for i, hz in enumerate(f0):
        frame = padded[i * _HOP : i * _HOP + _FRAME]
        lag = int(round(rate / hz))
        if len(frame) < _FRAME or lag >= _FRAME // 2:
            continue
        a, b = frame[:-lag], frame[lag:]
        energy = float(np.dot(a, a) * np.dot(b, b))
        out[i] = energy > 0 and float(np.dot(a, b)) / math.sqrt(energy) > _PERIODIC
    return out


def _syllable_rate(x: Samples, rate: int) -> float:
    """The centroid of the loudness envelope's modulation spectrum between 1.5 and 10 Hz:
    the syllable rhythm (about 4 Hz in conversational speech), which scales with the
    speaking rate and, unlike a count of peaks, does not depend on a threshold."""
    hop = rate // 100  # 10 ms
    usable = len(x) // hop * hop
    envelope = np.sqrt(np.mean(np.square(x[:usable].reshape(-1, hop)), axis=1))
    envelope = np.log(envelope + 1e-4)
    envelope -= envelope.mean()
    n = max(1024, 1 << int(len(envelope) - 1).bit_length())
    power = np.abs(np.fft.rfft(envelope * np.hanning(len(envelope)), n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / 100)
    band = (freqs >= 1.5) & (freqs <= 10.0)
    total = power[band].sum()
    return float((freqs[band] * power[band]).sum() / total) if total > 0 else 0.0


def warm_up() -> None:
    """Load what `measure` needs (librosa's first call costs seconds), so that a
    session's first turn does not wait for it."""
    tone = 0.3 * np.sin(2 * np.pi * 150 * np.arange(RATE // 2) / RATE)
    measure(tone.astype(np.float32))


@dataclass(frozen=True, slots=True)
class Baseline:
    pitch: float | None
    """None until the session has been heard: pitch is the speaker's, not the mood's."""
    pitch_range: float
    energy: float
    rate: float


PRIOR = Baseline(pitch=None, pitch_range=10.0, energy=-26.0, rate=4.0)
"""The baseline before the session's first turn: read speech at a usual level."""

# How far each cue must move to count as one unit of arousal.
_SEMITONES_PER_UNIT = 2.0
_RANGE_PER_UNIT = 3.0
_DB_PER_UNIT = 6.0
_RATE_OCTAVES_PER_UNIT = 0.3
THRESHOLD = 0.6
"""Mean arousal units beyond which a turn is excited (or below minus, calm)."""
FIRST_THRESHOLD = 1.2
"""The same against the prior, before the session has a baseline: a stranger's usual
voice is not known, so only a marked departure from read speech counts."""


def arousal(prosody: Prosody, baseline: Baseline) -> float:
    """How much more aroused `prosody` sounds than `baseline`, in rough units."""
    terms = [
        (prosody.pitch_range - baseline.pitch_range) / _RANGE_PER_UNIT,
        (prosody.energy - baseline.energy) / _DB_PER_UNIT,
        math.log2(max(prosody.rate, 0.1) / max(baseline.rate, 0.1)) / _RATE_OCTAVES_PER_UNIT,
    ]
    if baseline.pitch is not None:
        terms.append(12 * math.log2(prosody.pitch / baseline.pitch) / _SEMITONES_PER_UNIT)
    return sum(max(-3.0, min(3.0, t)) for t in terms) / len(terms)


def classify(prosody: Prosody, baseline: Baseline = PRIOR) -> Mood:
    """The mood of a turn against the session's baseline (the prior before any turn)."""
    if prosody.voiced < 0.2 or prosody.pitch <= 0:
        return Mood.NEUTRAL
    score = arousal(prosody, baseline)
    threshold = THRESHOLD if baseline.pitch is not None else FIRST_THRESHOLD
    if score > threshold:
        return Mood.EXCITED
    if score < -threshold:
        return Mood.CALM
    return Mood.NEUTRAL


class AffectTracker:
    """One session's baseline, and the mood of each turn against it."""

    def __init__(self) -> None:
        self._heard: list[Prosody] = []

    @property
    def baseline(self) -> Baseline:
        heard = [p for p in self._heard if p.voiced >= 0.2 and p.pitch > 0]
        if not heard:
            return PRIOR
        return Baseline(
            pitch=math.exp(sum(math.log(p.pitch) for p in heard) / len(heard)),
            pitch_range=sum(p.pitch_range for p in heard) / len(heard),
            energy=sum(p.energy for p in heard) / len(heard),
            rate=sum(p.rate for p in heard) / len(heard),
        )

    def observe(self, prosody: Prosody) -> Mood:
        """The mood of this turn; the turn then joins the baseline."""
        mood = classify(prosody, self.baseline)
        self._heard.append(prosody)
        del self._heard[:-20]
        return mood


_INSTRUCTIONS = {
    Mood.EXCITED: "The user sounds excited: match their energy, briefly and warmly.",
    Mood.CALM: "The user sounds calm and subdued: answer gently, in a calm tone.",
}
_DELIVERIES = {
    Mood.EXCITED: Delivery(rate=1.15, pitch=1.12, tilt=2.0),
    Mood.CALM: Delivery(rate=0.87, pitch=0.92, tilt=-2.0),
}


def instruction(mood: Mood | None) -> str | None:
    """The line added to the LLM's instructions for the answer; None for neutral."""
    return _INSTRUCTIONS.get(mood) if mood is not None else None


def delivery(mood: Mood | None) -> Delivery | None:
    """How the answer is spoken; None: the voice as it is."""
    return _DELIVERIES.get(mood) if mood is not None else None
