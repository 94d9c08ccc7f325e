"""Images and video frames: what a session keeps of them, and for which backends.

The Live API takes video as a stream of JPEG or PNG frames (`realtimeInput.video`, or
the deprecated `mediaChunks`), of which at most one per second is used, and images as
`inlineData` parts of `clientContent` turns. A backend that can see
(`Capabilities.vision`: an OpenAI-compatible engine serving a vision model) gets them
with the user's next message; the frames that arrive between two user turns are kept,
one per second at most and the newest `MAX_FRAMES`. A backend that cannot (the
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
    _pending: deque[Image] = field(default_factory=lambda: deque(maxlen=MAX_FRAMES))
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
        self._pending.append(image)

    def take(self) -> tuple[Image, ...]:
        """The frames for the user message being added; none are kept after."""
        frames = tuple(self._pending)
        self._pending.clear()
        return frames

    def images_of(self, contents: Sequence[Content]) -> list[tuple[Image, ...]]:
        """The images of each `clientContent` turn, checked (refused when the model
        cannot see): its inline images, and for the last user turn, the frames waiting
        before them."""
        out: list[tuple[Image, ...]] = []
        for content in contents:
            images = []
            for part in content.parts:
                if part.inline_data is not None:
                    self._refuse_unless_seeing()
                    tokens = tokens_per_image(self.resolution)
                    images.append(image_of(part.inline_data, video=False, tokens=tokens))
            out.append(tuple(images))
        users = [i for i, content in enumerate(contents) if content.role != "model"]
        if users and self._pending:
            out[users[-1]] = self.take() + out[users[-1]]
        return out
