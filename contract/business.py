"""The business document as the seed's database stores it, and the decrypted view services use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .crypto import TokenCipher

__all__ = [
    "BUSINESS_PROJECTION",
    "Business",
    "active_businesses_filter",
    "business_from_document",
    "business_lookup_filter",
    "new_business_document",
]

# Only what replying needs crosses the wire (the refresh token stays in the database).
BUSINESS_PROJECTION = {
    "_id": 1,
    "name": 1,
    "subDomain": 1,
    "whatsappPhoneNumberIds": 1,
    "whatsappAccessToken": 1,
}


@dataclass(frozen=True, slots=True)
class Business:
    """An active, WhatsApp-enabled business with its access token already decrypted."""

    id: str
    name: str
    sub_domain: str
    phone_number_ids: tuple[str, ...]
    access_token: str = field(repr=False)  # never in a repr, so never in a log line


def business_lookup_filter(phone_number_id: str) -> dict[str, Any]:
    """The query the webhook runs; ``webhook_lookup_idx`` covers exactly these three keys."""
    return {"whatsappPhoneNumberIds": phone_number_id, "whatsappEnabled": True, "isActive": True}


def active_businesses_filter() -> dict[str, Any]:
    """Every business the webhook may answer for: what the cache's warm-up loads."""
    return {"whatsappEnabled": True, "isActive": True}


def business_from_document(document: dict[str, Any], cipher: TokenCipher) -> Business:
    """Decrypts the token; raises :class:`~contract.crypto.TokenDecryptionError` on a wrong secret."""
    return Business(
        id=str(document["_id"]),
        name=document.get("name", ""),
        sub_domain=document.get("subDomain", ""),
        phone_number_ids=tuple(document.get("whatsappPhoneNumberIds", ())),
        access_token=cipher.decrypt(document["whatsappAccessToken"]),
    )


def new_business_document(
    *,
    business_id: str,
    name: str,
    sub_domain: str,
    waba_id: str,
    phone_number_ids: list[str],
    access_token: str,
    refresh_token: str,
    cipher: TokenCipher,
    token_expires_at: datetime,
    enabled: bool = True,
    active: bool = True,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "_id": business_id,
        "name": name,
        "subDomain": sub_domain,
        "wabaId": waba_id,
        "whatsappPhoneNumberIds": phone_number_ids,
        "whatsappAccessToken": cipher.encrypt(access_token),
        "whatsappRefreshToken": cipher.encrypt(refresh_token),
        "whatsappTokenExpiresAt": token_expires_at,
        "whatsappEnabled": enabled,
        "isActive": active,
        "createdAt": created_at or datetime.now(UTC),
    }
