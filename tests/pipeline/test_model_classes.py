"""Model classes and images through `SessionRunner`: the setups a session refuses for its
model class or API version (features.py decides; the runner closes with its reason), and
frames and images on their way to a model that can see, or refused by one that cannot."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from openlive.backends.base import Usage
from tests.fakes import Reply

from .test_runner import Opener, setup, user_turn
from .test_vision import JPEG, PNG

Json = dict[str, Any]


# --- refusals through the runner -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": 100}}},
            "Thinking is not enabled for models/gemini-live-2.5-flash-preview.",
        ),
        (
            {"generationConfig": {"enableAffectiveDialog": True}},
            'Invalid JSON payload received. Unknown name "enableAffectiveDialog" at '
            "'setup.generation_config': Cannot find field.",
        ),
        (
            {"proactivity": {"proactiveAudio": True}},
            "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
            "Cannot find field.",
        ),
    ],
)
async def test_a_setup_the_model_class_refuses_closes_with_1007(
    live: Opener, fields: Json, reason: str
) -> None:
    s = live()
    s.feed(setup(**fields))
    await s.ended()
    assert s.sent == []
    assert s.transport.closed == (1007, reason)


# --- through the runner ---------------------------------------------------------------------


def video(data: bytes = JPEG) -> Json:
    return {
        "realtimeInput": {
            "video": {"data": base64.b64encode(data).decode(), "mimeType": "image/jpeg"}
        }
    }


async def test_video_on_a_model_that_cannot_see_closes_with_1007(live: Opener) -> None:
    s = live()
    await s.start()
    s.feed(video())
    await s.ended()
    code, reason = s.transport.closed or (0, "")
    assert code == 1007 and "cannot see" in reason


async def test_frames_and_images_go_with_the_next_user_message(live: Opener) -> None:
    usage = Usage(40, 2)
    s = live(Reply(["A cat."], usage=usage), Reply(["A dog."], usage=usage))
    s.llm.capabilities.vision = True
    await s.start(setup(generationConfig={"mediaResolution": "MEDIA_RESOLUTION_LOW"}))

    s.feed(video())
    s.feed(
        {
            "realtimeInput": {
                "mediaChunks": [{"data": base64.b64encode(PNG).decode(), "mimeType": "image/png"}]
            }
        }
    )
    s.feed(user_turn("What do you see?"))
    await s.transport.until_sent(4)
    [asked] = [m for m in s.llm.calls[0].messages if m.role == "user"]
    assert asked.content == "What do you see?"
    assert [i.data for i in asked.images] == [JPEG], "the second frame came within a second"
    assert s.sent[3]["usageMetadata"]["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 40},
        {"modality": "VIDEO", "tokenCount": 64},
    ]

    b64 = base64.b64encode(PNG).decode()
    s.feed(
        {
            "clientContent": {
                "turns": [
                    {
                        "role": "user",
                        "parts": [
                            {"inlineData": {"mimeType": "image/png", "data": b64}},
                            {"text": "And this?"},
                        ],
                    }
                ],
                "turnComplete": True,
            }
        }
    )
    await s.transport.until_sent(7)
    last = s.llm.calls[1].messages[-1]
    assert last.content == "And this?" and [i.data for i in last.images] == [PNG]
    assert not last.images[0].video
    assert s.sent[6]["usageMetadata"]["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 40},
        {"modality": "VIDEO", "tokenCount": 64},
        {"modality": "IMAGE", "tokenCount": 64},
    ]
