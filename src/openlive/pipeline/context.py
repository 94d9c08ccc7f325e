"""The conversation of one session: system instruction and turns, as the LLM sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..backends.base import ChatMessage, FunctionCall, FunctionResult, Image
from ..protocol.errors import InvalidArgument
from ..protocol.messages import Content

__all__ = ["ChatContext"]


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
        self.turns.append(ChatMessage("user", text))

    def append_model(self, text: str) -> None:
        if text:
            self.turns.append(ChatMessage("assistant", text))

    def append_calls(self, calls: list[FunctionCall]) -> None:
        self.turns.append(ChatMessage("assistant", "", calls=tuple(calls)))

    def append(self, message: ChatMessage) -> None:
        self.turns.append(message)

    @staticmethod
    def result(result: FunctionResult) -> ChatMessage:
        """A function's result, with the text and images of its parts."""
        return ChatMessage("tool", result.text, result=result, images=result.images)

    def messages(self) -> list[ChatMessage]:
        """The whole conversation, system instruction first, ready for the LLM."""
        system = [ChatMessage("system", self.system_instruction)] if self.system_instruction else []
        return system + self.turns
