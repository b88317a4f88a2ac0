"""Collections and index specifications, by name, that both services and the seed agree on."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

__all__ = [
    "BUSINESSES",
    "BUSINESS_INDEXES",
    "PROCESSED_MESSAGES",
    "PROCESSED_MESSAGE_INDEXES",
    "PROCESSED_RETENTION_SECONDS",
]

BUSINESSES = "businesses"
# One document per answered message, keyed by its wamid: ``_id`` is a unique index that every
# MongoDB collection has, so idempotency holds across processes in both designs, including the
# original one that creates no indexes of its own.
PROCESSED_MESSAGES = "processed_messages"
# Meta retries a delivery for up to 7 days; a processed id must be remembered at least that long.
PROCESSED_RETENTION_SECONDS = 8 * 24 * 3600

BUSINESS_INDEXES = [
    IndexModel(
        [("whatsappPhoneNumberIds", ASCENDING), ("whatsappEnabled", ASCENDING), ("isActive", ASCENDING)],
        name="webhook_lookup_idx",
    ),
    IndexModel([("subDomain", ASCENDING), ("isActive", ASCENDING)], name="subdomain_lookup_idx"),
]
PROCESSED_MESSAGE_INDEXES = [
    IndexModel(
        [("claimedAt", ASCENDING)],
        name="processed_expiry_idx",
        expireAfterSeconds=PROCESSED_RETENTION_SECONDS,
    ),
]
