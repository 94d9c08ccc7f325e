"""A voice derived from a sample (`replicatedVoiceConfig`): the sample's checks, each
with the 1007 it closes with; the arithmetic of matching; and, on the Piper voice, a
sample of one voice giving back about its pitch."""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import numpy as np
import pytest

from openlive.audio.resample import resample
from openlive.backends.catalogue import Catalogue
from openlive.config import LLMSpec
from openlive.pipeline.plan import plan_session
from openlive.pipeline.replica import RATE_BOUNDS, Traits, derive, sample_of
from openlive.protocol.errors import LiveError
from openlive.protocol.messages import ReplicatedVoiceConfig, Setup

FIELD = "speech_config.voice_config.replicated_voice_config"


def wav(samples: np.ndarray, rate: int = 24000, width: int = 2, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        scale = 2 ** (8 * width - 1) - 1
        data = np.repeat(np.clip(samples, -1, 1), channels) * scale
        w.writeframes(data.astype({1: "u1", 2: "<i2", 4: "<i4"}[width]).tobytes())
    return buffer.getvalue()


TONE = (0.3 * np.sin(2 * np.pi * 150 * np.arange(36000) / 24000)).astype(np.float32)


def test_a_sample_is_read_at_16_khz_mono() -> None:
    stereo = sample_of(ReplicatedVoiceConfig(voice_sample_audio=wav(TONE, channels=2)))
    assert len(stereo) == 24000  # 1.5 s
    assert abs(float(np.max(stereo)) - 0.3) < 0.02


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (
            {"mimeType": "audio/mpeg", "voiceSampleAudio": wav(TONE)},
            f'Unsupported {FIELD}.mime_type "audio/mpeg"',
        ),
        ({"mimeType": "audio/wav"}, f"{FIELD}.voice_sample_audio is required."),
        ({"voiceSampleAudio": b"RIFF1234"}, f"{FIELD}.voice_sample_audio is not a WAV file"),
        ({"voiceSampleAudio": wav(TONE, width=4)}, "must be 16-bit PCM, got 32-bit samples."),
        ({"voiceSampleAudio": wav(TONE[:12000])}, "is too short: 0.5 s, at least 1 s"),
    ],
)
def test_a_sample_that_cannot_be_read_is_refused(config: dict[str, Any], reason: str) -> None:
    setup = Setup.model_validate(
        {
            "model": "gemini-live-2.5-flash-preview",
            "generationConfig": {
                "speechConfig": {"voiceConfig": {"replicatedVoiceConfig": config}}
            },
        }
    )
    with pytest.raises(LiveError) as refused:
        plan_session(setup, Catalogue(LLMSpec(), ()), "v1beta", can_speak=True)
    assert refused.value.code == 1007 and reason in refused.value.reason


def test_matching_a_sample() -> None:
    """Pitch by the ratio, the vocal tract by its fourth root; pace and brightness by
    what the measure of the changed voice missed; each within a style's bounds."""
    reference = Traits(pitch=100, rate=4.0, tilt=-9.0, voiced=3)
    sample = Traits(pitch=200, rate=5.0, tilt=-5.0, voiced=3)
    first = derive(sample, reference)
    assert (first.pitch, first.formant) == (2.0, pytest.approx(math.sqrt(math.sqrt(2))))
    assert (first.rate, first.tilt) == (1.25, 4.0)
    # spoken with `first`, the reference measured 4.5 syllables a second and -6 dB/oct
    second = derive(sample, reference, Traits(pitch=205, rate=4.5, tilt=-6.0, voiced=3))
    assert second.pitch == 2.0 and second.rate == pytest.approx(1.25 * 5.0 / 4.5)
    assert second.tilt == pytest.approx(4.0 + 1.0)
    extreme = derive(Traits(pitch=900, rate=20, tilt=30, voiced=3), reference)
    assert (extreme.pitch, extreme.rate, extreme.tilt) == (3.0, RATE_BOUNDS[1], 6.0)
    slow = derive(Traits(pitch=100, rate=1.0, tilt=-9.0, voiced=3), reference)
    assert slow.rate == RATE_BOUNDS[0] and slow.pitch == 1.0


@pytest.mark.models
def test_a_sample_of_a_voice_gives_back_about_its_pitch() -> None:
    """A sample of Kore (the bundled voice raised 1.84 times, see voices.py) derives a
    voice about 1.84 times the bundled one's pitch; too little voiced audio is refused."""
    from openlive.backends.piper import PiperTTS
    from openlive.pipeline.replica import _derive

    tts = PiperTTS(threads=2)
    said = "Hello there, this is a sample of my voice, recorded for you today."
    kore = np.concatenate(list(tts.synthesize(said, voice="Kore")))
    delivery = _derive(tts, resample(kore, 24000, 16000))
    assert abs(delivery.pitch / 1.84 - 1) < 0.1, delivery
    assert delivery.formant > 1.1
    noise = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    with pytest.raises(LiveError, match="voiced speech"):
        _derive(tts, noise)


def test_a_voice_config_names_one_voice() -> None:
    """`voice` is a voice name like `prebuiltVoiceConfig.voiceName`; setting two of the
    three ways is refused."""

    def voice_of(voice_config: dict[str, Any]) -> str | None:
        setup = Setup.model_validate(
            {
                "model": "gemini-live-2.5-flash-preview",
                "generationConfig": {"speechConfig": {"voiceConfig": voice_config}},
            }
        )
        return plan_session(setup, Catalogue(LLMSpec(), ()), "v1beta", can_speak=True).voice

    assert voice_of({"voice": "kore"}) == "Kore"
    with pytest.raises(LiveError, match='Voice name "Sulafat" is not supported'):
        voice_of({"voice": "Sulafat"})  # a native-audio voice, on a half-cascade model
    with pytest.raises(LiveError) as refused:
        voice_of(
            {
                "prebuiltVoiceConfig": {"voiceName": "Kore"},
                "replicatedVoiceConfig": {"voiceSampleAudio": wav(TONE)},
            }
        )
    assert refused.value.reason == (
        "speech_config.voice_config sets prebuilt_voice_config and replicated_voice_config: "
        "set only one of them."
    )
