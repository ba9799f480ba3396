"""The optional API key, as dependencies that routers attach where they are included.

With ``SERVE_API_KEY`` unset the service is open. With it set, every router included with
``dependencies=[RequireApiKey]`` wants the key, sent as ``Authorization: Bearer <key>`` or
``X-API-Key: <key>`` (the Bearer header wins when both come). Keys are compared in constant time and
never logged: this module logs nothing, and the settings hold the key as a SecretStr.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from app.api.deps import SettingsDep

# auto_error=False: the schemes only read the headers (and give Swagger its Authorize button);
# deciding whether a missing key matters is require_api_key's job.
bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer <SERVE_API_KEY>`")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <SERVE_API_KEY>`")

MISSING_KEY = "missing API key: send Authorization: Bearer <key> or X-API-Key"
INVALID_KEY = "invalid API key"
ADMIN_DISABLED = "admin endpoints are disabled: set SERVE_API_KEY to enable them"


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


async def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> None:
    """Let the request through when no key is configured or the right one is sent; else 401."""
    refusal = key_refusal(settings.api_key, bearer.credentials if bearer is not None else api_key)
    if refusal is not None:
        raise _unauthorized(refusal)


def key_refusal(expected: SecretStr | None, presented: str | None) -> str | None:
    """Why a request that presents ``presented`` is refused; None when it may pass. REST and gRPC share it."""
    if expected is None:
        return None
    if not presented:
        return MISSING_KEY
    if not hmac.compare_digest(presented.encode(), expected.get_secret_value().encode()):
        return INVALID_KEY
    return None


async def require_admin_key(settings: SettingsDep, _: Annotated[None, Depends(require_api_key)]) -> None:
    """Admin endpoints change what is served, so they exist only behind a key: none set, 403."""
    if settings.api_key is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, ADMIN_DISABLED)


# For include_router(..., dependencies=[...]) and APIRouter(dependencies=[...]). All async: FastAPI runs a
# plain def dependency in a worker thread, a hop per request that costs more than the check itself.
RequireApiKey = Depends(require_api_key)
RequireAdminKey = Depends(require_admin_key)
