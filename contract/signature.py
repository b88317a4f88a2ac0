"""``X-Hub-Signature-256``: Meta signs each webhook body with the app secret (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign_body", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign_body(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when ``header`` signs exactly these bytes. Constant-time, never raises."""
    if not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign_body(body, app_secret).encode(), header.strip().encode("ascii", "replace"))
