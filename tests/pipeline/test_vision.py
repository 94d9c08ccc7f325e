"""Images and video frames (vision.py): which are used, which are refused, how they reach a
backend that can see, and what they count in usageMetadata."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from openlive.backends.base import ChatMessage, FunctionCall, FunctionResult, Image
from openlive.backends.openai_messages import chat_message, chat_messages
from openlive.pipeline.vision import ACTIVITY_LEAD, MAX_FRAMES, Frames, image_of, media_tokens
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Blob, Content, MediaResolution, Part

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60
Json = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(data: bytes = JPEG, mime: str = "image/jpeg") -> Blob:
    return Blob(mime_type=mime, data=data)


def test_at_most_one_frame_per_second_is_used() -> None:
    clock = Clock()
    frames = Frames(can_see=True, model="m", clock=clock)
    for step in (0.0, 0.4, 0.9, 1.0, 1.5, 2.2):
        clock.now = 100.0 + step
        frames.video(frame())
    # used: 0.0, 1.0, 2.2; dropped: 0.4, 0.9, 1.5
    assert len(frames.take()) == 3
    assert frames.dropped == 3
    assert frames.take() == (), "taken frames are not kept"


def test_only_the_newest_frames_wait_for_the_next_message() -> None:
    clock = Clock()
    frames = Frames(can_see=True, model="m", clock=clock)
    for second in range(MAX_FRAMES + 2):
        clock.now = 100.0 + second
        frames.video(frame(JPEG + bytes([second])))
    taken = frames.take()
    assert [f.data[-1] for f in taken] == list(range(2, MAX_FRAMES + 2))
    assert all(f.video and f.tokens == 258 for f in taken)


@pytest.mark.parametrize(
    ("resolution", "tokens"),
    [
        (None, 258),
        (MediaResolution.MEDIA_RESOLUTION_LOW, 64),
        (MediaResolution.MEDIA_RESOLUTION_MEDIUM, 256),
        (MediaResolution.MEDIA_RESOLUTION_HIGH, 258),
    ],
)
def test_tokens_per_frame_follow_media_resolution(
    resolution: MediaResolution | None, tokens: int
) -> None:
    frames = Frames(can_see=True, model="m", resolution=resolution)
    frames.video(frame(PNG, "image/png"))
    [image] = frames.take()
    assert image.tokens == tokens
    assert media_tokens([ChatMessage("user", "", images=(image,))]) == {"VIDEO": tokens}


def test_a_model_that_cannot_see_refuses_images_and_frames() -> None:
    frames = Frames(can_see=False, model="gemini-live-2.5-flash-preview")
    with pytest.raises(InvalidArgument) as info:
        frames.video(frame())
    assert info.value.reason == (
        "Image and video input is not supported by models/gemini-live-2.5-flash-preview on "
        "this server: its LLM cannot see."
    )
    assert len(info.value.reason.encode()) <= 123
    with pytest.raises(InvalidArgument):
        frames.images_of([Content(role="user", parts=[Part(inline_data=frame())])])
    assert frames.images_of([Content(role="user", parts=[Part(text="hi")])]) == [()]


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (frame(mime="video/mp4"), "Unsupported MIME type: video/mp4"),
        (frame(mime=""), "Unsupported MIME type: (none)"),
        (frame(PNG, "image/jpeg"), "The image data is not a valid jpeg file."),
        (frame(b"hello", "image/png"), "The image data is not a valid png file."),
    ],
)
def test_what_is_not_a_jpeg_or_png_is_refused(blob: Blob, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        image_of(blob, video=True, tokens=258)
    assert info.value.reason == reason


def test_an_engine_gets_images_as_data_urls_after_the_text() -> None:
    message = ChatMessage("user", "What is this?", images=(Image("image/png", PNG),))
    assert chat_message(message) == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
            },
        ],
    }
    assert chat_message(ChatMessage("user", "plain")) == {"role": "user", "content": "plain"}


def test_a_spoken_turn_takes_only_the_frames_of_its_activity() -> None:
    """turnCoverage TURN_INCLUDES_ONLY_ACTIVITY (the default): the frames sent well before
    the user began to speak are not the turn's."""
    clock = Clock()
    frames = Frames(can_see=True, model="m", clock=clock, activity_only=True)
    for second in (0.0, 1.0, 2.0):
        clock.now = 100.0 + second
        frames.video(frame(JPEG + bytes([int(second)])))
    clock.now = 102.0 + ACTIVITY_LEAD / 2  # speech heard half a lead after the last frame
    frames.activity_started()
    clock.now = 103.0
    frames.video(frame(JPEG + b"\x03"))
    assert [f.data[-1] for f in frames.take()] == [2, 3]
    assert frames.dropped == 2


def test_all_video_keeps_every_frame_since_the_previous_turn() -> None:
    """TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO and TURN_INCLUDES_ALL_INPUT."""
    clock = Clock()
    frames = Frames(can_see=True, model="m", clock=clock, activity_only=False)
    for second in (0.0, 1.0, 2.0):
        clock.now = 100.0 + second
        frames.video(frame())
    clock.now = 110.0
    frames.activity_started()
    assert len(frames.take()) == 3 and frames.dropped == 0


def test_the_images_of_function_results_follow_the_results_of_their_round() -> None:
    """A tool message holds text only: a round's images come after all its results."""
    calls = (FunctionCall("look", {}, "c1"), FunctionCall("find", {}, "c2"))
    png = Image("image/png", PNG)
    messages = [
        ChatMessage("user", "Look."),
        ChatMessage("assistant", "", calls=calls),
        ChatMessage("tool", "a red door", result=FunctionResult("c1", "look", {}), images=(png,)),
        ChatMessage("tool", "", result=FunctionResult("c2", "find", {"found": True})),
        ChatMessage("assistant", "Red."),
    ]
    chat = chat_messages(messages)
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert chat[2]["content"] == "{}\na red door"
    assert chat[3]["content"] == '{"found": true}'
    data = base64.b64encode(PNG).decode()
    assert chat[4]["content"] == [
        {"type": "text", "text": "Images returned by look:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
    ]
