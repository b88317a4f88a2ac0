"""The sync handler's database access: business lookups (through the cache when there is one)
and the exactly-once claims, with synchronous PyMongo."""

from __future__ import annotations

import logging
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from contract import (
    BUSINESS_INDEXES,
    BUSINESS_PROJECTION,
    BUSINESSES,
    PROCESSED_MESSAGES,
    Architecture,
    Business,
    BusinessCache,
    Claim,
    ClaimState,
    PoolSizing,
    Settings,
    TokenCipher,
    TokenDecryptionError,
    active_businesses_filter,
    business_from_document,
    business_lookup_filter,
)
from contract import claims as protocol
from contract.http import ServiceUnavailable

from .backlog import WriteBacklog

__all__ = ["MessageStore", "connect"]

log = logging.getLogger("original.store")


def connect(settings: Settings, architecture: Architecture) -> MongoClient[dict[str, Any]]:
    """One client per process; timeoutMS bounds every operation. The pool is the driver's
    default (0..100) unless MONGODB_POOL=sized."""
    options: dict[str, Any] = {"timeoutMS": settings.mongodb_timeout_ms, "appname": "sync-handler"}
    if architecture.pool is PoolSizing.SIZED:
        options.update(maxPoolSize=settings.mongodb_max_pool_size, minPoolSize=settings.mongodb_min_pool_size)
    return MongoClient(settings.mongodb_uri, **options)


class MessageStore:
    """Business lookups and the exactly-once claims, for one database."""

    def __init__(
        self, db: Database[dict[str, Any]], cipher: TokenCipher, lease_seconds: float, cache: BusinessCache | None
    ) -> None:
        self._businesses = db[BUSINESSES]
        self._processed = db[PROCESSED_MESSAGES]
        self._cipher = cipher
        self._lease = lease_seconds
        self.cache = cache
        self.backlog = WriteBacklog(self._processed)

    # -- businesses --------------------------------------------------------------------------
    def answerable_business(self, phone_number_id: str) -> Business | None:
        if self.cache is not None and (cached := self.cache.get(phone_number_id)) is not None:
            return cached
        try:
            document = self._businesses.find_one(business_lookup_filter(phone_number_id), BUSINESS_PROJECTION)
            business = business_from_document(document, self._cipher) if document else None
        except PyMongoError as error:
            raise ServiceUnavailable() from error
        except TokenDecryptionError as error:
            log.error("business for phone id %s has a token this ENCRYPTION_SECRET cannot read", phone_number_id)
            raise ServiceUnavailable("business credentials unreadable; retry later") from error
        if self.cache is not None and business is not None:
            self.cache.put(phone_number_id, business)
        return business

    def warm_up(self) -> int:
        """Every active business in one query, into the cache."""
        assert self.cache is not None
        documents = self._businesses.find(active_businesses_filter(), BUSINESS_PROJECTION)
        businesses = []
        for document in documents:
            try:
                businesses.append(business_from_document(document, self._cipher))
            except TokenDecryptionError:
                log.error("skipping business %s in warm-up: unreadable token", document.get("_id"))
        return self.cache.put_all(businesses)

    def ensure_indexes(self) -> list[str]:
        return self._businesses.create_indexes(BUSINESS_INDEXES)

    # -- exactly-once claims -----------------------------------------------------------------
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
