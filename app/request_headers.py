"""One request header read straight from the ASGI scope, for the prediction routes' few lookups.

``request.headers`` builds Starlette's Headers object before searching it: about 2 µs for a request that
reads one header, ten times this loop over the scope's names (lower case, as ASGI servers give them).
"""

from __future__ import annotations

from starlette.requests import Request


def header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as ``request.headers.get`` reads it, or None."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
