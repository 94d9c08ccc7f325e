"""Recognition and speech on engines speaking the OpenAI audio API.

`EngineASR` sends each utterance to ``POST {base_url}/audio/transcriptions`` (a WAV
upload, ``verbose_json`` for the language; a session's vocabulary as the ``prompt``, and
``timestamp_granularities`` of ``word`` when it asks for word times; the API takes one
language, so an engine detects freely among several); `EngineTTS` asks ``POST
{base_url}/audio/speech`` for raw 24 kHz PCM (``response_format="pcm"``, the OpenAI
API's rate and the Live API's) and reads it as the engine streams it. Any engine that
speaks those two routes will do: another OpenLive node (`server/audio_api.py`), or an
OpenAI-compatible speech server.

Both are `remote`: their calls wait on the network, not on this machine's cores, so the
pipeline runs them on threads of their own rather than in the scheduler's queue, where
they would hold the embedded models' work back (`Scheduler.run_for`). An engine that
cannot be reached, times out or answers an error raises `EngineUnavailable`: the
session it served closes with 1011 "unavailable"; the node and its other sessions go
on.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from typing import Any

import openai

from openlive.audio.pcm import OUTPUT_RATE, Samples, float_to_pcm16, pcm16_to_float

from ..config import EngineSpec
from ..protocol.errors import Unavailable
from .openai_compat import TRANSPORT_ERRORS
from .voice import (
    ASR,
    SAMPLE_RATE,
    TTS,
    ASRCapabilities,
    ASROptions,
    Delivery,
    Transcript,
    TTSCapabilities,
    Word,
)
from .voices import BUILTIN_VOICES, DEFAULT_VOICE

__all__ = ["EngineASR", "EngineTTS", "EngineUnavailable", "wav_bytes"]

READ_BYTES = OUTPUT_RATE * 2 // 10
"""Read the engine's speech in pieces of 100 ms."""


class EngineUnavailable(Unavailable):
    """A recognition or speech engine failed a request (down, timed out, an error)."""


def _client(spec: EngineSpec) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=spec.base_url,
        api_key=spec.api_key or "unused",
        timeout=spec.timeout,
        max_retries=1,
    )


def wav_bytes(samples: Samples, rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples as a 16-bit WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(float_to_pcm16(samples))
    return out.getvalue()


class EngineASR(ASR):
    """Whole utterances transcribed by an engine."""

    remote = True

    def __init__(self, spec: EngineSpec) -> None:
        self._spec = spec
        self._client = _client(spec)
        self.name = f"{spec.model} at {spec.base_url}"
        self.capabilities = ASRCapabilities(streaming=False, language_detection=True)

    def transcribe(
        self, samples: Samples, language: str | None = None, options: ASROptions | None = None
    ) -> Transcript:
        options = options or ASROptions()
        extra: dict[str, Any] = {"language": language} if language else {}
        if options.vocabulary:
            extra["prompt"] = ", ".join(options.vocabulary)
        if options.word_times:
            extra["timestamp_granularities"] = ["word"]
        try:
            reply = self._client.audio.transcriptions.create(
                model=self._spec.model,
                file=("speech.wav", wav_bytes(samples), "audio/wav"),
                response_format="verbose_json",
                **extra,
            )
        except TRANSPORT_ERRORS as exc:
            raise EngineUnavailable(f"transcription engine {self.name}: {exc}") from exc
        detected = (getattr(reply, "language", None) or "").lower()
        return Transcript(
            text=reply.text.strip(),
            # OpenAI names the language ("english"); Whisper servers give its code
            language=language or (detected if len(detected) <= 3 else ""),
            language_probability=1.0,
            duration=len(samples) / SAMPLE_RATE,
            words=tuple(
                Word(str(w.word).strip(), float(w.start), float(w.end))
                for w in getattr(reply, "words", None) or ()
                if str(w.word).strip()
            ),
        )


class EngineTTS(TTS):
    """Speech synthesized by an engine, read as it streams."""

    remote = True

    def __init__(self, spec: EngineSpec) -> None:
        self._spec = spec
        self._client = _client(spec)
        self.name = f"{spec.model} at {spec.base_url}"
        self.sample_rate = OUTPUT_RATE
        self.default_voice = DEFAULT_VOICE
        self.capabilities = TTSCapabilities(
            sentence_streaming=True, voices=frozenset(BUILTIN_VOICES)
        )

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        length_scale: float | None = None,
        delivery: Delivery | None = None,
    ) -> Iterator[Samples]:
        """The engine's voice is `spec.voice` if set, else the session's Live voice name.
        `language` is not sent: the OpenAI speech API has no such field (the engine's
        voice decides). `length_scale` and `delivery.rate` become `speed`."""
        if not text.strip():
            return
        speed = (delivery.rate if delivery else 1.0) / (length_scale or 1.0)
        held = b""
        try:
            with self._client.audio.speech.with_streaming_response.create(
                model=self._spec.model,
                voice=self._spec.voice or voice or self.default_voice,
                input=text,
                response_format="pcm",
                speed=min(max(speed, 0.25), 4.0),
            ) as reply:
                for data in reply.iter_bytes(READ_BYTES):
                    data = held + data
                    whole = len(data) // 2 * 2  # a sample may be split across reads
                    held = data[whole:]
                    if whole:
                        yield pcm16_to_float(data[:whole])
        except TRANSPORT_ERRORS as exc:
            raise EngineUnavailable(f"speech engine {self.name}: {exc}") from exc
