"""The conversation of one session: system instruction and turns, as the LLM sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..backends.base import ChatMessage, FunctionCall, FunctionResult, Image
from ..protocol.errors import InvalidArgument
from ..protocol.messages import Content

__all__ = ["MAX_HISTORY_CHARS", "MAX_HISTORY_TURNS", "ChatContext"]

MAX_HISTORY_CHARS = 4_000_000
"""The most text a session's history keeps: many times what the largest context window
of a Live model (128k tokens, about 500,000 characters) holds. Older turns are dropped,
as the model drops them from its prompt anyway; this bounds a session's memory whatever
a client sends (at the default byte rate, a client could otherwise add 3.6 GB an hour)."""

MAX_HISTORY_TURNS = 10_000
"""The most turns a session's history keeps, for the same reason."""


@dataclass(slots=True)
class ChatContext:
    system_instruction: str = ""
    turns: list[ChatMessage] = field(default_factory=list)

    @staticmethod
    def messages_of(
        contents: Sequence[Content], images: Sequence[tuple[Image, ...]] = ()
    ) -> list[ChatMessage]:
        """`clientContent` turns (roles `user` and `model`) as history messages.
        `images`: each turn's inline images, already checked (vision.py), for a model
        that can see."""
        messages = []
        for index, content in enumerate(contents):
            seen = images[index] if index < len(images) else ()
            texts = []
            for part in content.parts:
                if part.text is not None and not part.thought:
                    texts.append(part.text)
                elif part.file_data is not None or (part.inline_data is not None and not seen):
                    raise InvalidArgument(
                        "This model takes text parts only in client_content turns."
                    )
            text = "".join(texts)
            if content.role == "model":
                if text:
                    messages.append(ChatMessage("assistant", text))
            elif text or seen:
                messages.append(ChatMessage("user", text, images=seen))
        return messages

    def append_user(self, text: str) -> None:
        self.append(ChatMessage("user", text))

    def append_model(self, text: str) -> None:
        if text:
            self.append(ChatMessage("assistant", text))

    def append_calls(self, calls: list[FunctionCall]) -> None:
        self.append(ChatMessage("assistant", "", calls=tuple(calls)))

    def append(self, message: ChatMessage) -> None:
        """Add a turn; the oldest ones go past `MAX_HISTORY_CHARS` or
        `MAX_HISTORY_TURNS` (with a function result left without its call)."""
        turns = self.turns
        turns.append(message)
        chars = sum(len(m.content) for m in turns)
        drop = 0
        while drop < len(turns) - 1 and (
            chars > MAX_HISTORY_CHARS or len(turns) - drop > MAX_HISTORY_TURNS
        ):
            chars -= len(turns[drop].content)
            drop += 1
        while 0 < drop < len(turns) - 1 and turns[drop].role == "tool":
            drop += 1  # a result whose call is gone
        del turns[:drop]

    @staticmethod
    def result(result: FunctionResult) -> ChatMessage:
        """A function's result, with the text and images of its parts."""
        return ChatMessage("tool", result.text, result=result, images=result.images)

    def messages(self) -> list[ChatMessage]:
        """The whole conversation, system instruction first, ready for the LLM."""
        system = [ChatMessage("system", self.system_instruction)] if self.system_instruction else []
        return system + self.turns
