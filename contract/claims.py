"""Exactly-once replies: the claim protocol on the processed-message store.

A message is answered only by the worker that *claims* its wamid: it inserts
``{_id: wamid, state: "pending", claim: <random>}`` (``_id`` is unique, so one insert wins across
every process), sends the reply, then marks the document ``done``. If the reply cannot be
delivered the claim is released (deleted), the webhook answers 503 and Meta's retry claims it
again. A claim left behind by a crashed worker may be taken over once ``claimedAt`` is older than
the processing lease. Both services run this protocol; only their drivers differ.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

__all__ = [
    "Claim",
    "ClaimState",
    "claim_document",
    "done_update",
    "release_filter",
    "state_of",
    "takeover_filter",
    "takeover_update",
]

PENDING = "pending"
DONE = "done"


class ClaimState(Enum):
    CLAIMED = "claimed"  # this worker answers the message
    DONE = "done"  # answered before: a duplicate delivery
    IN_FLIGHT = "in_flight"  # another worker is answering it now: ask Meta to retry later


class Claim:
    """This worker's claim on one message: the token that proves it when marking or releasing."""

    __slots__ = ("wamid", "token", "claimed_at")

    def __init__(self, wamid: str) -> None:
        self.wamid = wamid
        self.token = secrets.token_hex(8)
        self.claimed_at = datetime.now(UTC)


def claim_document(claim: Claim, phone_number_id: str) -> dict[str, Any]:
    return {
        "_id": claim.wamid,
        "state": PENDING,
        "claim": claim.token,
        "claimedAt": claim.claimed_at,
        "phoneNumberId": phone_number_id,
    }


def takeover_filter(wamid: str, lease_seconds: float) -> dict[str, Any]:
    stale_before = datetime.now(UTC) - timedelta(seconds=lease_seconds)
    return {"_id": wamid, "state": PENDING, "claimedAt": {"$lt": stale_before}}


def takeover_update(claim: Claim) -> dict[str, Any]:
    return {"$set": {"claim": claim.token, "claimedAt": claim.claimed_at}}


def done_update(reply_id: str) -> dict[str, Any]:
    return {"$set": {"state": DONE, "repliedAt": datetime.now(UTC), "replyId": reply_id}}


def release_filter(claim: Claim) -> dict[str, Any]:
    return {"_id": claim.wamid, "state": PENDING, "claim": claim.token}


def state_of(existing: dict[str, Any] | None) -> ClaimState:
    """What an existing document (that this worker could not claim) means for this delivery."""
    if existing is not None and existing.get("state") == DONE:
        return ClaimState.DONE
    # Pending, or released in the instant between our insert and this read: retrying is safe.
    return ClaimState.IN_FLIGHT
