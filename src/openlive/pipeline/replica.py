"""A voice derived from a sample (`speechConfig.voiceConfig.replicatedVoiceConfig`).

OpenLive cannot clone a voice: Piper's voices are trained models, and the embedded one
has a single speaker, with no speaker embedding to fit to a sample. What it can do is
what its 30 prebuilt voices already do to the bundled voice (`backends/voices.py`):
change its pitch, its vocal tract, its pace and its brightness. A replicated voice is
the session's default voice changed so that these match the sample, approximately:

- **pitch**: the median fundamental frequency of the sample's voiced frames, against
  the default voice's own (both measured by `affect.measure`, on the same sentence
  length of speech);
- **rate**: syllables (peaks of loudness) per second of speech, against the default
  voice's;
- **vocal tract**: the formants follow the pitch by its fourth root, as in the prebuilt
  voices (a voice an octave higher has formants 19 % higher): a sample's formants are
  not measured, since a few seconds of speech do not pin them down;
- **brightness**: the spectral tilt above 1 kHz (dB per octave, fitted to the sample's
  long-term spectrum), against the default voice's.

The result is a `Delivery` that every answer of the session is spoken with (affective
dialog's, if any, on top). The sample itself is `audio/wav`, 16-bit PCM (the SDKs: 24
kHz; any rate from 8 to 192 kHz is taken), mono or mixed down; its first 30 s are used.
The sample is parsed as part of the plan (a bad one closes with 1007 before anything
runs); measuring it, and the default voice once per process, runs on the scheduler.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

import numpy as np

from ..audio.pcm import Samples
from ..audio.resample import resample
from ..backends.scheduler import Priority
from ..backends.voice import OUTPUT_RATE, TTS, Delivery
from ..protocol.errors import InvalidArgument
from ..protocol.messages import ReplicatedVoiceConfig
from .affect import RATE, measure

if TYPE_CHECKING:  # the plan holds a parsed sample: plan.py imports this module
    from .parts import Voice
    from .plan import SessionPlan

__all__ = ["Traits", "derive", "replicate", "sample_of", "traits"]

FIELD: Final = "speech_config.voice_config.replicated_voice_config"
WAV_TYPES: Final = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})
MIN_SECONDS: Final = 1.0
"""The shortest sample taken."""
MAX_SECONDS: Final = 30
"""The part of a longer sample that is measured."""
MIN_VOICED: Final = 0.5
"""Seconds of voiced speech a sample must hold for its pitch to mean something."""
RATE_BOUNDS: Final = (0.7, 1.4)
"""The pace of a derived voice, against the default voice's: a recording's pauses and
hesitations read as slow speech, and a measure taken on a few seconds of another text
is good to about 20 %, so the pace is matched only within these bounds."""
CALIBRATION: Final = (
    "The quick brown fox jumps over the lazy dog. "
    "We were away a year ago, and now we are home again."
)
"""What the default voice says to be measured: ordinary sentences, mostly voiced."""


def sample_of(config: ReplicatedVoiceConfig) -> Samples:
    """The sample's audio at 16 kHz, at most `MAX_SECONDS`; `InvalidArgument` naming the
    field for a sample that is missing, not 16-bit PCM WAV, or too short."""
    mime = (config.mime_type or "audio/wav").split(";")[0].strip().lower()
    if mime not in WAV_TYPES:
        raise InvalidArgument(
            f'Unsupported {FIELD}.mime_type "{mime[:40]}": send audio/wav (16-bit PCM).'
        )
    data = config.voice_sample_audio
    if not data:
        raise InvalidArgument(f"{FIELD}.voice_sample_audio is required.")
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(min(wav.getnframes(), rate * MAX_SECONDS))
    except (wave.Error, EOFError, ValueError) as exc:
        raise InvalidArgument(f"{FIELD}.voice_sample_audio is not a WAV file: {exc}") from exc
    if width != 2:
        raise InvalidArgument(
            f"{FIELD}.voice_sample_audio must be 16-bit PCM, got {8 * width}-bit samples."
        )
    if not 8000 <= rate <= 192_000:
        raise InvalidArgument(
            f"{FIELD}.voice_sample_audio has a rate of {rate} Hz: 8000 to 192000 are taken."
        )
    pcm = np.frombuffer(frames[: len(frames) // (2 * channels) * 2 * channels], "<i2")
    mono = pcm.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0
    if len(mono) < MIN_SECONDS * rate:
        raise InvalidArgument(
            f"{FIELD}.voice_sample_audio is too short: {len(mono) / rate:.1f} s, "
            f"at least {MIN_SECONDS:g} s of speech is needed."
        )
    return resample(mono, rate, RATE)


@dataclass(frozen=True, slots=True)
class Traits:
    """What a voice is matched on."""

    pitch: float
    """Median f0 of the voiced frames, Hz."""
    rate: float
    """Syllables (peaks of loudness) per second of speech."""
    tilt: float
    """Spectral slope from 1 to 6 kHz, dB per octave."""
    voiced: float
    """Seconds of voiced speech the pitch comes from."""


def traits(samples: Samples) -> Traits:
    """The traits of a voice in `samples` (16 kHz)."""
    prosody = measure(samples, RATE)
    return Traits(prosody.pitch, _syllable_rate(samples), _tilt(samples), prosody.voiced)


def _syllable_rate(samples: Samples) -> float:
    """Syllables per second of speech: the peaks of the loudness envelope (10 ms frames,
    smoothed over 50 ms) that stand 4 dB above the dips around them and lie within 25 dB
    of the loudest, per second of frames within 35 dB of it. It follows the pace of one
    text closely; two texts at one pace differ by up to about 20 %."""
    import scipy.signal

    hop = RATE // 100
    count = len(samples) // hop
    if count < 10:
        return 0.0
    frames = np.asarray(samples[: count * hop], dtype=np.float64).reshape(count, hop)
    level = 20 * np.log10(np.sqrt(np.mean(np.square(frames), axis=1)) + 1e-6)
    level = np.convolve(level, np.ones(5) / 5, mode="same")
    top = float(level.max())
    peaks, _ = scipy.signal.find_peaks(level, prominence=4.0, distance=8)
    syllables = int(np.sum(level[peaks] > top - 25))
    speaking = float(np.sum(level > top - 35)) / 100
    return syllables / speaking if speaking > 0 else 0.0


def _tilt(samples: Samples) -> float:
    """The slope of the long-term spectrum from 1 to 6 kHz, in dB per octave: how bright
    the voice is (the louder frames only, so that pauses do not count)."""
    frame = 512
    count = len(samples) // frame
    if count == 0:
        return 0.0
    frames = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    energy = np.mean(np.square(frames), axis=1)
    loud = frames[energy >= np.max(energy) * 10 ** (-30 / 10)]
    power = np.mean(np.abs(np.fft.rfft(loud * np.hanning(frame), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(frame, 1 / RATE)
    band = (freqs >= 1000) & (freqs <= 6000)
    slope = np.polyfit(np.log2(freqs[band]), 10 * np.log10(power[band] + 1e-20), 1)[0]
    return float(slope)


def derive(sample: Traits, reference: Traits, shifted: Traits | None = None) -> Delivery:
    """The change that makes the `reference` voice sound like the `sample`'s speaker,
    within the bounds of a voice style: its pitch, its vocal tract (from the pitch),
    its pace and its brightness.

    Without `shifted`, pace and brightness are matched against the reference as it is;
    `shifted` is the reference spoken with this first estimate, measured: pitch and
    formants move the spectrum and change what the measures read, so the second
    estimate corrects pace and brightness by what the first one got wrong."""
    pitch = _bound(sample.pitch / reference.pitch, 0.5, 3.0)
    rate = sample.rate / reference.rate if sample.rate > 0 and reference.rate > 0 else 1.0
    tilt = sample.tilt - reference.tilt
    if shifted is not None:
        first = derive(sample, reference)
        if sample.rate > 0 and shifted.rate > 0:
            rate = first.rate * sample.rate / shifted.rate
        tilt = first.tilt + sample.tilt - shifted.tilt
    return Delivery(
        rate=_bound(rate, *RATE_BOUNDS),
        pitch=pitch,
        tilt=_bound(tilt, -6.0, 6.0),
        formant=_bound(math.pow(pitch, 0.25), 0.7, 1.5),
    )


def _bound(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


_references: dict[int, Traits] = {}
"""The default voice's traits, measured once per synthesizer (they live as long as the
process)."""


def _spoken(tts: TTS, delivery: Delivery | None = None) -> Traits:
    speech = np.concatenate(list(tts.synthesize(CALIBRATION, delivery=delivery)))
    return traits(resample(speech, OUTPUT_RATE, RATE))


def _derive(tts: TTS, samples: Samples) -> Delivery:
    heard = traits(samples)
    if heard.voiced < MIN_VOICED or heard.pitch <= 0:
        raise InvalidArgument(
            f"{FIELD}.voice_sample_audio holds {heard.voiced:.1f} s of voiced speech: "
            f"at least {MIN_VOICED:g} s is needed to derive a voice from it."
        )
    key = id(tts)
    if key not in _references:
        _references[key] = _spoken(tts)
    reference = _references[key]
    return derive(heard, reference, _spoken(tts, derive(heard, reference)))


async def replicate(plan: SessionPlan, voice: Voice) -> SessionPlan:
    """The plan with its voice derived from its sample (a spoken session's), measured on
    the scheduler; `InvalidArgument` for a sample with too little voiced speech."""
    if plan.voice_sample is None or not plan.speak:
        return plan
    entry = plan.entry
    tts = voice.models.for_model(entry.recognizer, entry.speech).tts
    delivery = await voice.scheduler.run_for(
        tts, Priority.FIRST_AUDIO, _derive, tts, plan.voice_sample
    )
    return replace(plan, delivery=delivery)
