"""Whisper through faster-whisper (CTranslate2, int8 on the CPU), for whole utterances.

The pipeline segments speech with the VAD and hands each utterance (or a speculative
prefix of one, when a pause begins) to `WhisperASR.transcribe`. So the decoding options
are those of short, already-segmented audio, chosen for latency.

**A window cut to the utterance.** Whisper's encoder is trained on 30 s windows, and
faster-whisper pads every input to 30 s: on two cores that encoder pass alone takes
about 1.3 s, whatever the length of the speech. An utterance of a few seconds is
encoded instead in a window of its own length plus `MARGIN_FRAMES` of padding (as
whisper.cpp's ``audio_ctx`` does): about 0.3 s for 4 s of speech. A window that short
makes Whisper prone to repeating itself, so the decoding keeps its timestamps (which
tell the model where the speech ends) and text said to start after the end of the audio
is dropped; the decoding is capped at a length the speech could hold, and a transcript
that loops (its text compresses too well, or says the same five words twice) or runs to
the cap is decoded again with repetition held back (a penalty of 1.1 on tokens already
said, no 4-gram twice), and if that loops too, the usual way, on the full window.
Utterances longer than the window take the usual way directly.

**Threads.** A small model (base) decodes a cut window on one thread: its steps are
small (a token at a time, on a few seconds of audio), and two threads waiting on each
other made a short sentence's transcript about 10 % slower on two cores (83 ms against
93, median), and left no core to the VAD and the other models meanwhile. A full
window's encoder pass (the language's detection, the usual way) keeps `threads`: on
one thread it took half as long again. CTranslate2 fixes a model's threads when it
loads, so the model is loaded twice (a server's resident memory: about 90 MB more, of
1.4 GB).

**The usual way** (`WhisperModel.transcribe`): greedy decoding, a transcript that loops
decoded again at higher temperatures, timestamps kept (past 30 s, they tell where the
next window starts), no conditioning on earlier text, no VAD filter (the pipeline's VAD
already did that work).

Both keep faster-whisper's no-speech rule: a transcript whose no-speech probability is
high *and* whose decoding is unsure is dropped, which removes most of Whisper's
hallucinated "Thank you." on noise.

**The language.** Giving the language skips detection, which costs an encoder pass over
the full window: the detector is worse on a cut one (on espeak-ng speech of 25
languages, about 18 of 78 sentences right against 24, and sure of a wrong language
about 27 times against 17, Latin above all). `detect_language` makes that pass alone,
so that the pipeline can detect the language while the user is still speaking and
transcribe the turn in it once it ends; it keeps a session's language once it is clear.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from openlive.audio.pcm import Samples

from .models import WHISPER_FILES
from .voice import ASR, SAMPLE_RATE, ASRCapabilities, ASROptions, Transcript, VoiceModelError, Word

__all__ = ["WhisperASR"]

log = logging.getLogger(__name__)

FALLBACK_TEMPERATURES = (0.0, 0.4, 0.8)
"""Decoding temperatures, tried in turn while the transcript loops (``he he he ...``)."""
COMPRESSION_RATIO_LIMIT = 2.4
"""A transcript whose text compresses better than this (zlib) is taken to loop."""
FULL_WINDOW = 3000
"""Whisper's window, in 10 ms feature frames."""
MARGIN_FRAMES = 200
"""Padding after the speech in a cut window (2 s)."""
TOKENS_PER_SECOND = 8
"""The most text tokens a second of speech is taken to hold, in a cut window."""
REPEATED_WORDS = 5
"""A run of this many words said twice marks a cut window's transcript as a loop."""
TIMESTAMP_SECONDS = 0.02
"""The step of Whisper's timestamp tokens."""
SMALL_MODEL_BYTES = 256 * 1024 * 1024
"""A model file up to this size decodes a cut window on one thread (base's is 145 MB)."""
MAX_TOKENS = 448
"""The longest sequence Whisper's decoder takes, prompt included."""
PREPENDED = "\"'“¿([{-"
APPENDED = "\"'.。,，!！?？:：”)]}、"
"""Punctuation that joins the word after it, and the word before it (faster-whisper's)."""


