"""Recognition and speech as services: a node serves its models on the OpenAI audio
API, and another node's sessions use them as engines (`transcription` and `speech` of a
model in the config file). Real servers, the official OpenAI client, human speech."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from google.genai import errors

from openlive.audio.pcm import pcm16_to_float
from openlive.backends.openai_audio import EngineASR, wav_bytes
from openlive.backends.voice import ASROptions
from openlive.config import EngineSpec

from ..conftest import SPEECH, Server, free_port, start_server, stop_server
from .live import MODEL, ask, client
from .test_voice import CLONE, hear, pcm, speak, wer

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("sdk_env")]

SERVED = 'openlive_engine_requests_total{route="%s"}'
SENTENCES = "The weather is nice today. We will go to the park after lunch."


def engines(server: Server, key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.http}/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def node(
    server: Server, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A session node whose model "remote-voice" hears and speaks through the default
    server's engines, and whose "lost-voice" names engines that are not there."""
    gone = f"http://127.0.0.1:{free_port()}/v1"
    config = tmp_path_factory.mktemp("engines") / "openlive.toml"
    config.write_text(
        f"""
[models."remote-voice"]
transcription = {{ base_url = "{server.http}/v1", model = "whisper-1" }}
speech = {{ base_url = "{server.http}/v1", model = "tts-1" }}

[models."lost-voice"]
transcription = {{ base_url = "{gone}", model = "whisper-1", timeout = 5 }}
speech = {{ base_url = "{gone}", model = "tts-1", timeout = 5 }}
"""
    )
    running = start_server(data_dir, "--config", str(config), "--no-warm-up")
    yield running
    stop_server(running)


# --- the engine endpoints, with the OpenAI client ---------------------------------------


def test_a_node_transcribes_with_the_openai_client(server: Server) -> None:
    with (SPEECH / "clone-test.wav").open("rb") as f:
        said = engines(server).audio.transcriptions.create(model="whisper-1", file=f, language="en")
    assert wer(CLONE, said.text) <= 0.3, said.text
    with (SPEECH / "clone-test.wav").open("rb") as f:
        verbose = engines(server).audio.transcriptions.create(
            model="whisper-1", file=f, response_format="verbose_json"
        )
    assert (
        verbose.language == "en"
        and abs(verbose.duration - _seconds(SPEECH / "clone-test.wav")) < 0.01
    )


def test_an_engine_recognizer_passes_a_session_s_options_to_a_node(server: Server) -> None:
    """`EngineASR` sends the vocabulary as `prompt` and asks for word timestamps; the
    node's recognizer takes both, and its words come back in order, inside the audio."""
    audio = pcm16_to_float(pcm("clone-test.wav"))
    asr = EngineASR(EngineSpec(f"{server.http}/v1", "whisper-1", api_key="test-key"))
    heard = asr.transcribe(audio, "en", ASROptions(vocabulary=("America",), word_times=True))
    assert wer(CLONE, heard.text) <= 0.3, heard.text
    assert [w.text for w in heard.words] == heard.text.split(), heard.words
    times = [t for w in heard.words for t in (w.start, w.end)]
    assert times == sorted(times) and times[-1] <= len(audio) / 16000 + 0.01


