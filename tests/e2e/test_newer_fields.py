"""The newer fields of the Live API through the official Python SDK, against a real server
with its embedded models: `setupComplete.sessionId`, how each turn ends
(`turnCompleteReason`, `waitingForInput`, `interactionStatus`), `thinkingLevel`,
`historyConfig.initialHistoryInClientContent`, and a function response's `willContinue`
and `parts`; then every one of them that the JavaScript SDK sends or reads, with
`translationConfig`, `replicatedVoiceConfig`, `voiceActivity` and the transcription
options, through it.

Where the model's answer cannot show what it was given, its exact prompt token count
does: the embedded model's own tokenizer and chat template count the history it must
have been asked with."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.genai import errors, types

from openlive.audio.pcm import float_to_pcm16, pcm16_to_float
from openlive.audio.resample import resample
from openlive.pipeline.affect import measure

from ..conftest import SPEECH, Server
from .live import MODEL, client, prompt_tokens, run_js
from .test_affect import COOK, NATIVE, speech
from .test_native import spoken_turn
from .test_translation import words
from .test_voice_activity import ACTIVITY_TOLERANCE_S, CLONE_SPEECH, NAME, SENTENCE, seconds

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

TEXT = {"response_modalities": ["TEXT"], "temperature": 0, "max_output_tokens": 24}
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Get the current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    behavior=types.Behavior.NON_BLOCKING,
)
LEVELS = "gemini-3.1-flash-live-preview"


async def interaction(session: Any) -> list[types.LiveServerMessage]:
    """What the SDK's `receive()` yields: the messages up to a `turnComplete` after which
    the session is idle (`interactionStatus` IDLE)."""
    async with asyncio.timeout(60):
        return [message async for message in session.receive()]


def ending(messages: list[types.LiveServerMessage]) -> types.LiveServerContent:
    content = messages[-1].server_content
    assert content is not None and content.turn_complete, messages[-1]
    return content


def waits_for_the_user(content: types.LiveServerContent) -> bool:
    return bool(
        content.waiting_for_input and content.interaction_status is types.InteractionStatus.IDLE
    )


# --- setupComplete.sessionId ---------------------------------------------------------------


async def test_each_session_has_an_id_and_a_resumed_session_keeps_its_own(server: Server) -> None:
    live = client(server).aio.live
    config = {**TEXT, "session_resumption": types.SessionResumptionConfig()}
    async with live.connect(model=MODEL, config=config) as first:
        update = None
        async for message in first.receive():
            update = message.session_resumption_update
            if update is not None:
                break
        assert update is not None and update.new_handle
        original = first.session_id
    async with live.connect(model=MODEL, config=TEXT) as other:
        assert other.session_id and other.session_id != original
    resume = {**TEXT, "session_resumption": types.SessionResumptionConfig(handle=update.new_handle)}
    async with live.connect(model=MODEL, config=resume) as resumed:
        assert resumed.session_id == original
    assert original is not None and uuid.UUID(original).version == 4


# --- how a turn ends -------------------------------------------------------------------------


async def test_a_turn_says_whether_the_model_waits_for_the_user(server: Server) -> None:
    """A turn cut short by a new one is followed at once by the answer to it: the SDK's
    `receive()`, which runs until the session is idle, reads both."""
    config = {**TEXT, "max_output_tokens": 400}
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "Tell me a very long story about a dragon."}]}
        )
        async for message in session.receive():
            if message.text:
                break  # the story has begun: cut it short with a new turn
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "Stop. What is two plus two?"}]}
        )
        messages = await interaction(session)

    ends = [
        i for i, m in enumerate(messages) if m.server_content and m.server_content.turn_complete
    ]
    assert len(ends) == 2, "the interrupted turn, then the answer, in one interaction"
    stopped, answered = messages[: ends[0] + 1], messages[ends[0] + 1 :]
    assert any(m.server_content and m.server_content.interrupted for m in stopped)
    cut = ending(stopped)
    assert cut.interaction_status is types.InteractionStatus.IN_PROGRESS, "an answer follows"
    assert not cut.waiting_for_input and cut.turn_complete_reason is None
    done = ending(answered)
    assert waits_for_the_user(done) and done.turn_complete_reason is None
    assert answered[-1].usage_metadata is not None and "".join(m.text or "" for m in answered)


async def test_a_spoken_turn_left_unanswered_needs_more_input(server: Server) -> None:
    """Proactive audio: speech off the topic of the system instruction gets no answer."""
    setup = {
        "system_instruction": COOK,
        "proactivity": {"proactive_audio": True},
        "input_audio_transcription": {},
    }
    live = client(server, version="v1alpha").aio.live
    async with live.connect(model=NATIVE, config=setup) as session:
        await session.send_realtime_input(
            audio=types.Blob(data=speech("clone-test.wav"), mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(audio_stream_end=True)
        messages = await interaction(session)
    assert not any(m.server_content and m.server_content.model_turn for m in messages)
    content = ending(messages)
    assert content.turn_complete_reason is types.TurnCompleteReason.NEED_MORE_INPUT
    assert waits_for_the_user(content)


# --- thinkingLevel ---------------------------------------------------------------------------


async def test_a_thinking_level_is_a_budget(server: Server) -> None:
    used = {}
    for level in ("MINIMAL", "LOW"):
        config = {
            "thinking_config": {"thinking_level": level, "include_thoughts": True},
            "temperature": 0,
            "max_output_tokens": 6,
        }
        async with client(server).aio.live.connect(model=LEVELS, config=config) as session:
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "What is two plus three?"}]}
            )
            turn = await spoken_turn(session)
        assert turn.usage is not None and turn.audio > 0
        used[level] = (len(turn.thoughts), turn.usage.thoughts_token_count or 0)
    assert used["MINIMAL"] == (0, 0), "MINIMAL is no thinking"
    parts, tokens = used["LOW"]
    assert parts > 0 and 0 < tokens <= 128 + 4, used  # LOW: 128 tokens, 4 of re-tokenizing


# --- historyConfig.initialHistoryInClientContent ---------------------------------------------


async def test_initial_history_is_answered_by_nothing_and_primes_the_first_turn(
    server: Server,
) -> None:
    config = {**TEXT, "history_config": {"initial_history_in_client_content": True}}
    history = [("user", "My name is Ada and I live in Oslo."), ("assistant", "Hello, Ada.")]
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=[{"role": "user", "parts": [{"text": history[0][1]}]}], turn_complete=False
        )
        await session.send_client_content(
            turns=[{"role": "model", "parts": [{"text": history[1][1]}]}], turn_complete=True
        )
        with pytest.raises(TimeoutError):  # the history is not answered
            await asyncio.wait_for(anext(aiter(session.receive())), 1.0)
        await session.send_realtime_input(text="Where do I live?")
        messages = await interaction(session)
    texts = "".join(m.text or "" for m in messages)
    assert texts, "the first real turn is answered"
    usage = messages[-1].usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == prompt_tokens([*history, ("user", "Where do I live?")])


# --- a function response's willContinue and parts --------------------------------------------


def result_note(name: str, said: str) -> str:
    """How the embedded model is shown a function's result (backends/calling.py)."""
    return f"The function {name} returned: {said}. Answer my question using this result."


async def test_a_call_that_continues_and_the_text_of_its_parts(server: Server) -> None:
    config = {**TEXT, "tools": [types.Tool(function_declarations=[WEATHER])]}
    question = "What's the weather like in Paris?"
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns={"role": "user", "parts": [{"text": question}]})
        called = await interaction(session)
        [call] = [m.tool_call for m in called if m.tool_call is not None]
        [fc] = call.function_calls or []
        assert waits_for_the_user(ending(called)), "the NON_BLOCKING call runs on"

        morning = types.FunctionResponsePart(
            inline_data=types.FunctionResponseBlob(
                mime_type="text/plain", data=b"cloudy in the morning"
            )
        )
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=fc.id,
                name=fc.name,
                response={},
                parts=[morning],
                will_continue=True,
                scheduling=types.FunctionResponseScheduling.SILENT,
            )
        )
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=fc.id, name=fc.name, response={"output": {"sky": "sunny"}}
            )
        )
        answered = await interaction(session)
        # The call has ended: a response for it now is dropped without a word.
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id=fc.id, name=fc.name, response={})
        )
        await session.send_realtime_input(text="Thanks.")
        thanked = await interaction(session)

    calling = f"(calling {fc.name}({json.dumps(fc.args)}))"
    history = [
        ("user", question),
        ("assistant", calling),
        ("user", result_note(fc.name or "", "cloudy in the morning")),
        ("user", result_note(fc.name or "", json.dumps({"sky": "sunny"}))),
    ]
    usage = answered[-1].usage_metadata
    assert usage is not None and usage.prompt_token_count == prompt_tokens(history)
    assert waits_for_the_user(ending(thanked))


async def test_an_image_part_is_refused_by_a_model_that_cannot_see(server: Server) -> None:
    config = {**TEXT, "tools": [types.Tool(function_declarations=[WEATHER])]}
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    with pytest.raises(errors.APIError) as refused:
        async with client(server).aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns={"role": "user", "parts": [{"text": "What's the weather in Rome?"}]}
            )
            [call] = [m.tool_call for m in await interaction(session) if m.tool_call]
            [fc] = call.function_calls or []
            await session.send_tool_response(
                function_responses=types.FunctionResponse(
                    id=fc.id,
                    name=fc.name,
                    response={},
                    parts=[types.FunctionResponsePart.from_bytes(data=png, mime_type="image/png")],
                )
            )
            await interaction(session)
    assert refused.value.code == 1007
    assert str(refused.value.details) == (
        f"Image and video input is not supported by models/{MODEL} on this server: its LLM "
        "cannot see."
    )


