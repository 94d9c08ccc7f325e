"""What a session may ask of Whisper besides the language (`ASROptions`), on real
recordings: the languages to detect among, word times, and a vocabulary (in the cut
window and in the usual 30 s windows)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from openlive.audio.pcm import Samples, pcm16_to_float
from openlive.backends.models import prepare_whisper
from openlive.backends.voice import SAMPLE_RATE, ASROptions, Transcript
from openlive.backends.whisper import WhisperASR

pytestmark = pytest.mark.models

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
BECKETT = ["ever", "tried", "ever", "failed", "no", "matter"]
BECKETT += ["try", "again", "fail", "again", "fail", "better"]


@pytest.fixture(scope="module")
def asr(tmp_path_factory: pytest.TempPathFactory) -> WhisperASR:
    return WhisperASR(prepare_whisper(tmp_path_factory.mktemp("models")), threads=2)


def recording(name: str) -> Samples:
    with wave.open(str(SPEECH / name)) as w:
        return pcm16_to_float(w.readframes(w.getnframes()))


def beckett() -> Samples:
    return recording("beckett.wav")


def spoken(transcript: Transcript) -> list[str]:
    return [re.sub(r"\W", "", w.text).lower() for w in transcript.words]


def test_word_times_are_in_order_inside_the_audio_and_change_no_text(asr: WhisperASR) -> None:
    x = beckett()
    plain = asr.transcribe(x, "en")
    timed = asr.transcribe(x, "en", ASROptions(word_times=True))
    assert not plain.words
    assert timed.text == plain.text
    assert spoken(timed) == BECKETT
    assert " ".join(w.text for w in timed.words) == timed.text  # punctuation stays on its word
    times = [t for w in timed.words for t in (w.start, w.end)]
    assert times == sorted(times) and times[0] >= 0.0 and times[-1] <= len(x) / SAMPLE_RATE
    # inside the speech the attention's times hold: "matter" is said from 3.8 s to 4.1 s
    matter = timed.words[BECKETT.index("matter")]
    assert matter.start >= 3.6 and matter.end <= 4.3, timed.words


def test_detection_chooses_among_the_session_s_languages(asr: WhisperASR) -> None:
    """English speech, detected among German and French (a language the model does not
    know is no restriction): the likelier of those two, with its share of their
    probability."""
    options = ASROptions(languages=frozenset({"de", "fr", "xx"}))
    neither = asr.transcribe(beckett(), None, options)
    assert neither.language in {"de", "fr"} and 0.5 <= neither.language_probability <= 1.0


def test_past_the_cut_window_the_options_hold_too(asr: WhisperASR) -> None:
    """Over 28 s: the usual windows, with detection among the languages (English, with
    nearly all the probability of the two) and word times of each window placed in the
    whole audio. (The two recordings alternate: one said three times over would compress
    like a loop and be decoded again, at random.)"""
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    clone = recording("clone-test.wav")
    long = np.concatenate([beckett(), gap, clone, gap, beckett(), gap, clone])
    heard = asr.transcribe(
        long, None, ASROptions(languages=frozenset({"en", "de"}), word_times=True)
    )
    assert heard.language == "en" and heard.language_probability > 0.9
    assert len(heard.words) >= 40, heard.text
    starts = [w.start for w in heard.words]
    assert starts == sorted(starts)
    assert starts[-1] > 28.0 and heard.words[-1].end <= len(long) / SAMPLE_RATE


@pytest.mark.parametrize(
    ("name", "language"), [("cafe-es-espeak.wav", "es"), ("beckett.wav", "en")]
)
def test_detection_alone_on_the_first_second_and_a_half(
    asr: WhisperASR, name: str, language: str
) -> None:
    """What the pipeline does while the user is still speaking: the language of the
    speech so far, on the full window, without a transcript."""
    speech = recording(name)[: SAMPLE_RATE * 3 // 2]
    code, p = asr.detect_language(speech) or ("", 0)
    assert code == language and p >= 0.6
    code, p = asr.detect_language(speech, ASROptions(languages=frozenset({"de", "fr"}))) or ("", 0)
    assert code in {"de", "fr"} and 0.5 <= p <= 1.0
    assert asr.detect_language(np.zeros(0, dtype=np.float32)) is None
