"""The GET verification handshake Meta performs when a webhook URL is subscribed."""

from __future__ import annotations

import hmac

__all__ = ["subscription_challenge"]


def subscription_challenge(mode: str | None, token: str | None, challenge: str | None, verify_token: str) -> str | None:
    """The challenge to echo back, or None when the request must be refused (403)."""
    if mode != "subscribe" or token is None or challenge is None:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge
