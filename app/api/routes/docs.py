"""ReDoc at /redoc, with fastapi-offline's bundle served by the app, less the one thing it fetched elsewhere.

The bundle draws Redocly's logo from its CDN in the sidebar's "API docs by Redocly" link. The logo's
address becomes ``data:,``, which never loads: the image then removes itself, as the bundle's own error
handler does for an unreachable CDN. Swagger UI (/docs) needs no such change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

REDOC_BUNDLE = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# Where fastapi-offline serves Swagger UI's assets; the favicon is shared with ReDoc.
OFFLINE_ASSETS = "/static-offline-docs"
BUNDLE_PATH = "/redoc/redoc.standalone.js"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    return REDOC_BUNDLE.read_bytes().replace(REDOCLY_LOGO, b"data:,")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{BUNDLE_PATH}",
        redoc_favicon_url=f"{root}{OFFLINE_ASSETS}/favicon.png",
        with_google_fonts=False,
    )


@router.get(BUNDLE_PATH)
def bundle() -> Response:  # a plain def: the first call reads 1 MB, in a worker thread
    return Response(
        redoc_bundle(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )
