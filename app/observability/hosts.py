"""Answering only to the host names the operator lists (SERVE_TRUSTED_HOSTS), checked on the Host header.

A wrong Host is refused with 400 before any route runs, so no answer (a redirect's Location, a link in the
docs) is built from a name a client made up. Starlette has such a middleware; this one answers in the
service's {"detail": ...} shape and never redirects to a ``www.`` name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

_REFUSAL = json.dumps({"detail": "the Host header names a host this service does not answer to"}).encode()


class TrustedHosts:
    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        self.exact = frozenset(h.lower() for h in allowed_hosts if not h.startswith("*."))
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))  # ".example.com"

    def allow(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether the request's Host header names an allowed host."""
        host = _host(headers)
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, *, hosts: TrustedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.hosts.allow(scope["headers"]):
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_REFUSAL))]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _REFUSAL})


def _host(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The Host header's name, lower case, without its port ("[::1]:8000" -> "[::1]")."""
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1").lower()
            return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return ""
