"""The async handler's database access: business lookups (through the cache when there is one)
and the exactly-once claims."""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from contract import (
    BUSINESS_INDEXES,
    BUSINESS_PROJECTION,
    BUSINESSES,
    PROCESSED_MESSAGES,
    Business,
    BusinessCache,
    Claim,
    ClaimState,
    TokenCipher,
    TokenDecryptionError,
    active_businesses_filter,
    business_from_document,
    business_lookup_filter,
)
from contract import claims as protocol
from contract.http import ServiceUnavailable

from .backlog import WriteBacklog
from .database import DatabaseHealth

__all__ = ["MessageStore"]

log = logging.getLogger("optimized.store")


class MessageStore:
    """``health`` is the database watch when the service fails fast (DATABASE_DOWN=fail-fast):
    an operation that could not reach the server marks the database down, and the claim-finishing
    writes go straight to the backlog while it is. Without it every call tries the database."""

    def __init__(
        self,
        db: Any,
        cipher: TokenCipher,
        lease_seconds: float,
        *,
        cache: BusinessCache | None = None,
        health: DatabaseHealth | None = None,
    ) -> None:
        self._businesses = db[BUSINESSES]
        self._processed = db[PROCESSED_MESSAGES]
        self._cipher = cipher
        self.cache = cache
        self._health = health
        self._lease = lease_seconds
        self.backlog = WriteBacklog(self._processed, observe=self._observe)

    def _observe(self, error: PyMongoError) -> None:
        if self._health is not None:
            self._health.observe(error)

    def _reachable(self) -> bool:
        return self._health is None or self._health.available

    def _unavailable(self, error: PyMongoError) -> ServiceUnavailable:
        self._observe(error)
        return ServiceUnavailable()

    # -- businesses --------------------------------------------------------------------------
    async def answerable_business(self, phone_number_id: str) -> Business | None:
        if self.cache is not None and (cached := self.cache.get(phone_number_id)) is not None:
            return cached
        try:
            document = await self._businesses.find_one(business_lookup_filter(phone_number_id), BUSINESS_PROJECTION)
        except PyMongoError as error:
            raise self._unavailable(error) from error
        if document is None:
            return None
        try:
            business = business_from_document(document, self._cipher)
        except TokenDecryptionError as error:
            log.error("business for phone id %s has a token this ENCRYPTION_SECRET cannot read", phone_number_id)
            raise ServiceUnavailable("business credentials unreadable; retry later") from error
        if self.cache is not None:
            self.cache.put(phone_number_id, business)
        return business

    async def warm_up(self) -> int:
        """Every active business in ONE query, into the cache. (The checklist's code makes one
        query per phone id of at most 100 businesses: start-up work, never in a measured window.)"""
        assert self.cache is not None
        documents = await self._businesses.find(active_businesses_filter(), BUSINESS_PROJECTION).to_list(None)
        businesses = []
        for document in documents:
            try:
                businesses.append(business_from_document(document, self._cipher))
            except TokenDecryptionError:
                log.error("skipping business %s in warm-up: unreadable token", document.get("_id"))
        return self.cache.put_all(businesses)

    async def ensure_indexes(self) -> list[str]:
        return await self._businesses.create_indexes(BUSINESS_INDEXES)

    # -- exactly-once claims -----------------------------------------------------------------
    async def claim(self, wamid: str, phone_number_id: str) -> tuple[ClaimState, Claim]:
        claim = Claim(wamid)
        if self.backlog.replied(wamid):  # answered here; only the "done" mark is still pending
            return ClaimState.DONE, claim
        try:
            try:
                await self._processed.insert_one(protocol.claim_document(claim, phone_number_id))
                return ClaimState.CLAIMED, claim
            except DuplicateKeyError:
                pass
            taken = await self._processed.find_one_and_update(
                protocol.takeover_filter(wamid, self._lease), protocol.takeover_update(claim)
            )
            if taken is not None:
                return ClaimState.CLAIMED, claim
            existing = await self._processed.find_one({"_id": wamid}, {"state": 1})
            return protocol.state_of(existing), claim
        except PyMongoError as error:
            # The insert or takeover may have landed before the connection failed: free the claim
            # once the database is back (nobody answered under it), or Meta's retries would be
            # told "in flight" until its lease ran out.
            self.backlog.release(claim)
            raise self._unavailable(error) from error

    async def mark_done(self, claim: Claim, reply_id: str) -> bool:
        """One attempt; if the database is away the mark waits in the backlog. False then: the
        reply *was* delivered, so the webhook still answers 200 (a retry could only send it twice)."""
        if self._reachable():
            try:
                await self._processed.update_one({"_id": claim.wamid}, protocol.done_update(reply_id))
                return True
            except PyMongoError as error:
                self._observe(error)
        self.backlog.mark_done(claim, reply_id)
        log.warning("reply to %s delivered; marked done once the database is back", claim.wamid)
        return False

    async def release(self, claim: Claim) -> None:
        if self._reachable():
            try:
                await self._processed.delete_one(protocol.release_filter(claim))
                return
            except PyMongoError as error:
                self._observe(error)
        self.backlog.release(claim)
