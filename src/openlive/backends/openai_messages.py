"""The conversation as an OpenAI-compatible chat-completions engine takes it: messages
and tools in the request's own shapes.

Images the user showed go with their message as `image_url` parts holding data URLs. A
function's result is a `tool` message: its `response` as JSON, then the text of its
parts; the images of its parts follow the results of that round as a user message (a
`tool` message holds text only, and nothing may come between a call and its result).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from openai.types.chat import (
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
    ChatCompletionUserMessageParam,
)

from .base import ChatMessage, FunctionSpec

__all__ = ["chat_message", "chat_messages", "tool"]


def chat_message(message: ChatMessage) -> ChatCompletionMessageParam:
    match message.role:
        case "system":
            return {"role": "system", "content": message.content}
        case "user" if message.images:
            return _user_with_images(message)
        case "user":
            return {"role": "user", "content": message.content}
        case "assistant" if message.calls:
            return {
                "role": "assistant",
                "content": message.content or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.args)},
                    }
                    for call in message.calls
                ],
            }
        case "assistant":
            return {"role": "assistant", "content": message.content}
        case "tool":
            assert message.result is not None
            content = json.dumps(message.result.response)
            return {
                "role": "tool",
                "tool_call_id": message.result.id,
                "content": f"{content}\n{message.content}" if message.content else content,
            }


def chat_messages(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    """The history as the engine takes it. The images of a round's results follow its
    `tool` messages, in a user message: nothing may come between a call and its result."""
    chat: list[ChatCompletionMessageParam] = []
    shown: list[ChatMessage] = []
    for message in messages:
        if shown and message.role != "tool":
            chat.append(_results_images(shown))
            shown = []
        chat.append(chat_message(message))
        if message.role == "tool" and message.images:
            shown.append(message)
    if shown:
        chat.append(_results_images(shown))
    return chat


def _results_images(results: Sequence[ChatMessage]) -> ChatCompletionUserMessageParam:
    names = ", ".join(dict.fromkeys(m.result.name for m in results if m.result is not None))
    images = tuple(image for m in results for image in m.images)
    return _user_with_images(ChatMessage("user", f"Images returned by {names}:", images=images))


def _user_with_images(message: ChatMessage) -> ChatCompletionUserMessageParam:
    """A user message with its images as `image_url` parts (data URLs) after its text."""
    parts: list[ChatCompletionContentPartParam] = []
    if message.content:
        parts.append({"type": "text", "text": message.content})
    for image in message.images:
        data = base64.b64encode(image.data).decode("ascii")
        parts.append(
            {"type": "image_url", "image_url": {"url": f"data:{image.mime_type};base64,{data}"}}
        )
    return {"role": "user", "content": parts}


def tool(spec: FunctionSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }
