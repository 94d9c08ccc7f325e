"""A scripted OpenAI-compatible engine for the e2e tests: a vision model that reasons.

Run as `python -m tests.e2e.scripted_engine PORT LOG`. `GET /v1/models` lists one model,
`scripted-vlm`; `POST /v1/chat/completions` appends the request body to LOG (one JSON
line each) and streams, as server-sent events, the reasoning "Looking at N image(s)."
as `reasoning_content` deltas, then the answer "I see N image(s)." as `content`
deltas, then usage (with `reasoning_tokens`). N counts the `image_url` parts of the last
user message. No model: what it answers follows only from what it was sent.

Given `tools`, it calls instead: the first tool, each required string parameter set to
the last word of the last user message, its arguments streamed in two pieces; and once
the last message is a tool's result, it answers "The tool said: <result>." (no
reasoning).

It also lists a model for each way an engine can fail mid-answer (`FAULTS`): asked for
one of them, it streams the start of an answer ("Once upon"), then fails that way.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "scripted-vlm"

FAULTS = {
    "fault-not-json": "then a data line that is not JSON",
    "fault-wrong-shape": "then a chunk whose choices are not a list",
    "fault-wrong-types": "then a chunk whose content is a number",
    "fault-no-finish": "then the stream ends, without a finish_reason or [DONE]",
    "fault-stall": "then nothing but a keep-alive comment every half second, for ever",
    "fault-html": "(nothing of it: an HTTP 200 with a page of HTML)",
}
"""The failing models, by what they send after the start of an answer."""

PAGE = "<!doctype html><html><head><title>Gateway</title></head><body>Hello: ok</body></html>"


def images_in(body: dict[str, Any]) -> int:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if part.get("type") == "image_url")


def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
    body = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta else [],
    }
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


def tool_call(body: dict[str, Any]) -> tuple[str, str] | None:
    """The call to make (name, arguments as JSON), if the request offers tools and the
    last message is the user's."""
    tools = body.get("tools") or []
    messages = body.get("messages", [])
    if not tools or not messages or messages[-1].get("role") != "user":
        return None
    function = tools[0]["function"]
    said = messages[-1].get("content")
    if isinstance(said, list):
        said = " ".join(p.get("text", "") for p in said if p.get("type") == "text")
    last_word = (str(said).split() or [""])[-1].strip(".,!?")
    schema = function.get("parameters") or {}
    args = {
        name: last_word
        for name in schema.get("required", [])
        if schema.get("properties", {}).get(name, {}).get("type") == "string"
    }
    return function["name"], json.dumps(args)


def tool_result(body: dict[str, Any]) -> str | None:
    messages = body.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        return str(messages[-1].get("content"))
    return None


def app(log: Path) -> Starlette:
    async def models(request: Request) -> Response:
        names = [MODEL, *FAULTS]
        return JSONResponse(
            {"object": "list", "data": [{"id": name, "object": "model"} for name in names]}
        )

    async def completions(request: Request) -> Response:
        body = await request.json()
        with log.open("a") as out:
            out.write(json.dumps(body) + "\n")
        if body.get("model") in FAULTS:
            return fault(body["model"])
        n = images_in(body)
        thought = ["Looking ", f"at {n} ", "image(s)."]
        answer = ["I see ", f"{n} ", "image(s)."]
        if not body.get("stream"):
            text = "".join(answer)
            return JSONResponse(
                {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion",
                    "created": 0,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                }
            )

        call, result = tool_call(body), tool_result(body)
        if call is not None or result is not None:
            return StreamingResponse(tool_events(call, result), media_type="text/event-stream")

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in thought:
                yield chunk({"reasoning_content": piece})
            for piece in answer:
                yield chunk({"content": piece})
            yield chunk({"content": ""}, finish="stop")
            usage = {
                "prompt_tokens": 20,
                "completion_tokens": 6,
                "total_tokens": 26,
                "completion_tokens_details": {"reasoning_tokens": 3},
            }
            yield chunk({}, usage=usage)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def tool_events(call: tuple[str, str] | None, result: str | None) -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        if call is not None:
            name, arguments = call
            half = len(arguments) // 2
            first = {"index": 0, "id": "call_1", "type": "function"}
            yield chunk({"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]})
            for piece in (arguments[:half], arguments[half:]):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            yield chunk({"content": None}, finish="tool_calls")
        else:
            yield chunk({"content": f"The tool said: {result}."})
            yield chunk({"content": ""}, finish="stop")
        usage = {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}
        yield chunk({}, usage=usage)
        yield "data: [DONE]\n\n"

    def fault(name: str) -> Response:
        if name == "fault-html":
            return HTMLResponse(PAGE)

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            yield chunk({"content": "Once "})
            yield chunk({"content": "upon"})
            if name == "fault-not-json":
                yield "data: <p>Once upon a time</p>\n\n"
            elif name == "fault-wrong-shape":
                yield f"data: {json.dumps({'id': 'x', 'choices': 'a time'})}\n\n"
            elif name == "fault-wrong-types":
                yield chunk({"content": 42})
            elif name == "fault-stall":
                while True:  # until the client goes
                    await asyncio.sleep(0.5)
                    yield ": keep-alive\n\n"
            # then the stream ends, as it does at once for fault-no-finish

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


if __name__ == "__main__":
    port, log = int(sys.argv[1]), Path(sys.argv[2])
    uvicorn.run(app(log), host="127.0.0.1", port=port, log_level="warning")