class WhisperASR(ASR):
    """A CTranslate2 Whisper model folder (such as `prepare_whisper` makes), loaded once.

    ``threads`` is CTranslate2's intra-op thread count for a full window, ``short_threads``
    for a cut one (None: one for a model file of at most `SMALL_MODEL_BYTES`, such as
    base, whose steps are small; else ``threads``). Calls from several threads run one
    after the other, in the order they arrive, so that they do not compete for the
    cores; which utterance goes first is the caller's decision.
    """

    def __init__(self, model_dir: Path, threads: int = 2, short_threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        missing = [name for name in WHISPER_FILES if not (self.model_dir / name).is_file()]
        if missing:
            # Checked here because faster-whisper would otherwise reach for the Hub.
            raise VoiceModelError(
                f"not a CTranslate2 Whisper folder: {self.model_dir} lacks {', '.join(missing)}"
            )
        from faster_whisper import WhisperModel  # heavy: CTranslate2, tokenizers, PyAV

        self.name = self.model_dir.name
        self.threads = threads

        def load(threads: int) -> Any:
            return WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                num_workers=1,
                local_files_only=True,
            )

        if short_threads is None:
            small = (self.model_dir / "model.bin").stat().st_size <= SMALL_MODEL_BYTES
            short_threads = 1 if small else threads
        try:
            self._model: Any = load(threads)
            self._short: Any = self._model if short_threads == threads else load(short_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise VoiceModelError(f"cannot load Whisper from {self.model_dir}: {exc}") from exc
        self.capabilities = ASRCapabilities(
            streaming=False,
            language_detection=bool(self._model.model.is_multilingual),
            languages=frozenset(self._model.supported_languages),
            translates_into=frozenset({"en"}) if self._model.model.is_multilingual else frozenset(),
        )
        self._lock = threading.Lock()
        self._hop = int(self._model.feature_extractor.hop_length)

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        return self._decode(samples, language, "transcribe", options or ASROptions())

    def translate(self, samples: Samples, language: str | None = None) -> Transcript:
        """Whisper's own task: what was said, in English (the text of the `Transcript`;
        its language is the one spoken)."""
        return self._decode(samples, language, "translate", ASROptions())

    def detect_language(
        self, samples: Samples, options: ASROptions | None = None
    ) -> tuple[str, float] | None:
        """The language spoken in `samples` (at most a window's worth: their start),
        among `options.languages` if any, and its probability: one encoder pass over
        the full window, about 1.3 s on two cores."""
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        if not self._model.model.is_multilingual or audio.ndim != 1 or len(audio) == 0:
            return None
        with self._lock:
            features = self._model.feature_extractor(audio[: FULL_WINDOW * self._hop])
            frames = min(features.shape[-1], len(audio) // self._hop, FULL_WINDOW)
            return self._detect(features, frames, options or ASROptions())

    def _detect(self, features: Any, frames: int, options: ASROptions) -> tuple[str, float]:
        """The language of the first `frames` of `features`, detected on the full window
        (on a cut one the detector is often wrong, and sure of it)."""
        whole = np.zeros((features.shape[0], FULL_WINDOW), dtype=np.float32)
        whole[:, :frames] = features[:, :frames]
        ranked = self._model.model.detect_language(self._model.encode(whole))[0]
        ranked = [(token[2:-2], p) for token, p in ranked]  # "<|de|>"
        return _among(ranked, self._allowed(options))

    def _decode(
        self, samples: Samples, language: str | None, task: str, options: ASROptions
    ) -> Transcript:
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected a 1-D array of mono samples, got shape {audio.shape}")
        if language is not None and language not in self.capabilities.languages:
            raise ValueError(f"Whisper does not know the language {language!r}")
        duration = len(audio) / SAMPLE_RATE
        if len(audio) == 0:
            return Transcript("", language or "", 1.0 if language else 0.0, 0.0)
        # One transcription at a time, whole: CTranslate2 queues each encode and decode
        # step separately, so two calls at once would interleave, and both finish late.
        with self._lock:
            short = self._cut_window(audio, language, task, options)
            if short is not None:
                return short
            probability = None
            if language is None and self._allowed(options):
                # Detected among the session's languages only (one encoder pass).
                _, _, ranked = self._model.detect_language(audio)
                language, probability = _among(ranked, self._allowed(options))
            segments, info = self._model.transcribe(
                audio,
                language=language,
                task=task,
                hotwords=", ".join(options.vocabulary) or None,
                word_timestamps=options.word_times,
                beam_size=1,
                best_of=1,
                # Greedy first; a transcript that repeats itself (a loop: its text
                # compresses too well) is decoded again, sampled, as Whisper does.
                temperature=FALLBACK_TEMPERATURES,
                compression_ratio_threshold=COMPRESSION_RATIO_LIMIT,
                condition_on_previous_text=False,
                without_timestamps=False,
                vad_filter=False,
            )
            segments = list(segments)
            text = "".join(segment.text for segment in segments).strip()
        words = tuple(
            Word(word.word.strip(), float(word.start), float(word.end))
            for segment in segments
            for word in segment.words or ()
            if word.word.strip()
        )
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(
                info.language_probability if probability is None else probability
            ),
            duration=duration,
            words=words,
        )

    def _allowed(self, options: ASROptions) -> frozenset[str]:
        """The languages detection may choose from: the session's, of those Whisper
        knows; empty: any."""
        if not self._model.model.is_multilingual:
            return frozenset()
        return options.languages & self.capabilities.languages

    def _cut_window(
        self, audio: Samples, language: str | None, task: str, options: ASROptions
    ) -> Transcript | None:
        """Transcribe in a window cut to the audio; None where the usual way must."""
        from faster_whisper.tokenizer import Tokenizer

        features = self._model.feature_extractor(audio)
        frames = min(features.shape[-1], len(audio) // self._hop)
        window = frames + MARGIN_FRAMES
        if window > FULL_WINDOW:
            return None
        probability = 1.0
        if language is None and self._model.model.is_multilingual:
            language, probability = self._detect(features, frames, options)
        segment = np.zeros((features.shape[0], window), dtype=np.float32)
        segment[:, :frames] = features[:, :frames]
        model = self._short
        encoded = model.encode(segment)
        language = language or "en"
        tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task=task,
            language=language,
        )
        seconds = len(audio) / SAMPLE_RATE
        cap = int(10 + TOKENS_PER_SECOND * seconds)
        prompt = _prompt(tokenizer, options.vocabulary, MAX_TOKENS - 2 * cap)
        # Greedy, then, if that loops, greedy with repetition held back; then the
        # usual way.
        for repetition_penalty, no_repeat_ngram_size in ((1.0, 0), (1.1, 4)):
            result = model.model.generate(
                encoded,
                [prompt],
                beam_size=1,
                max_length=min(len(prompt) + 2 * cap, MAX_TOKENS),  # text and timestamps
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                repetition_penalty=repetition_penalty,
                no_repeat_ngram_size=no_repeat_ngram_size,
            )[0]
            # Text tokens, each under the latest timestamp; what starts after the end
            # of the audio is heard in the padding, that is, made up.
            text_ids: list[int] = []
            start = 0.0
            for token in result.sequences_ids[0]:
                if token >= tokenizer.timestamp_begin:
                    start = (token - tokenizer.timestamp_begin) * TIMESTAMP_SECONDS
                elif token < tokenizer.eot and start < seconds - TIMESTAMP_SECONDS:
                    text_ids.append(token)
            text = tokenizer.decode(text_ids).strip()
            if len(text_ids) < cap and not _loops(text):
                break
        else:
            return None  # decode on the whole window
        # faster-whisper's rule: no speech, and unsure about what it heard
        if result.no_speech_prob > 0.6 and result.scores[0] < -1.0:
            text, text_ids = "", []
        words = self._align(tokenizer, text_ids, encoded, frames) if options.word_times else ()
        return Transcript(text, language, float(probability), seconds, words)

    def _align(
        self, tokenizer: Any, text_ids: list[int], encoded: Any, frames: int
    ) -> tuple[Word, ...]:
        """Each word's times, from the cross-attention of the decoder on the encoded
        window (CTranslate2's ``align``, dynamic time warping as in Whisper): about
        30 ms for 4 s of speech. Punctuation joins its word, as in faster-whisper."""
        from faster_whisper.transcribe import merge_punctuations

        if not text_ids:
            return ()
        alignment = self._short.find_alignment(tokenizer, [text_ids], encoded, frames)[0]
        merge_punctuations(alignment, PREPENDED, APPENDED)
        return tuple(
            Word(timing["word"].strip(), float(timing["start"]), float(timing["end"]))
            for timing in alignment
            if timing["word"].strip()
        )


def _prompt(tokenizer: Any, vocabulary: tuple[str, ...], room: int) -> list[int]:
    """The decoder's prompt, at most `room` tokens (what the decoding leaves): the
    session's vocabulary as earlier text (Whisper's ``<|startofprev|>``, as
    faster-whisper's ``hotwords``), then the task's tokens. Text the model believes came
    just before makes its words likelier; a vocabulary too long for the prompt (half the
    decoder's length, as Whisper's earlier text, or less on long speech) keeps its first
    phrases."""
    prompt = list(tokenizer.sot_sequence)
    size = min(MAX_TOKENS // 2 - 1, room - len(prompt) - 1)
    if not vocabulary or size <= 0:
        return prompt
    earlier = tokenizer.encode(" " + ", ".join(vocabulary))[:size]
    return [tokenizer.sot_prev, *earlier, *prompt]


def _among(ranked: list[tuple[str, float]], allowed: frozenset[str]) -> tuple[str, float]:
    """The likeliest language of the detector's `ranked` (code, probability) pairs,
    among `allowed` (empty: any), and its share of the probability of those allowed."""
    if not allowed:
        return ranked[0]
    kept = [(code, p) for code, p in ranked if code in allowed]
    if not kept:
        return ranked[0]
    total = sum(p for _, p in kept)
    code, p = kept[0]
    return code, p / total if total > 0 else 0.0


def _loops(text: str) -> bool:
    """Whether a transcript repeats itself: its text compresses too well, or a run of
    `REPEATED_WORDS` words comes twice (speech seldom says the same five words again;
    a decoder that lost its place often does)."""
    data = text.encode("utf-8")
    if data and len(data) / len(zlib.compress(data)) > COMPRESSION_RATIO_LIMIT:
        return True
    words = re.findall(r"\w+", text.lower())
    runs = [tuple(words[i : i + REPEATED_WORDS]) for i in range(len(words) - REPEATED_WORDS + 1)]
    return len(set(runs)) < len(runs)
