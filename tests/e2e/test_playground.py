"""The playground page in real Chromium (Debian's, driven by Playwright), against a real
server: a recording of human speech as the microphone, the answer's audio observed
where the page plays it (its AudioWorklet), barge-in, a text turn, and a reload that
resumes the session.

The fake microphone plays its file in a loop: speech, then 1.4 s of silence, in which
the answer starts, then the speech again, over the answer.
"""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import ROOT, SPEECH, Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-results"
LONG_ANSWERS = "You are a storyteller. Answer every message with a story of five long sentences."


def wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with wave.open(str(SPEECH / "clone-test.wav")) as clip:
        said = np.frombuffer(clip.readframes(clip.getnframes()), "<i2")
    # The recording's speech ends 0.05 s before its end and starts 0.5 s into it. After
    # 1.4 s of silence it comes again 1.96 s after the speech ended: after the longest
    # a turn is held (1.6 s), and, when the turn ended at once (about 0.3 s), over an
    # answer that started within a second and plays for about two (the barge-in is
    # heard 0.16 s in, 2.1 s after the speech ended).
    silence = np.zeros(22400, "<i2")
    return wav(tmp_path_factory.mktemp("mic") / "speech.wav", np.concatenate([said, silence]))


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wav(tmp_path_factory.mktemp("mic") / "quiet.wav", np.zeros(16000, "<i2"))


def launch(pw: playwright.Playwright, microphone: Path) -> playwright.Browser:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
        ],
    )


@pytest.fixture
def pw() -> Iterator[playwright.Playwright]:
    with playwright.sync_playwright() as running:
        yield running


def open_page(browser: playwright.Browser, server: Server, system: str) -> playwright.Page:
    context = browser.new_context(permissions=["microphone"])
    page = context.new_page()
    page.goto(f"{server.http}/")
    page.wait_for_function("document.querySelector('[name=model]').options.length > 0")
    page.get_by_label("System instruction").fill(system)
    return page


def open_text_page(browser: playwright.Browser, server: Server) -> playwright.Page:
    """The page set for text answers, at temperature 0, not yet started."""
    page = open_page(browser, server, "You are a helpful assistant. Answer briefly.")
    page.get_by_label("Answer in").select_option("TEXT")
    page.get_by_label("Temperature").fill("0")
    return page


def stats(page: playwright.Page) -> dict[str, float]:
    result: dict[str, float] = page.evaluate("window.openlive.stats")
    return result


def wait(page: playwright.Page, condition: str, timeout: float = 30) -> None:
    """Wait for a condition on the page; on timeout, fail with what the page showed."""
    try:
        page.wait_for_function(condition, timeout=timeout * 1000)
    except playwright.TimeoutError:
        log = page.get_by_role("log").inner_text()
        pytest.fail(f"not within {timeout} s: {condition}\nstats: {stats(page)}\nlog:\n{log}")


def test_speak_hear_the_answer_and_interrupt_it(
    pw: playwright.Playwright, server: Server, speech: Path
) -> None:
    browser = launch(pw, speech)
    try:
        page = open_page(browser, server, LONG_ANSWERS)
        page.get_by_role("button", name="Start").click()
        log = page.get_by_role("log")
        # The recording's words, recognized, in the log ("I do, I think that America do
        # it very well.")
        playwright.expect(log.locator(".user").first).to_contain_text("America", timeout=30_000)
        # The answer is played by the page, not only received: its worklet rendered it.
        wait(page, "window.openlive.stats.played > 1.0")
        # (The first answer may be one the user talked over before its audio came: a
        # pause in the recording can end a turn. The first one heard has its latency.)
        answer = log.locator(".model[data-latency]").first
        playwright.expect(answer).to_have_attribute("data-latency", re.compile(r"^\d+\.\d\d$"))
        latency = float(answer.get_attribute("data-latency") or "nan")
        assert 0 < latency < 10
        assert stats(page)["interim"] > 0, "no interim transcript while the user spoke"
        assert stats(page)["gaps"] == 0, "the answer's audio ran dry before its end"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "playground.png"), full_page=True)
        # The recording starts again over the answer: playback stops at once.
        # (An answer interrupted before its audio came has nothing to drop: wait for one
        # that was playing.)
        wait(page, "window.openlive.stats.dropped > 0")
        playwright.expect(log.locator(".model[data-interrupted=true]")).not_to_have_count(0)
        assert stats(page)["queued"] < 0.3
        assert stats(page)["gaps"] == 0, "an answer's audio ran dry before its end"
        page.get_by_role("button", name="Stop").click()
        playwright.expect(page.get_by_role("status")).to_have_text("Not connected")
    finally:
        browser.close()


