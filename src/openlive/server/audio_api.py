"""The node's recognizer and voices as an OpenAI audio API, for other nodes (or any
client of that API) to use as engines.

- ``POST /v1/audio/transcriptions``: a multipart upload (``file``, ``model``, and
  optionally ``language``, ``prompt`` (words to favour: a session's vocabulary),
  ``response_format`` of ``json``, ``text`` or ``verbose_json``, and with it
  ``timestamp_granularities[]`` of ``word`` for the words' times). The file is any
  format FFmpeg reads (PyAV, through faster-whisper), at most 25 MB, as on OpenAI.
- ``POST /v1/audio/speech``: JSON (``model``, ``input`` of at most 4096 characters,
  ``voice`` one of the node's voice names, ``response_format`` ``pcm`` (raw 16-bit mono
  at 24 kHz, as on OpenAI) or ``wav`` (the default here: the encoded formats are not
  made), ``speed`` 0.25 to 4). The audio is streamed sentence by sentence as it is
  synthesized.

Both use the node's own models (``model`` is required, as by the API, and not
otherwise read), on the same scheduler as its sessions, so engine requests and sessions
share the cores by the same priorities. They take the node's API keys, as
``Authorization: Bearer KEY`` (what the OpenAI clients send). Errors have OpenAI's
shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import wave
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from openlive.audio.pcm import OUTPUT_RATE, Samples, float_to_pcm16, pcm16_to_float

from ..backends.scheduler import Priority
from ..backends.voice import SAMPLE_RATE, ASROptions
from ..pipeline.parts import Voice
from .auth import Credential, find_credential

__all__ = ["MAX_INPUT_CHARS", "MAX_UPLOAD_BYTES", "audio_routes"]

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""The largest audio file a transcription takes (OpenAI's limit)."""
MAX_INPUT_CHARS = 4096
"""The longest text a speech request takes (OpenAI's limit)."""
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json")
SPEECH_FORMATS = ("pcm", "wav")


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


def audio_routes(
    voice: Voice | None,
    refuse: Callable[[Credential | None], Response | None],
    served: Counter[str],
) -> list[BaseRoute]:
    """The two routes, on `voice` (None: a node without voice answers 404). `refuse`
    checks a credential; `served` counts the requests answered, by route."""

    async def guarded(
        request: Request, route: str, answer: Callable[[Voice, Request], Any]
    ) -> Response:
        if voice is None:
            return _error(404, "This server has no voice models.")
        if (refusal := refuse(find_credential(request.headers, request.query_params))) is not None:
            return refusal
        try:
            response: Response = await answer(voice, request)
        except _BadRequest as exc:
            return _error(exc.status, exc.message, exc.param)
        served[route] += 1
        return response

    async def transcriptions(request: Request) -> Response:
        return await guarded(request, "transcriptions", _transcribe)

    async def speech(request: Request) -> Response:
        return await guarded(request, "speech", _speak)

    return [
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
    ]


# --- transcriptions ----------------------------------------------------------------


