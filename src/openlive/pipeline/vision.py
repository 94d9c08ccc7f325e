"""Images and video frames: what a session keeps of them, and for which backends.

The Live API takes video as a stream of JPEG or PNG frames (`realtimeInput.video`, or
the deprecated `mediaChunks`), of which at most one per second is used, and images as
`inlineData` parts of `clientContent` turns and of function results. A backend that can
see (`Capabilities.vision`: an OpenAI-compatible engine serving a vision model) gets them
with the user's next message; the frames that arrive between two user turns are kept,
one per second at most and the newest `MAX_FRAMES`. With `turnCoverage`
TURN_INCLUDES_ONLY_ACTIVITY (the default), a spoken turn takes only the frames sent
during the user's activity: those that came more than `ACTIVITY_LEAD` seconds before
its start was heard are dropped then. A backend that cannot (the
embedded SmolLM2) refuses the first one with a 1007 that says so: no small captioning or
vision model ships in a PyPI package for it to use (docs/models.md, "Images and video").

Each image counts `tokens_per_image(mediaResolution)` prompt tokens in usageMetadata,
as VIDEO for frames and IMAGE for inline images, every turn that sends it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..backends.base import ChatMessage, Image
from ..protocol.errors import InvalidArgument
from ..protocol.messages import Blob, Content, MediaResolution, Modality

__all__ = [
    "ACTIVITY_LEAD",
    "FRAME_INTERVAL",
    "IMAGE_TYPES",
    "MAX_FRAMES",
    "Frames",
    "image_of",
    "media_tokens",
    "tokens_per_image",
]

FRAME_INTERVAL = 1.0
"""Seconds between two video frames that are used; frames in between are dropped."""

MAX_FRAMES = 4
"""Frames kept for the next user message; older ones are dropped."""

ACTIVITY_LEAD = 1.0
"""Seconds before the start of the user's activity was heard from which its frames
count: speech is detected a little after it begins, and a frame comes once a second."""

IMAGE_TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
"""The image types taken, and how their files begin."""

_TOKENS: dict[MediaResolution | None, int] = {
    None: 258,
    MediaResolution.MEDIA_RESOLUTION_UNSPECIFIED: 258,
    MediaResolution.MEDIA_RESOLUTION_LOW: 64,
    MediaResolution.MEDIA_RESOLUTION_MEDIUM: 256,
    MediaResolution.MEDIA_RESOLUTION_HIGH: 258,
}


def tokens_per_image(resolution: MediaResolution | None) -> int:
    """The tokens one image or frame counts at `mediaResolution` (258 by default)."""
    return _TOKENS[resolution]


def image_of(blob: Blob, *, video: bool, tokens: int) -> Image:
    """`blob` as an `Image`, checked; `InvalidArgument` for what is not a JPEG or PNG."""
    mime = (blob.mime_type or "").split(";")[0].strip().lower()
    if mime == "image/jpg":
        mime = "image/jpeg"
    magic = IMAGE_TYPES.get(mime)
    if magic is None:
        raise InvalidArgument(f"Unsupported MIME type: {(blob.mime_type or '(none)')[:60]}")
    if not blob.data.startswith(magic):
        raise InvalidArgument(f"The image data is not a valid {mime.removeprefix('image/')} file.")
    return Image(mime, blob.data, video=video, tokens=tokens)


def media_tokens(messages: Iterable[ChatMessage]) -> dict[Modality, int]:
    """The prompt tokens of the images in `messages`, by modality (none: empty)."""
    counts: dict[Modality, int] = {}
    for message in messages:
        for image in message.images:
            modality = Modality.VIDEO if image.video else Modality.IMAGE
            counts[modality] = counts.get(modality, 0) + image.tokens
    return counts


@dataclass
class Frames:
    """One session's images on their way to the model."""

    can_see: bool
    model: str
    resolution: MediaResolution | None = None
    clock: Callable[[], float] = time.monotonic
    activity_only: bool = False
    """A spoken turn takes only the frames of its activity (`turnCoverage`)."""
    _pending: deque[tuple[float, Image]] = field(default_factory=lambda: deque(maxlen=MAX_FRAMES))
    _last: float | None = None
    dropped: int = 0
    """Frames not used: closer than `FRAME_INTERVAL` to the last, or pushed out."""

    def _refuse_unless_seeing(self) -> None:
        if not self.can_see:
            raise InvalidArgument(
                f"Image and video input is not supported by models/{self.model[:40]} on this "
                "server: its LLM cannot see."
            )

    def video(self, blob: Blob) -> None:
        """A video frame: kept if a second has passed since the last one kept."""
        self._refuse_unless_seeing()
        image = image_of(blob, video=True, tokens=tokens_per_image(self.resolution))
        now = self.clock()
        if self._last is not None and now - self._last < FRAME_INTERVAL:
            self.dropped += 1
            return
        self._last = now
        if len(self._pending) == MAX_FRAMES:
            self.dropped += 1
        self._pending.append((now, image))

    def activity_started(self) -> None:
        """The user began to speak: with `activity_only`, the frames from before their
        activity are not the turn's."""
        if not self.activity_only:
            return
        since = self.clock() - ACTIVITY_LEAD
        while self._pending and self._pending[0][0] < since:
            self._pending.popleft()
            self.dropped += 1

    def take(self) -> tuple[Image, ...]:
        """The frames for the user message being added; none are kept after."""
        frames = tuple(image for _, image in self._pending)
        self._pending.clear()
        return frames

    def image(self, blob: Blob) -> Image:
        """An inline image (of a turn or a function's result), checked; refused when the
        model cannot see."""
        self._refuse_unless_seeing()
        return image_of(blob, video=False, tokens=tokens_per_image(self.resolution))

    def images_of(self, contents: Sequence[Content]) -> list[tuple[Image, ...]]:
        """The images of each `clientContent` turn, checked (refused when the model
        cannot see): its inline images, and for the last user turn, the frames waiting
        before them."""
        out: list[tuple[Image, ...]] = []
        for content in contents:
            images = []
            for part in content.parts:
                if part.inline_data is not None:
                    images.append(self.image(part.inline_data))
            out.append(tuple(images))
        users = [i for i, content in enumerate(contents) if content.role != "model"]
        if users and self._pending:
            out[users[-1]] = self.take() + out[users[-1]]
        return out
