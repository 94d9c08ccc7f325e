"""Speculative answers through the SDK against a real server: an answer made during a
pause in the middle of a sentence, then thrown away when the user goes on, leaves no
trace: the turn is the whole sentence, and its usage and the history after it are those
of the same conversation had without speculation (typed instead of spoken)."""

from __future__ import annotations

import asyncio
import time
import wave

import numpy as np
import pytest
from google.genai import types
from google.genai.live import AsyncSession

from ..conftest import SPEECH, Server
from .live import MODEL, client

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

RATE = 16_000
SILENCE_MS = 5000
"""Long enough that the pause mid-sentence, held open while a speculative answer is
made, never ends the turn."""
CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    system_instruction=types.Content(parts=[types.Part(text="Answer in a few words.")]),
    temperature=0,
    seed=1,
    max_output_tokens=6,
    speech_config=types.SpeechConfig(language_code="en-US"),  # no detection: a quick guess
    output_audio_transcription=types.AudioTranscriptionConfig(),
    input_audio_transcription=types.AudioTranscriptionConfig(),
    realtime_input_config=types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(
            silence_duration_ms=SILENCE_MS
        )
    ),
)


def beckett() -> np.ndarray:
    with wave.open(str(SPEECH / "beckett.wav")) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


async def send(session: AsyncSession, samples: np.ndarray) -> None:
    """`samples` at once, in 100 ms messages."""
    for i in range(0, len(samples), RATE // 10):
        await session.send_realtime_input(
            audio=types.Blob(
                data=samples[i : i + RATE // 10].tobytes(), mime_type=f"audio/pcm;rate={RATE}"
            )
        )


async def answer(session: AsyncSession) -> tuple[str, str, types.UsageMetadata | None]:
    """Read one answer to its turnComplete: what was heard of the user, what the model
    said, and the usage."""
    heard, said, usage = "", "", None
    async for message in session.receive():
        content = message.server_content
        if content is not None and content.input_transcription is not None:
            heard += content.input_transcription.text or ""
        if content is not None and content.output_transcription is not None:
            said += content.output_transcription.text or ""
        if content is not None and content.turn_complete:
            usage = message.usage_metadata
            break
    return heard.strip(), said.strip(), usage


def counts(usage: types.UsageMetadata | None) -> tuple[int | None, int | None]:
    assert usage is not None
    return usage.prompt_token_count, usage.response_token_count


async def test_an_answer_thrown_away_mid_sentence_leaves_no_trace(server: Server) -> None:
    audio = beckett()
    # "Ever tried." (0.32-1.18 s), a pause, then "Ever failed." (1.89-2.78 s).
    first, rest = audio[: int(1.5 * RATE)], audio[int(1.5 * RATE) : int(3.0 * RATE)]
    speculated = server.metric("openlive_speculative_answers_total")
    discarded = server.metric("openlive_speculative_answers_discarded_total")
    async with client(server).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await send(session, first)
        # The pause goes on (audio keeps coming) until an answer to "Ever tried." is made.
        silence = np.zeros(RATE // 50, dtype=np.int16)
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and (
            await asyncio.to_thread(server.metric, "openlive_speculative_answers_total")
            == speculated
        ):
            await send(session, silence)
            await asyncio.sleep(0.02)
        made = server.metric("openlive_speculative_answers_total") > speculated
        await send(session, rest)
        await send(session, np.zeros(SILENCE_MS * RATE // 1000 + RATE // 10, dtype=np.int16))
        heard, said, spoken_usage = await answer(session)
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="Thank you.")])
        )
        _, _, later_usage = await answer(session)
    assert made, "no answer was made during the pause (the models had no room?)"
    assert server.metric("openlive_speculative_answers_discarded_total") > discarded
    words = heard.lower()
    assert "tried" in words and "fail" in words, heard

    # The same conversation typed: no audio, so nothing speculative.
    async with client(server).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text=heard)])
        )
        _, typed_said, typed_usage = await answer(session)
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="Thank you.")])
        )
        _, _, typed_later_usage = await answer(session)
    assert said == typed_said
    assert counts(spoken_usage)[0] == counts(typed_usage)[0], "the same prompt"
    # The audio's length (its tokens) varies a little from one synthesis to the next.
    assert abs((counts(spoken_usage)[1] or 0) - (counts(typed_usage)[1] or 0)) <= 3
    assert counts(later_usage)[0] == counts(typed_later_usage)[0], "the same history"