def test_a_node_speaks_streamed_pcm_that_it_hears_back(server: Server) -> None:
    with engines(server).audio.speech.with_streaming_response.create(
        model="tts-1", voice="Kore", input=SENTENCES, response_format="pcm"
    ) as reply:
        assert reply.headers["content-type"] == "audio/pcm"
        data = b"".join(reply.iter_bytes())
    assert len(data) > 24000 * 2 * 2  # more than two seconds at 24 kHz
    back = engines(server).audio.transcriptions.create(
        model="whisper-1", file=("said.wav", wav_bytes(pcm16_to_float(data), 24000)), language="en"
    )
    assert wer(SENTENCES, back.text) <= 0.15, back.text

    wav = engines(server).audio.speech.create(model="tts-1", voice="Puck", input="Hello there.")
    with wave.open(io.BytesIO(_sized(wav.content))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() > 24000 // 2


@pytest.mark.parametrize(
    ("call", "param", "message"),
    [
        ("speech", "voice", "voice must be one of"),
        ("mp3", "response_format", "'mp3' is not made here: use pcm or wav."),
        ("speed", "speed", "speed must be between 0.25 and 4."),
        ("garbage", "file", "The audio file could not be decoded."),
        ("language", "language", "Unsupported language: 'xx'."),
    ],
)
def test_bad_engine_requests_are_refused_clearly(
    server: Server, call: str, param: str, message: str
) -> None:
    api = engines(server).audio
    with pytest.raises(openai.BadRequestError) as refused:
        if call == "speech":
            api.speech.create(model="tts-1", voice="Nobody", input="Hi")
        elif call == "mp3":
            api.speech.create(model="tts-1", voice="Puck", input="Hi", response_format="mp3")
        elif call == "speed":
            api.speech.create(model="tts-1", voice="Puck", input="Hi", speed=9)
        elif call == "garbage":
            api.transcriptions.create(model="whisper-1", file=("a.wav", b"not audio at all"))
        else:
            with (SPEECH / "clone-test.wav").open("rb") as f:
                api.transcriptions.create(model="whisper-1", file=f, language="xx")
    assert refused.value.status_code == 400
    body = refused.value.body
    assert isinstance(body, dict) and body["param"] == param and message in body["message"]


def test_engine_requests_need_a_key_the_node_takes(keyed_server: Server) -> None:
    with pytest.raises(openai.BadRequestError, match="API key not valid"):
        engines(keyed_server, key="wrong-key").audio.speech.create(
            model="tts-1", voice="Puck", input="Hi"
        )
    said = engines(keyed_server, key="right-key").audio.speech.create(
        model="tts-1", voice="Puck", input="Hi", response_format="pcm"
    )
    assert len(said.content) > 4800


# --- a session node on another node's engines --------------------------------------------


async def test_a_session_hears_and_speaks_through_another_nodes_engines(
    server: Server, node: Server
) -> None:
    heard_before, spoken_before = (
        server.metric(SERVED % "transcriptions"),
        server.metric(SERVED % "speech"),
    )
    remote = await hear(node, pcm("clone-test.wav"), 16000, model="remote-voice")
    here = await hear(node, pcm("clone-test.wav"), 16000, model=MODEL)
    assert remote == here, "the engine must hear what the node's own recognizer hears"
    assert wer(CLONE, " ".join(remote)) <= 0.3, remote
    assert server.metric(SERVED % "transcriptions") > heard_before

    audio, said, _ = await speak(node, "The weather is nice today.", model="remote-voice")
    assert server.metric(SERVED % "speech") > spoken_before
    assert said.strip() and len(audio) > 24000
    back = engines(server).audio.transcriptions.create(
        model="whisper-1", file=("said.wav", wav_bytes(pcm16_to_float(audio), 24000)), language="en"
    )  # what it said is speech: the recognizer reads it back
    assert wer(said, back.text) <= 0.15, (said, back.text)


async def test_an_engine_that_is_down_closes_only_the_sessions_that_need_it(
    node: Server,
) -> None:
    async def text_session() -> str:
        config = {"response_modalities": ["TEXT"], "max_output_tokens": 8}
        async with client(node).aio.live.connect(model=MODEL, config=config) as session:
            return (await ask(session, "Hello")).text

    beside = asyncio.create_task(text_session())  # a session that needs no engine
    with pytest.raises(errors.APIError) as closed:
        await hear(node, pcm("clone-test.wav"), 16000, model="lost-voice")
    assert (closed.value.code, closed.value.details) == (
        1011,
        "The service is currently unavailable.",
    )
    assert "transcription engine whisper-1 at http://127.0.0.1:" in node.logs()
    assert await beside, "the session beside it must be answered"
    assert await text_session()  # and the node goes on
    assert node.process.poll() is None


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _sized(streamed: bytes) -> bytes:
    """A streamed WAV (sizes "until the end") with its real sizes, for `wave`."""
    data = streamed[44:]
    head = bytearray(streamed[:44])
    head[4:8] = (36 + len(data)).to_bytes(4, "little")
    head[40:44] = len(data).to_bytes(4, "little")
    return bytes(head) + data
