"""Exactly-once replies: the claim protocol on the processed-message store.

A message is answered only by the worker that *claims* its wamid: it inserts
``{_id: wamid, state: "pending", claim: <random>}`` (``_id`` is unique, so one insert wins across
every process), sends the reply, then marks the document ``done``. If the reply cannot be
delivered the claim is released (deleted), the webhook answers 503 and Meta's retry claims it
again. A claim left behind by a crashed worker may be taken over once ``claimedAt`` is older than
the processing lease. Both services run this protocol; only their drivers differ.

Two writes finish a message: marking it done once its reply is delivered, and releasing the
claim when it was not (or when the claim itself may or may not have been written: an insert cut
off by an outage). Both are idempotent, so retrying them is safe. When the database is away they
wait in :class:`PendingWrites`, which each service drains in the background (a thread, an
asyncio task). Without it a reply delivered while the database was away stays "pending" until
its lease expires: each re-delivery is answered 503 "in flight" meanwhile, and after the lease it
is taken over and answered a second time. The webhook never waits for these retries.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal

__all__ = [
    "Claim",
    "ClaimState",
    "PendingWrite",
    "PendingWrites",
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


@dataclass(frozen=True)
class PendingWrite:
    """One claim-finishing write, as the collection method to call and its arguments."""

    method: Literal["update_one", "delete_one"]
    args: tuple[dict[str, Any], ...]


class PendingWrites:
    """The claim-finishing writes this process owes the database while it is away (thread-safe).

    A service's backlog subclasses it and starts its retry loop in :meth:`_added`; a retry calls
    :meth:`settle` for each write that landed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes: dict[tuple[str, ...], PendingWrite] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._writes)

    def replied(self, wamid: str) -> bool:
        """This process delivered the reply and is still marking it: a re-delivery is a duplicate."""
        with self._lock:
            return ("done", wamid) in self._writes

    def mark_done(self, claim: Claim, reply_id: str) -> None:
        done = PendingWrite("update_one", ({"_id": claim.wamid}, done_update(reply_id)))
        self._put(("done", claim.wamid), done)

    def release(self, claim: Claim) -> None:
        self._put(("release", claim.wamid, claim.token), PendingWrite("delete_one", (release_filter(claim),)))

    def pending(self) -> list[tuple[tuple[str, ...], PendingWrite]]:
        """A snapshot of (key, write) to retry; writes added meanwhile wait for the next round."""
        with self._lock:
            return list(self._writes.items())

    def settle(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._writes.pop(key, None)

    def _put(self, key: tuple[str, ...], write: PendingWrite) -> None:
        with self._lock:
            self._writes[key] = write
        self._added()

    def _added(self) -> None:
        """A write was added: a subclass makes sure its retry loop runs."""
