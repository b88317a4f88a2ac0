"""Bearer-token check for the admin routes: 401 without a token, 403 with a wrong one, and the
routes answer 404 when no ``ADMIN_TOKEN`` is configured (disabled, not open)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from contract import Settings

__all__ = ["require_admin"]


def require_admin(request: Request, settings: Settings) -> None:
    if settings.admin_token is None:
        raise HTTPException(404, "admin endpoints are disabled (ADMIN_TOKEN is not set)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode(), settings.admin_token.get_secret_value().encode()):
        raise HTTPException(403, "admin token rejected")
