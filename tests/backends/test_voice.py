"""The embedded voice backends on real audio: Silero VAD, Whisper base, Piper.

Each model loads once for the module. The recordings are human speech (see
``tests/fixtures/speech/README.md``); TTS output is checked by ear's stand-in, Whisper.
"""

from __future__ import annotations

import asyncio
import re
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import jiwer
import numpy as np
import pytest

from openlive.audio.pcm import Samples, pcm16_to_float
from openlive.audio.resample import resample
from openlive.backends import models
from openlive.backends.models import Source, prepare_whisper
from openlive.backends.piper import PiperTTS
from openlive.backends.scheduler import Priority, Scheduler
from openlive.backends.silero import FRAME_SAMPLES, SAMPLE_RATE, SileroVAD, VADStream
from openlive.backends.vad_batch import VADBatcher
from openlive.backends.voice import OUTPUT_RATE, VoiceModelError
from openlive.backends.whisper import WhisperASR

pytestmark = pytest.mark.models

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
RECORDINGS = {
    "beckett.wav": "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.",
    "clone-test.wav": "I do, I think that America do it very well.",
}


def load_wav(name: str) -> Samples:
    with wave.open(str(SPEECH / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return pcm16_to_float(w.readframes(w.getnframes()))


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(words(reference), words(hypothesis)))


def frames(x: Samples) -> Iterator[Samples]:
    for i in range(0, len(x) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        yield x[i : i + FRAME_SAMPLES]


def probabilities(stream: VADStream, x: Samples) -> list[float]:
    return [stream.probability(f) for f in frames(x)]


def rms(x: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD.load()


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_whisper(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def asr(whisper_dir: Path) -> WhisperASR:
    return WhisperASR(whisper_dir, threads=2)


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    return PiperTTS()


# --- VAD ---------------------------------------------------------------------------


def test_vad_scores_speech_high_and_pauses_low(vad: SileroVAD) -> None:
    x = load_wav("beckett.wav")
    p = np.array(probabilities(vad.stream(), x))
    voiced = np.array([rms(f) > 0.015 for f in frames(x)])  # above -36 dBFS: 3.3 s of it
    assert voiced.sum() > 100
    assert np.mean(p[voiced] > 0.5) > 0.9
    # The recording opens with 0.3 s of room tone and ends with about 0.5 s of it.
    assert p[:8].max() < 0.2
    assert p[-12:].max() < 0.2
    # And the five pauses between the phrases come out as silence too.
    speaking = p > 0.5
    onsets = np.flatnonzero(speaking[1:] & ~speaking[:-1])
    assert len(onsets) == 6


@pytest.mark.parametrize("std", [0.0, 0.001, 0.01])
def test_vad_ignores_silence_and_low_noise(vad: SileroVAD, std: float) -> None:
    x = (np.random.default_rng(1).standard_normal(3 * SAMPLE_RATE) * std).astype(np.float32)
    assert max(probabilities(vad.stream(), x)) < 0.3


def test_vad_a_click_is_not_speech(vad: SileroVAD) -> None:
    x = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    n = 30 * SAMPLE_RATE // 1000
    burst = np.random.default_rng(2).standard_normal(n) * 0.8 * np.exp(-np.arange(n) / 120)
    x[SAMPLE_RATE : SAMPLE_RATE + n] = np.clip(burst, -1, 1)
    assert sum(p > 0.5 for p in probabilities(vad.stream(), x)) <= 1


def test_vad_streams_are_independent_and_reset(vad: SileroVAD) -> None:
    speech = load_wav("clone-test.wav")[: 64 * FRAME_SAMPLES]
    alone = probabilities(vad.stream(), speech)
    a, b = vad.stream(), vad.stream()
    silence = np.zeros(FRAME_SAMPLES, dtype=np.float32)
    interleaved = []
    for frame in frames(speech):
        interleaved.append(a.probability(frame))
        b.probability(silence)
    assert interleaved == alone
    a.reset()
    assert probabilities(a, speech) == alone


def test_vad_batched_across_streams_gives_each_stream_what_it_gets_alone(
    vad: SileroVAD,
) -> None:
    # Four streams at different points of two recordings, one of them joining late.
    sources = [load_wav("clone-test.wav"), load_wav("beckett.wav")]
    offsets = [0, 17, 30, 5]
    audio = [
        sources[i % 2][o * FRAME_SAMPLES :][: 64 * FRAME_SAMPLES] for i, o in enumerate(offsets)
    ]
    alone = [probabilities(vad.stream(), x) for x in audio]
    streams = [vad.stream() for _ in audio]
    together: list[list[float]] = [[] for _ in audio]
    for k in range(64):
        live = [i for i in range(len(audio)) if k >= (20 if i == 3 else 0)]
        rows = np.stack(
            [audio[i][(k - (20 if i == 3 else 0)) * FRAME_SAMPLES :][:FRAME_SAMPLES] for i in live]
        )
        for i, p in zip(live, vad.probabilities([streams[i] for i in live], rows), strict=True):
            together[i].append(p)
    for i in range(3):
        assert together[i] == pytest.approx(alone[i], abs=1e-5)
    assert together[3] == pytest.approx(alone[3][:44], abs=1e-5)
    assert max(alone[0]) > 0.9  # there was speech to score


async def test_the_batcher_scores_concurrent_requests_in_shared_calls(vad: SileroVAD) -> None:
    scheduler = Scheduler("test")
    batcher = VADBatcher(vad, scheduler)
    speech = load_wav("beckett.wav")[: 64 * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    alone = [vad.stream().probability(f) for f in speech[:1]]
    try:
        gate = threading.Event()
        # Hold the VAD lane, so that ten requests wait together.
        blocker = asyncio.create_task(scheduler.run(Priority.VAD, gate.wait, 5))
        await asyncio.sleep(0.05)
        streams = [vad.stream() for _ in range(10)]
        requests = [asyncio.create_task(batcher.score(s, speech[:3])) for s in streams]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*requests)
        await blocker
    finally:
        scheduler.close()
    assert batcher.batch_sizes == {10: 3}  # three frames each: three calls of ten
    assert all(len(r) == 3 for r in results)
    assert all(r[0] == pytest.approx(alone[0], abs=1e-5) for r in results)


async def test_the_batcher_reports_a_bad_frame_to_its_requester(vad: SileroVAD) -> None:
    scheduler = Scheduler("test")
    try:
        batcher = VADBatcher(vad, scheduler)
        with pytest.raises(ValueError, match="512"):
            await batcher.score(vad.stream(), np.zeros((1, 100), dtype=np.float32))
        good = await batcher.score(vad.stream(), np.zeros((2, FRAME_SAMPLES), dtype=np.float32))
        assert len(good) == 2
    finally:
        scheduler.close()


def test_vad_takes_exactly_one_frame(vad: SileroVAD) -> None:
    stream = vad.stream()
    for bad in (
        np.zeros(FRAME_SAMPLES - 1, dtype=np.float32),
        np.zeros((1, FRAME_SAMPLES), dtype=np.float32),
        np.zeros(1024, dtype=np.float32),
        np.zeros(FRAME_SAMPLES, dtype=np.int16),  # PCM must be scaled first
    ):
        with pytest.raises(ValueError, match="512"):
            stream.probability(bad)
    assert 0.0 <= stream.probability(np.zeros(FRAME_SAMPLES, dtype=np.float64)) <= 1.0


# --- ASR ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", None])
@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_whisper_transcribes_real_speech(asr: WhisperASR, name: str, language: str | None) -> None:
    x = load_wav(name)
    result = asr.transcribe(x, language=language)
    assert wer(RECORDINGS[name], result.text) <= 0.2, result.text
    assert result.text == result.text.strip()
    assert result.language == "en"
    assert result.duration == pytest.approx(len(x) / SAMPLE_RATE)
    if language is None:
        assert 0.5 < result.language_probability <= 1.0
    else:
        assert result.language_probability == 1.0


def test_whisper_speech_longer_than_a_cut_window(asr: WhisperASR) -> None:
    """Past 28 s (the window less its margin), the usual 30 s windows, one after the
    other: the recordings said one after the other, with silence between, all come back."""
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    names = sorted(RECORDINGS) * 3
    x = np.concatenate([np.concatenate([load_wav(name), gap]) for name in names])
    assert len(x) / SAMPLE_RATE > 30
    result = asr.transcribe(x, language="en")
    assert wer(" ".join(RECORDINGS[name] for name in names), result.text) <= 0.2, result.text


def test_whisper_loop_check() -> None:
    from openlive.backends.whisper import _loops

    assert not _loops("Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.")
    assert not _loops("")
    assert _loops("The weather is lovely today. So let us go. The weather is lovely today.")
    assert _loops("he " * 40)


def test_whisper_edges(asr: WhisperASR) -> None:
    assert asr.transcribe(np.zeros(0, dtype=np.float32), "en").text == ""
    assert "en" in asr.capabilities.languages
    with pytest.raises(ValueError, match="language"):
        asr.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), "xx")
    with pytest.raises(VoiceModelError, match="model.bin"):
        WhisperASR(SPEECH)


# --- TTS ---------------------------------------------------------------------------


def test_piper_speaks_sentence_by_sentence_at_24k(tts: PiperTTS) -> None:
    assert tts.sample_rate == 22050
    chunks = list(tts.synthesize("Hello there. How are you today?"))
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.dtype == np.float32
        assert chunk.ndim == 1
        assert rms(chunk) > 0.01
        assert np.abs(chunk).max() <= 1.0
    assert 1.0 < sum(map(len, chunks)) / OUTPUT_RATE < 4.0
    assert list(tts.synthesize("")) == []


def test_piper_length_scale_slows_speech(tts: PiperTTS) -> None:
    text = "This sentence is spoken twice."
    normal = sum(map(len, tts.synthesize(text)))
    slow = sum(map(len, tts.synthesize(text, length_scale=2.0)))
    assert slow > 1.25 * normal  # about 1.75 times: the noise in the durations makes it vary
    with pytest.raises(ValueError, match="length_scale"):
        tts.synthesize(text, length_scale=0)


def test_piper_round_trip_through_whisper(tts: PiperTTS, asr: WhisperASR) -> None:
    text = "The quick brown fox jumps over the lazy dog. It was a sunny morning."
    audio = np.concatenate(list(tts.synthesize(text)))
    result = asr.transcribe(resample(audio, OUTPUT_RATE, SAMPLE_RATE), language="en")
    assert wer(text, result.text) <= 0.15, result.text


# --- Model preparation -----------------------------------------------------------------


def test_prepare_whisper_is_idempotent(whisper_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in whisper_dir.iterdir()}
    hashed: list[Path] = []
    hash_file = models._hash_file

    def counted(path: Path) -> str:
        hashed.append(path)
        return hash_file(path)

    def no_build(*_: object) -> None:
        raise AssertionError("prepared again")

    monkeypatch.setattr(models, "_hash_file", counted)
    monkeypatch.setattr(models, "_build", no_build)
    assert prepare_whisper(whisper_dir.parent) == whisper_dir
    assert hashed == []  # a few stats: no copy and no hashing
    assert {p.name: p.stat().st_mtime_ns for p in whisper_dir.iterdir()} == before
    assert prepare_whisper(whisper_dir.parent, verify=True) == whisper_dir
    assert hashed, "verify=True hashes the files again"


def test_prepare_whisper_repairs_a_truncated_model(tmp_path: Path) -> None:
    folder = prepare_whisper(tmp_path)
    model = folder / "model.bin"
    size = model.stat().st_size
    assert size == sum(s.path.stat().st_size for s in models.whisper_sources()["model.bin"])
    with model.open("r+b") as f:
        f.truncate(size // 2)
    assert prepare_whisper(tmp_path) == folder
    assert model.stat().st_size == size
    assert prepare_whisper(tmp_path, verify=True) == folder
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_prepare_whisper_refuses_a_damaged_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = tmp_path / "model.bin.part1"
    part.write_bytes(b"half of it")
    damaged = {"model.bin": [Source(part, 20, None)]}
    monkeypatch.setattr(models, "whisper_sources", lambda: damaged)
    with pytest.raises(VoiceModelError, match="damaged"):
        prepare_whisper(tmp_path / "cache")
    assert not (tmp_path / "cache" / "whisper-base" / ".verified").exists()
    assert not (tmp_path / "cache" / "whisper-base" / "model.bin").exists()