def test_a_text_turn_then_a_reload_resumes_the_session(
    pw: playwright.Playwright, server: Server, quiet: Path
) -> None:
    browser = launch(pw, quiet)
    try:
        page = open_text_page(browser, server)
        page.get_by_role("button", name="Start").click()
        playwright.expect(page.get_by_role("status")).to_have_text("Listening", timeout=15_000)
        page.get_by_label("Message").fill("What is the capital of France?")
        page.get_by_role("button", name="Send").click()
        log = page.get_by_role("log")
        first = log.locator(".model").first
        playwright.expect(first).to_contain_text("Paris", timeout=30_000)
        playwright.expect(first.locator(".usage")).to_contain_text(re.compile(r"\d+ tokens in"))
        saved = "JSON.parse(sessionStorage['openlive-playground'] || '{}').handle"
        handle = page.wait_for_function(saved, timeout=10_000).json_value()
        assert isinstance(handle, str) and handle

        page.reload()
        # The log is kept, and the page resumes with the handle: an unknown one would
        # close with 1007 instead of answering setup.
        wait(page, "window.openlive.stats.state === 'listening'", timeout=15)
        playwright.expect(log).to_contain_text("Paris")
        playwright.expect(log).to_contain_text("Resuming the session")
        raw = page.locator("#raw-messages")
        playwright.expect(raw).to_contain_text(f'"handle":"{handle}"')
        assert "Closed" not in log.inner_text()
        page.get_by_label("Message").fill("What color is the sky on a clear day?")
        page.get_by_role("button", name="Send").click()
        # The resumed session answers (what the small model says is its own affair).
        second = log.locator(".model").nth(1)
        playwright.expect(second.locator(".usage")).to_contain_text("tokens in", timeout=30_000)
        assert len(second.locator(".text").inner_text().split()) >= 2
    finally:
        browser.close()


WEATHER = [
    {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def test_a_function_call_answered_from_the_page(
    pw: playwright.Playwright, server: Server, quiet: Path
) -> None:
    browser = launch(pw, quiet)
    try:
        page = open_text_page(browser, server)
        page.get_by_text("Function declarations").click()
        page.get_by_label("As JSON, a list of declarations").fill(json.dumps(WEATHER))
        page.get_by_role("button", name="Start").click()
        wait(page, "window.openlive.stats.state === 'listening'", timeout=15)
        page.get_by_label("Message").fill("What is the weather in Paris?")
        page.get_by_role("button", name="Send").click()
        log = page.get_by_role("log")
        call = log.locator(".tool")
        playwright.expect(call).to_contain_text("get_weather", timeout=30_000)
        playwright.expect(call).to_contain_text("Paris")
        call.get_by_label("Response").fill('{"temperature": "21 C", "sky": "sunny"}')
        call.get_by_role("button", name="Send response").click()
        raw = page.locator("#raw-messages")
        playwright.expect(raw).to_contain_text('"toolResponse"')
        # The answer after the call, built from the response.
        answer = log.locator(".model").last
        playwright.expect(answer.locator(".usage")).to_contain_text("tokens in", timeout=30_000)
        playwright.expect(answer).to_contain_text(re.compile("21|sunny", re.I))
    finally:
        browser.close()


def test_the_page_is_served_and_its_options_need_the_key(keyed_server: Server) -> None:
    page = httpx.get(f"{keyed_server.http}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<button type="button" id="start">Start</button>' in page.text
    script = httpx.get(f"{keyed_server.http}/playground/playground.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    options = f"{keyed_server.http}/playground/options.json"
    assert httpx.get(options, timeout=10).status_code == 403
    assert httpx.get(options, params={"key": "wrong-key"}, timeout=10).status_code == 400
    body = httpx.get(options, params={"key": "right-key"}, timeout=10).json()
    chosen = next(m for m in body["models"] if m["name"] == body["defaultModel"])
    assert body["defaultVoice"] in chosen["voices"] and "AUDIO" in chosen["modalities"]
    assert {"code": "en-US", "name": "English (United States)"} in body["languages"]
    missing = httpx.get(f"{keyed_server.http}/playground/nothing.js", timeout=10)
    assert missing.status_code == 404
