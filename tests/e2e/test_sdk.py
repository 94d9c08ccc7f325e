"""The Python SDK against a real server: conversation, config, usage, models, errors."""

from __future__ import annotations

import pytest
from google.genai import errors, types

from ..conftest import Server
from .live import MODEL, ask, client, prompt_tokens, receive_turn, text_tokens

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

TEXT = {"response_modalities": ["TEXT"], "max_output_tokens": 48}


async def test_usage_metadata_holds_the_tokenizers_real_counts(server: Server) -> None:
    config = {**TEXT, "system_instruction": "You are terse.", "temperature": 0}
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        first = await ask(session, "Name a colour.")
        second = await ask(session, "Name another one.")
    for turn, history in (
        (first, [("system", "You are terse."), ("user", "Name a colour.")]),
        (
            second,
            [
                ("system", "You are terse."),
                ("user", "Name a colour."),
                ("assistant", first.text),
                ("user", "Name another one."),
            ],
        ),
    ):
        assert turn.usage is not None
        assert turn.usage.prompt_token_count == prompt_tokens(history)
        assert turn.usage.response_token_count == text_tokens(turn.text)
        assert turn.usage.total_token_count == (
            turn.usage.prompt_token_count + turn.usage.response_token_count
        )
        assert turn.usage.prompt_tokens_details == [
            types.ModalityTokenCount(
                modality=types.MediaModality.TEXT, token_count=turn.usage.prompt_token_count
            )
        ]


async def test_generation_complete_precedes_turn_complete(server: Server) -> None:
    async with client(server).aio.live.connect(model=MODEL, config=TEXT) as session:
        turn = await ask(session, "Hi!")
    flags = [
        (m.server_content.generation_complete, m.server_content.turn_complete)
        for m in turn.messages
        if m.server_content
    ]
    assert flags[-2:] == [(True, None), (None, True)]
    assert turn.text


async def test_same_seed_same_answer_and_max_output_tokens(server: Server) -> None:
    config = {**TEXT, "temperature": 1.0, "top_k": 50, "seed": 7, "max_output_tokens": 12}
    answers = []
    for _ in range(2):
        async with client(server).aio.live.connect(model=MODEL, config=config) as session:
            turn = await ask(session, "Tell me a story about a dragon.")
            assert turn.usage is not None and turn.usage.response_token_count is not None
            assert 0 < turn.usage.response_token_count <= 12
            answers.append(turn.text)
    assert answers[0] == answers[1]


@pytest.mark.filterwarnings(
    "ignore:Setting `LiveConnectConfig.generation_config`:DeprecationWarning"
)
async def test_stop_sequences_end_the_answer(server: Server) -> None:
    # LiveConnectConfig has no flat stop_sequences; its generation_config passes through
    config = {
        "response_modalities": ["TEXT"],
        "generation_config": {"stop_sequences": [","], "temperature": 0, "max_output_tokens": 64},
    }
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        turn = await ask(session, "List five animals, separated by commas.")
    assert "," not in turn.text


async def test_realtime_text_is_answered(server: Server) -> None:
    async with client(server).aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_realtime_input(text="Hello there!")
        turn = await receive_turn(session)
    assert turn.text and turn.usage is not None


async def test_context_without_turn_complete_is_not_answered(server: Server) -> None:
    config = {**TEXT, "temperature": 0}
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=[
                {"role": "user", "parts": [{"text": "My name is Alice."}]},
                {"role": "model", "parts": [{"text": "Nice to meet you, Alice."}]},
            ],
            turn_complete=False,
        )
        turn = await ask(session, "What is my name?")
    assert turn.usage is not None and turn.usage.prompt_token_count is not None
    assert turn.usage.prompt_token_count > 20  # the context turns are in the prompt
    assert "Alice" in turn.text
    assert server.metric("openlive_llm_replies") >= 1


@pytest.mark.parametrize("version", ["v1", "v1beta", "v1alpha"])
async def test_every_api_version(server: Server, version: str) -> None:
    async with client(server, version=version).aio.live.connect(
        model=MODEL, config=TEXT
    ) as session:
        assert (await ask(session, "Hi")).text


async def test_models_list_and_get(server: Server) -> None:
    live = client(server)
    names = [m.name for m in live.models.list()]
    for name in (
        "gemini-live-2.5-flash-preview",
        "gemini-2.5-flash-preview-native-audio-dialog",
        "gemini-2.5-flash-exp-native-audio-thinking-dialog",
    ):
        assert f"models/{name}" in names
    model = live.models.get(model=MODEL)
    assert model.name == f"models/{MODEL}"
    assert model.supported_actions == ["bidiGenerateContent"]


async def test_wrong_key_closes_with_1008(keyed_server: Server) -> None:
    with pytest.raises(errors.APIError) as info:
        async with client(keyed_server, key="wrong-key").aio.live.connect(model=MODEL, config=TEXT):
            pass
    assert info.value.code == 1008
    assert info.value.details == "API key not valid. Please pass a valid API key."
    async with client(keyed_server, key="right-key").aio.live.connect(
        model=MODEL, config=TEXT
    ) as session:
        assert (await ask(session, "Hi")).text


async def test_unknown_model_closes_with_1008(server: Server) -> None:
    with pytest.raises(errors.APIError) as info:
        async with client(server).aio.live.connect(model="no-such-model", config=TEXT):
            pass
    assert info.value.code == 1008
    assert info.value.details == "Requested entity was not found."


async def test_native_audio_models_refuse_text(server: Server) -> None:
    with pytest.raises(errors.APIError) as info:
        async with client(server).aio.live.connect(
            model="gemini-2.5-flash-preview-native-audio-dialog", config=TEXT
        ):
            pass
    assert info.value.code == 1007
    assert "response modalities (TEXT)" in str(info.value.details)
