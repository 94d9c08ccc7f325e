"""The playground: a page at `/` where a person talks to the server from a browser.

The page and its scripts are files of the package (`openlive/playground/`), served as
they are: nothing is fetched from elsewhere, and the page speaks the Live WebSocket
protocol itself. `playground/options.json` tells it the models with their voices and
languages; it needs the same key as the models resource.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..backends.catalogue import Catalogue
from ..backends.voices import DEFAULT_VOICE, LANGUAGES
from .auth import Credential, find_credential

__all__ = ["PAGES", "playground_routes"]

PAGES = Path(str(files("openlive") / "playground"))
DEFAULT_MODEL = "gemini-live-2.5-flash-preview"


def playground_routes(
    catalogue: Catalogue, refuse: Callable[[Credential | None], Response | None]
) -> list[BaseRoute]:
    """The page at `/`, its files under `/playground/`; `refuse` checks a credential
    as the REST endpoints do (None: it passes)."""

    async def index(request: Request) -> Response:
        return FileResponse(PAGES / "index.html", headers={"Cache-Control": "no-cache"})

    async def options(request: Request) -> Response:
        if (refusal := refuse(find_credential(request.headers, request.query_params))) is not None:
            return refusal
        models = [
            {
                "name": entry.name,
                "displayName": entry.display_name,
                "voices": list(entry.voices),
                "modalities": sorted(m.value for m in entry.modalities),
            }
            for entry in catalogue
        ]
        default = DEFAULT_MODEL if any(m["name"] == DEFAULT_MODEL for m in models) else None
        return JSONResponse(
            {
                "models": models,
                "defaultModel": default or models[0]["name"],
                "defaultVoice": DEFAULT_VOICE,
                "languages": [
                    {"code": language.code, "name": language.name}
                    for language in sorted(LANGUAGES.values(), key=lambda x: x.name)
                ],
            }
        )

    return [
        Route("/", index),
        Route("/playground/options.json", options),
        Mount("/playground", StaticFiles(directory=PAGES), name="playground"),
    ]
