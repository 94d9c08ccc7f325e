"""The interfaces of the voice backends (VAD, ASR, TTS), and the values they exchange.

Like the LLM (`base.py`), each is a model object loaded once per process and shared by
every session. All three are synchronous and CPU-bound: the pipeline calls them on its
own worker threads, never on the event loop. What a session owns is small: a
`VADStream` (the model's recurrent state for one audio stream); ASR and TTS calls keep
no state between calls.

Audio is `openlive.audio.pcm.Samples` (mono float32 in [-1, 1)) at fixed rates: the
VAD and ASR take 16 kHz (`SAMPLE_RATE`), and TTS gives 24 kHz (`OUTPUT_RATE`, what the
Live API sends), so that rate conversion happens once, at the edge of the pipeline.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from openlive.audio.pcm import OUTPUT_RATE, Samples

__all__ = [
    "ASR",
    "OUTPUT_RATE",
    "SAMPLE_RATE",
    "TTS",
    "VAD",
    "ASRCapabilities",
    "ASROptions",
    "Delivery",
    "TTSCapabilities",
    "Transcript",
    "TextTurnModel",
    "TurnModel",
    "VADStream",
    "VoiceModelError",
    "Word",
]

SAMPLE_RATE: Final = 16000
"""The rate of the audio that the VAD and ASR take."""


class VoiceModelError(Exception):
    """A voice model is missing, damaged, or could not be loaded."""


# --- VAD ---------------------------------------------------------------------------


class VADStream(abc.ABC):
    """One audio stream's view of a shared VAD model: it holds the per-stream state.

    Not thread-safe: feed one stream from one thread at a time (different streams may
    run on different threads at once).
    """

    @abc.abstractmethod
    def probability(self, frame: Samples) -> float:
        """The probability, in [0, 1], that `frame` holds speech.

        `frame` is exactly `VAD.frame_samples` samples at `SAMPLE_RATE`, the next frame
        of the stream (the model looks back across frames). Raises `ValueError` on a
        frame of another length or shape.
        """

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the stream's past: the next frame is treated as the start of a stream."""


class VAD(abc.ABC):
    """A voice activity detector, scoring fixed-size frames of 16 kHz audio."""

    name: str
    frame_samples: int
    """The length of the frames that `VADStream.probability` takes."""

    @abc.abstractmethod
    def stream(self) -> VADStream:
        """Open the state of a new audio stream (one per session, or per input)."""

    def probabilities(self, streams: Sequence[VADStream], frames: Samples) -> list[float]:
        """The next frame of each of `streams` (row i of `frames` for stream i), scored
        in one call where the model takes a batch; this default scores them in turn.
        The streams must be this model's, each at most once."""
        return [stream.probability(frame) for stream, frame in zip(streams, frames, strict=True)]


class TurnModel(abc.ABC):
    """Whether a turn is finished, judged from its audio (a learned end of turn)."""

    name: str

    @abc.abstractmethod
    def probability(self, audio: Samples) -> float:
        """The probability, in [0, 1], that the speaker has finished: `audio` is the
        turn at `SAMPLE_RATE`, from before its speech to now (the pause so far
        included). Thread-safe."""


class TextTurnModel(abc.ABC):
    """Whether a turn is finished, judged from its words: a language model's reading."""

    name: str

    @abc.abstractmethod
    def probability(self, text: str) -> float:
        """The probability, in [0, 1], that a message whose text is `text` (its final
        punctuation disregarded) ends there. Thread-safe."""


# --- ASR ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ASRCapabilities:
    streaming: bool = False
    """Whether the model transcribes incrementally; if not, it is given whole utterances
    (the pipeline segments them with the VAD, and may transcribe a pause speculatively)."""
    language_detection: bool = True
    languages: frozenset[str] = frozenset()
    """The language codes it knows; empty when it does not say."""
    translates_into: frozenset[str] = frozenset()
    """The languages (codes such as ``"en"``) that `ASR.translate` gives; empty: none."""