# --- the JavaScript SDK ------------------------------------------------------------------


async def test_javascript_sdk_sends_and_reads_the_newer_fields(
    server: Server, tmp_path: Path
) -> None:
    """What `@google/genai` puts on the wire of the newer fields, and reads of them
    (tests/js/newer_fields.mjs, its five sessions at once): each field is judged by what
    the server did with it. (historyConfig is not among them: the JavaScript SDK's
    `LiveConnectConfig` has no such field, so it cannot send it.)"""
    from openlive.backends.piper import PiperTTS

    # the custom vocabulary's sentence, in the server's own voice, as test_voice_activity
    # hears it ("Shivon" without the vocabulary)
    invoice = np.concatenate(list(PiperTTS(threads=1).synthesize(SENTENCE)))
    with wave.open(str(tmp_path / "invoice.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(float_to_pcm16(resample(invoice, 24000, 16000)))
    report = json.loads(
        await run_js(server, "newer_fields.mjs", str(SPEECH), str(tmp_path / "invoice.wav"))
    )

    # willContinue and parts: the SILENT result that continues, given in a text part, is
    # in the history the last result is answered with; without willContinue the call
    # would have ended with it, and the last result been dropped unanswered.
    calling = report["willContinue"]
    assert uuid.UUID(calling["sessionId"]).version == 4
    waiting = {"interactionStatus": "IDLE", "waitingForInput": True}
    assert calling["called"] == waiting, "the NON_BLOCKING call runs on"
    assert calling["answered"] == waiting and calling["answer"].strip()
    name, args = calling["name"], calling["args"]
    history = [
        ("user", "What's the weather like in Paris?"),
        ("assistant", f"(calling {name}({json.dumps(args)}))"),
        ("user", result_note(name, "cloudy in the morning")),
        ("user", result_note(name, json.dumps({"sky": "sunny"}))),
    ]
    assert calling["promptTokenCount"] == prompt_tokens(history)

    # translationConfig: Spanish into English, then English echoed (echoTargetLanguage),
    # heard with the name of the transcription's customVocabulary
    spanish, english = report["translated"]
    assert "café" in spanish["heard"].lower(), spanish
    assert {"coffee", "please"} <= words(spanish["said"]), spanish
    assert not words(spanish["said"]) & {"buenos", "gustaria", "gustaría", "taza", "favor"}
    assert english["said"].strip() == english["heard"].strip(), english
    assert NAME in english["heard"] and {"invoice", "friday"} <= words(english["said"]), english

    # replicatedVoiceConfig: spoken near the sample's pitch (the default voice's is about
    # 90 Hz, the sample's about 200)
    with wave.open(str(SPEECH / "clone-test.wav")) as w:
        sample_hz = measure(pcm16_to_float(w.readframes(w.getnframes())), 16000).pitch
    audio = base64.b64decode(report["voice"])
    assert len(audio) > 24000, "no answer"
    derived_hz = measure(pcm16_to_float(audio), 24000).pitch
    assert abs(derived_hz / sample_hz - 1) < 0.15, (derived_hz, sample_hz)

    # thinkingLevel: MINIMAL is no thinking, LOW a budget of 128 tokens
    low, minimal = report["thinking"]["LOW"], report["thinking"]["MINIMAL"]
    assert minimal["audio"] > 0 and (minimal["thoughts"], minimal["thoughtsTokenCount"]) == (0, 0)
    assert low["audio"] > 0 and low["thoughts"] > 0, low
    assert 0 < low["thoughtsTokenCount"] <= 128 + 4, low  # 4 of re-tokenizing

    # voiceActivity, as the JavaScript SDK hands it over: the message as it came, so its
    # type is the wire's `type` (its declared `voiceActivityType` is never set)
    activity = minimal["voiceActivity"]
    assert [set(a) for a in activity] == [{"type", "audioOffset"}] * 2, activity
    assert [a["type"] for a in activity] == ["ACTIVITY_START", "ACTIVITY_END"], activity
    for a, at in zip(activity, (0.5 + CLONE_SPEECH[0], 0.5 + CLONE_SPEECH[1]), strict=True):
        assert abs(seconds(a["audioOffset"]) - at) <= ACTIVITY_TOLERANCE_S, (activity, at)
    # the transcription options it sends whole: languageCodes, wordTimestamp
    assert minimal["languageCode"] == "en-US" and minimal["words"] > 0, minimal
