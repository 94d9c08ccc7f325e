"""A scripted OpenAI-compatible engine for the e2e tests: a vision model that reasons.

Run as `python -m tests.e2e.scripted_engine PORT LOG`. `GET /v1/models` lists one model,
`scripted-vlm`; `POST /v1/chat/completions` appends the request body to LOG (one JSON
line each) and streams, as server-sent events, the reasoning "Looking at N image(s)."
as `reasoning_content` deltas, then the answer "I see N image(s)." as `content`
deltas, then usage (with `reasoning_tokens`). N counts the `image_url` parts of the last
user message. No model: what it answers follows only from what it was sent.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "scripted-vlm"


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


def app(log: Path) -> Starlette:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def completions(request: Request) -> Response:
        body = await request.json()
        with log.open("a") as out:
            out.write(json.dumps(body) + "\n")
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

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


if __name__ == "__main__":
    port, log = int(sys.argv[1]), Path(sys.argv[2])
    uvicorn.run(app(log), host="127.0.0.1", port=port, log_level="warning")
