"""What the server tells of the audio it hears, through the official SDK against a real
server: `voiceActivity` at the speech's start and end, word offsets, the language of a
transcript, and a custom vocabulary, on speech streamed at real time."""

from __future__ import annotations

import asyncio
import wave
from typing import Any

import numpy as np
import pytest
from google.genai import types

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float
from openlive.audio.resample import resample

from ..conftest import SPEECH, Server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

VOICE_ACTIVITY_MODEL = "gemini-3.1-flash-live-preview"
RATE = 48_000
"""The rate the recordings are sent at: offsets are in the audio's time, whatever it."""
LEAD_S, GAP_S, TAIL_S = 0.5, 0.5, 0.4
"""Silence before, between and after the recordings (beckett.wav ends with 1.1 s of its
own); the stream then ends with `audioStreamEnd`, which ends the turn in progress."""
SILENCE_MS = 1500
"""The silence that ends a turn: longer than the speaker's pauses between phrases (0.7
to 1.1 s), so that each recording is one turn, and than a stall of the machine."""

BECKETT_PHRASES = [
    (0.320, 1.184),
    (1.888, 2.784),
    (3.552, 4.160),
    (4.928, 5.568),
    (6.656, 7.360),
    (8.160, 8.832),
]
"""Where each two-word phrase of beckett.wav ("Ever tried. Ever failed. No matter. Try
again. Fail again. Fail better.") is spoken, in seconds into the file: Silero's speech
timestamps of the file alone (faster-whisper's `get_speech_timestamps`, threshold 0.5,
100 ms of silence between runs, no padding), which agree with its loudness (the level
rises 15 dB or more within 20 ms of each start)."""
CLONE_SPEECH = (0.512, 4.110)
"""clone-test.wav's speech, measured the same way: it runs to the end of the file."""

WORD_TOLERANCE_S = 0.15
ACTIVITY_TOLERANCE_S = 0.1


def recording(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / name)) as w:
        return pcm16_to_float(w.readframes(w.getnframes()))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(16000 * seconds), dtype=np.float32)


def seconds(offset: str | None) -> float:
    assert offset is not None and offset.endswith("s"), offset
    return float(offset[:-1])


async def stream(session: Any, audio: np.ndarray, rate: int, chunk_s: float = 0.1) -> None:
    """`audio` (float samples at `rate`) sent as PCM in chunks, at real time."""
    step = int(rate * chunk_s)
    for i in range(0, len(audio), step):
        data = float_to_pcm16(audio[i : i + step])
        await session.send_realtime_input(
            audio=types.Blob(data=data, mime_type=f"audio/pcm;rate={rate}")
        )
        await asyncio.sleep(chunk_s)


async def collect(
    session: Any, messages: list[types.LiveServerMessage], done: Any, within: float
) -> None:
    """Read messages into `messages` until `done(messages)`, for at most `within` seconds."""

    async def read() -> None:
        while True:
            async for message in session.receive():
                messages.append(message)
                if done(messages):
                    return

    await asyncio.wait_for(read(), within)


def all_answered(messages: list[types.LiveServerMessage]) -> bool:
    last = messages[-1].server_content
    return len(transcripts(messages)) >= 2 and bool(last and last.turn_complete)


def transcripts(messages: list[types.LiveServerMessage]) -> list[types.Transcription]:
    return [
        m.server_content.input_transcription
        for m in messages
        if m.server_content and m.server_content.input_transcription
    ]


async def test_voice_activity_and_word_offsets_follow_the_recordings(server: Server) -> None:
    """Two recordings, with silence around them, sent at 48 kHz at real time, each one
    turn: `voiceActivity` marks the start and end of each within 100 ms of its speech;
    the words of the first, a quote of six phrases with pauses between them, each start
    or end within 150 ms of their phrase's speech; the transcripts report the language
    as the session named it."""
    beckett, clone = recording("beckett.wav"), recording("clone-test.wav")
    clone_at = LEAD_S + len(beckett) / 16000 + GAP_S
    audio = np.concatenate([silence(LEAD_S), beckett, silence(GAP_S), clone, silence(TAIL_S)])
    config = {
        "response_modalities": ["AUDIO"],
        "max_output_tokens": 4,
        "input_audio_transcription": {"language_codes": ["en-US", "de-DE"], "word_timestamp": True},
        "realtime_input_config": {
            "automatic_activity_detection": {"silence_duration_ms": SILENCE_MS}
        },
    }
    messages: list[types.LiveServerMessage] = []
    async with client(server).aio.live.connect(
        model=VOICE_ACTIVITY_MODEL, config=config
    ) as session:
        # until the answer to the last turn is complete (closing while it is spoken
        # would wait for the socket's close handshake)
        reader = asyncio.create_task(collect(session, messages, all_answered, 60))
        await stream(session, resample(audio, 16000, RATE), RATE)
        await session.send_realtime_input(audio_stream_end=True)
        await reader

    activity = [
        (m.voice_activity.voice_activity_type, seconds(m.voice_activity.audio_offset))
        for m in messages
        if m.voice_activity
    ]
    start, end = types.VoiceActivityType.ACTIVITY_START, types.VoiceActivityType.ACTIVITY_END
    truth = [
        (start, LEAD_S + BECKETT_PHRASES[0][0]),
        (end, LEAD_S + BECKETT_PHRASES[-1][1]),
        (start, clone_at + CLONE_SPEECH[0]),
        (end, clone_at + CLONE_SPEECH[1]),
    ]
    assert [kind for kind, _ in activity] == [kind for kind, _ in truth], activity
    for (_, heard), (_, at) in zip(activity, truth, strict=True):
        assert abs(heard - at) <= ACTIVITY_TOLERANCE_S, (activity, truth)

    quote, said = transcripts(messages)[:2]
    assert quote.language_code == said.language_code == "en-US"
    words = quote.words or []
    assert len(words) == 2 * len(BECKETT_PHRASES), words  # two words a phrase
    for i, (begin, finish) in enumerate(BECKETT_PHRASES):
        first, second = words[2 * i], words[2 * i + 1]
        assert abs(seconds(first.start_offset) - (LEAD_S + begin)) <= WORD_TOLERANCE_S, words
        assert abs(seconds(second.end_offset) - (LEAD_S + finish)) <= WORD_TOLERANCE_S, words
        # the boundary between the two words lies inside the phrase's speech
        inner = (seconds(first.end_offset), seconds(second.start_offset))
        assert LEAD_S + begin < inner[0] <= inner[1] < LEAD_S + finish, words
    assert (quote.start_offset, quote.end_offset) == (words[0].start_offset, words[-1].end_offset)
    others = said.words or []
    assert others and all(
        clone_at + CLONE_SPEECH[0] - WORD_TOLERANCE_S
        <= seconds(w.start_offset)
        <= seconds(w.end_offset)
        <= clone_at + CLONE_SPEECH[1] + WORD_TOLERANCE_S
        for w in others
    ), others


SENTENCE = "Please send the invoice to Siobhan by Friday."
NAME = "Siobhan"


async def test_a_custom_vocabulary_is_recognized(server: Server) -> None:
    """A name Whisper base spells as it sounds ("Shivon") without the vocabulary, and
    right with it (the sentence read by the server's own voice, Piper); on a 2.5 model,
    which sends no `voiceActivity`."""
    from openlive.backends.piper import PiperTTS

    speech = np.concatenate(list(PiperTTS(threads=1).synthesize(SENTENCE)))
    audio = np.concatenate([np.zeros(7200, np.float32), speech, np.zeros(7200, np.float32)])

    async def hear(options: dict[str, Any]) -> list[types.LiveServerMessage]:
        config = {
            "response_modalities": ["TEXT"],
            "max_output_tokens": 4,
            "input_audio_transcription": options,
        }
        messages: list[types.LiveServerMessage] = []
        async with client(server).aio.live.connect(model=MODEL, config=config) as session:
            reader = asyncio.create_task(
                collect(session, messages, lambda ms: bool(transcripts(ms)), 60)
            )
            await stream(session, audio, 24000)
            await session.send_realtime_input(audio_stream_end=True)
            await reader
        return messages

    english = {"language_codes": ["en"]}  # no detection: the two sessions share two cores
    plain, biased = await asyncio.gather(
        hear(english), hear({**english, "custom_vocabulary": [NAME]})
    )
    without, with_ = transcripts(plain)[0], transcripts(biased)[0]
    assert NAME not in (without.text or ""), without.text
    assert NAME in (with_.text or ""), with_.text
    assert without.language_code == with_.language_code == "en"
    assert without.words is None, "word offsets were not asked for"
    assert not any(m.voice_activity for m in plain + biased)