async def _transcribe(voice: Voice, request: Request) -> Response:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 65536:
        raise _BadRequest("The file is larger than 25 MB.", "file", status=413)
    try:
        async with request.form(max_files=1, max_fields=16, max_part_size=MAX_UPLOAD_BYTES) as form:
            upload, model = form.get("file"), form.get("model")
            if not isinstance(upload, UploadFile):
                raise _BadRequest("Missing the audio file.", "file")
            if not isinstance(model, str) or not model:
                raise _BadRequest("Missing model.", "model")
            language = _text_field(form.get("language"))
            prompt = _text_field(form.get("prompt"))
            word_times = "word" in form.getlist("timestamp_granularities[]")
            answer = _text_field(form.get("response_format")) or "json"
            data = await upload.read()
    except (MultiPartException, AssertionError, KeyError) as exc:
        raise _BadRequest(f"Expected a multipart form: {exc}") from exc
    if answer not in TRANSCRIPTION_FORMATS:
        raise _BadRequest(
            f"response_format must be one of {', '.join(TRANSCRIPTION_FORMATS)}.",
            "response_format",
        )
    asr = voice.models.asr
    if language is not None and language not in asr.capabilities.languages:
        raise _BadRequest(f"Unsupported language: {language!r}.", "language")
    samples = await asyncio.to_thread(_decode, data)
    options = ASROptions(vocabulary=(prompt,) if prompt else (), word_times=word_times)
    transcript = await voice.scheduler.run(
        Priority.RECOGNITION, asr.transcribe, samples, language, options
    )
    if answer == "text":
        return PlainTextResponse(transcript.text + "\n")
    body: dict[str, Any] = {"text": transcript.text}
    if answer == "verbose_json":
        body = {
            "task": "transcribe",
            "language": transcript.language,
            "duration": round(transcript.duration, 3),
            "text": transcript.text,
            "segments": [],
        }
        if word_times:
            body["words"] = [
                {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
                for w in transcript.words
            ]
    return JSONResponse(body)


def _text_field(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _decode(data: bytes) -> Samples:
    """An audio file as 16 kHz mono samples (any format FFmpeg reads). A 16 kHz 16-bit
    mono WAV, what `EngineASR` sends, is read as it is, without FFmpeg (about 70 ms
    less for an utterance)."""
    from faster_whisper.audio import decode_audio

    if (plain := _plain_wav(data)) is not None:
        return plain
    try:
        samples: Samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own errors for what it cannot read
        raise _BadRequest("The audio file could not be decoded.", "file") from exc
    if not len(samples):
        raise _BadRequest("The audio file holds no audio.", "file")
    return samples


def _plain_wav(data: bytes) -> Samples | None:
    """The samples of a WAV file already at the recognizer's rate, or None."""
    if not data.startswith(b"RIFF"):
        return None
    try:
        with wave.open(io.BytesIO(data)) as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            if shape != (SAMPLE_RATE, 1, 2) or wav.getcomptype() != "NONE":
                return None
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError):
        return None  # FFmpeg may still read it, or say why not
    return pcm16_to_float(frames[: len(frames) // 2 * 2]) if frames else None


# --- speech ------------------------------------------------------------------------


async def _speak(voice: Voice, request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise _BadRequest("The body must be JSON.") from exc
    if not isinstance(body, dict):
        raise _BadRequest("The body must be a JSON object.")
    text, name, model = body.get("input"), body.get("voice"), body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("Missing model.", "model")
    if not isinstance(text, str) or not text.strip():
        raise _BadRequest("Missing input.", "input")
    if len(text) > MAX_INPUT_CHARS:
        raise _BadRequest(f"input is longer than {MAX_INPUT_CHARS} characters.", "input")
    tts = voice.models.tts
    known = {v.lower(): v for v in tts.capabilities.voices}
    if not isinstance(name, str) or name.lower() not in known:
        raise _BadRequest(f"voice must be one of {', '.join(sorted(known.values()))}.", "voice")
    answer = body.get("response_format", "wav")
    if answer not in SPEECH_FORMATS:
        raise _BadRequest(
            f"response_format {answer!r} is not made here: use pcm or wav.", "response_format"
        )
    speed = body.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4:
        raise _BadRequest("speed must be between 0.25 and 4.", "speed")
    pieces = tts.synthesize(text, voice=known[name.lower()], length_scale=1 / speed)
    media = "audio/pcm" if answer == "pcm" else "audio/wav"
    return StreamingResponse(_streamed(voice, pieces, wav=answer == "wav"), media_type=media)


async def _streamed(voice: Voice, pieces: Iterator[Samples], *, wav: bool) -> AsyncIterator[bytes]:
    """Each sentence's audio as 16-bit PCM as soon as it is synthesized (after a WAV
    header of unknown length, when asked for WAV)."""
    if wav:
        yield _wav_header()
    priority = Priority.FIRST_AUDIO  # what a session elsewhere waits for
    try:
        while (piece := await voice.scheduler.run(priority, next, pieces, None)) is not None:
            priority = Priority.SYNTHESIS
            yield float_to_pcm16(piece)
    finally:
        if (close := getattr(pieces, "close", None)) is not None:
            close()  # a generator stopped early (the client went away)


def _wav_header() -> bytes:
    """A 16-bit mono 24 kHz WAV header whose sizes say "until the end" (0xFFFFFFFF),
    as streamed WAV does."""
    unknown = 0xFFFFFFFF
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", unknown),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, OUTPUT_RATE, OUTPUT_RATE * 2, 2, 16),
            b"data",
            struct.pack("<I", unknown),
        )
    )
