"""The Assistants playground: a static web page (HTML, JS, CSS, no build step) served at `/` and
`/playground` that manages assistants and chats on threads through the public `/v1` API only.

Only the three page files are served; nothing else in this package is reachable over HTTP.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from runtime.errors import not_found

HERE = Path(__file__).parent
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> FileResponse:
    return FileResponse(HERE / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


def mount_playground(app: FastAPI) -> None:
    """Serve the page at `/`, `/playground` and `/playground/`, its assets at `/playground/<file>`."""

    @app.get("/", include_in_schema=False)
    @app.get("/playground", include_in_schema=False)
    @app.get("/playground/", include_in_schema=False)
    def playground() -> FileResponse:
        return _asset("index.html")

    @app.get("/playground/{name}", include_in_schema=False)
    def playground_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise not_found("playground file", name)
        return _asset(name)
