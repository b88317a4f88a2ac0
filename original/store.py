"""The original's database access: synchronous PyMongo, one lookup per message, no cache."""

from __future__ import annotations

import logging
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from contract import (
    BUSINESS_PROJECTION,
    BUSINESSES,
    PROCESSED_MESSAGES,
    Business,
    Claim,
    ClaimState,
    Settings,
    TokenCipher,
    TokenDecryptionError,
    business_from_document,
    business_lookup_filter,
)
from contract import claims as protocol
from contract.http import ServiceUnavailable

from .backlog import WriteBacklog

__all__ = ["MessageStore", "connect"]

log = logging.getLogger("original.store")


def connect(settings: Settings) -> MongoClient[dict[str, Any]]:
    # The driver's default pool (maxPoolSize 100); timeoutMS bounds every operation.
    return MongoClient(settings.mongodb_uri, timeoutMS=settings.mongodb_timeout_ms, appname="original")


class MessageStore:
    """Business lookups and the exactly-once claims, for one database."""

    def __init__(self, db: Database[dict[str, Any]], cipher: TokenCipher, lease_seconds: float) -> None:
        self._businesses = db[BUSINESSES]
        self._processed = db[PROCESSED_MESSAGES]
        self._cipher = cipher
        self._lease = lease_seconds
        self.backlog = WriteBacklog(self._processed)

    def answerable_business(self, phone_number_id: str) -> Business | None:
        try:
            document = self._businesses.find_one(business_lookup_filter(phone_number_id), BUSINESS_PROJECTION)
            return business_from_document(document, self._cipher) if document else None
        except PyMongoError as error:
            raise ServiceUnavailable() from error
        except TokenDecryptionError as error:
            log.error("business for phone id %s has a token this ENCRYPTION_SECRET cannot read", phone_number_id)
            raise ServiceUnavailable("business credentials unreadable; retry later") from error

    def claim(self, wamid: str, phone_number_id: str) -> tuple[ClaimState, Claim]:
        claim = Claim(wamid)
        if self.backlog.replied(wamid):  # answered here; only the "done" mark is still pending
            return ClaimState.DONE, claim
        try:
            try:
                self._processed.insert_one(protocol.claim_document(claim, phone_number_id))
                return ClaimState.CLAIMED, claim
            except DuplicateKeyError:
                pass
            taken = self._processed.find_one_and_update(
                protocol.takeover_filter(wamid, self._lease), protocol.takeover_update(claim)
            )
            if taken is not None:
                return ClaimState.CLAIMED, claim
            existing = self._processed.find_one({"_id": wamid}, {"state": 1})
            return protocol.state_of(existing), claim
        except PyMongoError as error:
            # The insert or takeover may have landed before the connection failed: free the claim
            # once the database is back (nobody answered under it), or Meta's retries would be
            # told "in flight" until its lease ran out.
            self.backlog.release(claim)
            raise ServiceUnavailable() from error

    def mark_done(self, claim: Claim, reply_id: str) -> bool:
        """One attempt; if the database is away the mark waits in the backlog. False then: the
        reply *was* delivered, so the webhook still answers 200 (a retry could only send it twice)."""
        try:
            self._processed.update_one({"_id": claim.wamid}, protocol.done_update(reply_id))
            return True
        except PyMongoError:
            self.backlog.mark_done(claim, reply_id)
            log.warning("reply to %s delivered; marked done once the database is back", claim.wamid)
            return False

    def release(self, claim: Claim) -> None:
        """Give the message back so Meta's retry can answer it (from the backlog if the database is away)."""
        try:
            self._processed.delete_one(protocol.release_filter(claim))
        except PyMongoError:
            self.backlog.release(claim)
