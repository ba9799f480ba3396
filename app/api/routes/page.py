"""The drawing page at ``/``: one HTML file, its script and its stylesheet, served from app/static/page/.

The assets are a fixed list, so no request path ever reaches the filesystem. The page loads nothing
from other hosts, and its Content-Security-Policy says so to the browser as well.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

PAGE_DIR = Path(__file__).resolve().parents[2] / "static" / "page"
# Name -> media type; explicit, because the platform's mimetypes table varies (.js especially).
ASSETS = {
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # revalidate, so a redeploy never pairs a new page with an old script
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/page/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no page asset named {name!r}")
    return FileResponse(PAGE_DIR / name, media_type=media_type, headers=_HEADERS)