@dataclass(frozen=True, slots=True)
class ASROptions:
    """What a session asks of recognition beyond the language (`inputAudioTranscription`).
    The defaults ask nothing more."""

    languages: frozenset[str] = frozenset()
    """Codes (``"en"``) to detect the language among; empty: any."""
    vocabulary: tuple[str, ...] = ()
    """Words and phrases to recognize more readily (names, terms)."""
    word_times: bool = False
    """Whether the transcript carries each word's times (`Transcript.words`)."""


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a transcript, and when it was said."""

    text: str
    """As in the transcript's text, with its punctuation; no surrounding spaces."""
    start: float
    end: float
    """Seconds from the start of the audio transcribed."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was said in one utterance."""

    text: str
    """Stripped of surrounding spaces; empty when nothing was recognised."""
    language: str
    """The language code, detected or as given."""
    language_probability: float
    """The detector's confidence; 1.0 when the language was given."""
    duration: float
    """The length of the audio, in seconds."""
    words: tuple[Word, ...] = ()
    """Each word's times, when `ASROptions.word_times` asked for them."""


class ASR(abc.ABC):
    """A speech recogniser for whole utterances of 16 kHz audio."""

    name: str
    capabilities: ASRCapabilities
    remote: bool = False
    """Whether its calls wait on an engine elsewhere rather than on this machine's cores."""

    @abc.abstractmethod
    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        """Transcribe `samples` (mono, `SAMPLE_RATE`).

        `language` is a code such as ``"en"``; None detects it (among
        `options.languages`, if any), which costs time. `options` may also bias the
        recognition toward a vocabulary and ask for word times; a recognizer that cannot
        do one of these does without. Safe to call from several threads; calls may be
        serialised inside the model.
        """

    def detect_language(
        self, samples: Samples, options: ASROptions | None = None
    ) -> tuple[str, float] | None:
        """The language spoken in `samples` (among `options.languages`, if any) and its
        probability, without transcribing them; None where the recognizer detects the
        language only as part of a transcription."""
        return None

    def translate(self, samples: Samples, language: str | None = None) -> Transcript:
        """What `samples` say, in the language of `capabilities.translates_into` (the
        text), with the language spoken (`language`, or detected). Only a recognizer
        that translates has it."""
        raise NotImplementedError(f"{self.name} does not translate")


# --- TTS ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TTSCapabilities:
    sentence_streaming: bool = True
    """Whether `synthesize` yields sentence by sentence, rather than all at the end."""
    languages: frozenset[str] = frozenset()
    """The ``languageCode`` values (``de-DE``) that `synthesize` takes."""
    voices: frozenset[str] = frozenset()
    """The voice names that `synthesize` takes."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A change to how speech is spoken, on top of its voice: an answer's (affective
    dialog), or a session's (a voice derived from a sample). The defaults change nothing."""

    rate: float = 1.0
    """The factor on the speaking rate: above 1 is faster."""
    pitch: float = 1.0
    """The factor on the pitch (the formants stay: the same speaker, raising their voice)."""
    tilt: float = 0.0
    """dB per octave added to the voice's spectral tilt: positive is brighter."""
    formant: float = 1.0
    """The factor on the formant frequencies (the vocal tract): above 1 is shorter."""

    def then(self, other: Delivery | None) -> Delivery:
        """This change with `other` on top of it."""
        if other is None:
            return self
        return Delivery(
            rate=self.rate * other.rate,
            pitch=self.pitch * other.pitch,
            tilt=self.tilt + other.tilt,
            formant=self.formant * other.formant,
        )


class TTS(abc.ABC):
    """A speech synthesiser whose output is already at the Live API's rate."""

    name: str
    capabilities: TTSCapabilities
    remote: bool = False
    """Whether its calls wait on an engine elsewhere rather than on this machine's cores."""
    sample_rate: int
    """The default voice's native rate (before conversion to `OUTPUT_RATE`)."""
    default_voice: str
    """The voice of `synthesize` when it is given none."""

    @abc.abstractmethod
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        length_scale: float | None = None,
        delivery: Delivery | None = None,
    ) -> Iterator[Samples]:
        """Speak `text`, yielding audio at `OUTPUT_RATE` as each piece (a sentence) is
        ready, so that the first can be sent while the rest are synthesised.

        `voice` is one of `capabilities.voices` (in any letter case), None the default;
        `language` one of `capabilities.languages`, None the voice's own language.
        `length_scale` stretches time (above 1 is slower); None is the voice's default.
        `delivery` changes rate, pitch and brightness for this text; a TTS that cannot
        may ignore it.
        The chunks joined are the whole utterance; empty text yields nothing. Raises
        `ValueError` for a voice or language it does not have.
        """
