"""The optimized service's database access: cached business lookups and exactly-once claims."""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from contract import (
    BUSINESS_INDEXES,
    BUSINESS_PROJECTION,
    BUSINESSES,
    PROCESSED_MESSAGE_INDEXES,
    PROCESSED_MESSAGES,
    Business,
    Claim,
    ClaimState,
    TokenCipher,
    TokenDecryptionError,
    business_from_document,
    business_lookup_filter,
)
from contract import claims as protocol
from contract.http import ServiceUnavailable

from .backlog import WriteBacklog
from .cache import BusinessCache
from .database import DatabaseHealth

__all__ = ["MessageStore"]

log = logging.getLogger("optimized.store")


class MessageStore:
    def __init__(
        self,
        db: Any,
        cipher: TokenCipher,
        cache: BusinessCache,
        health: DatabaseHealth,
        lease_seconds: float,
    ) -> None:
        self._businesses = db[BUSINESSES]
        self._processed = db[PROCESSED_MESSAGES]
        self._cipher = cipher
        self.cache = cache
        self._health = health
        self._lease = lease_seconds
        self.backlog = WriteBacklog(self._processed, observe=health.observe)

    def _unavailable(self, error: PyMongoError) -> ServiceUnavailable:
        self._health.observe(error)
        return ServiceUnavailable()

    # -- businesses --------------------------------------------------------------------------
    async def answerable_business(self, phone_number_id: str) -> Business | None:
        try:
            return await self.cache.get(phone_number_id, self._load_business)
        except PyMongoError as error:
            raise self._unavailable(error) from error

    async def _load_business(self, phone_number_id: str) -> Business | None:
        document = await self._businesses.find_one(business_lookup_filter(phone_number_id), BUSINESS_PROJECTION)
        if document is None:
            return None
        try:
            return business_from_document(document, self._cipher)
        except TokenDecryptionError as error:
            log.error("business for phone id %s has a token this ENCRYPTION_SECRET cannot read", phone_number_id)
            raise ServiceUnavailable("business credentials unreadable; retry later") from error

    async def warm_up(self) -> int:
        """Every active business in ONE query (the seed's warm-up made one query per business)."""
        query = {"whatsappEnabled": True, "isActive": True}
        documents = await self._businesses.find(query, BUSINESS_PROJECTION).to_list(None)
        businesses = []
        for document in documents:
            try:
                businesses.append(business_from_document(document, self._cipher))
            except TokenDecryptionError:
                log.error("skipping business %s in warm-up: unreadable token", document.get("_id"))
        return self.cache.put_all(businesses)

    async def ensure_indexes(self) -> list[str]:
        names = await self._businesses.create_indexes(BUSINESS_INDEXES)
        return names + await self._processed.create_indexes(PROCESSED_MESSAGE_INDEXES)

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
        if self._health.available:
            try:
                await self._processed.update_one({"_id": claim.wamid}, protocol.done_update(reply_id))
                return True
            except PyMongoError as error:
                self._health.observe(error)
        self.backlog.mark_done(claim, reply_id)
        log.warning("reply to %s delivered; marked done once the database is back", claim.wamid)
        return False

    async def release(self, claim: Claim) -> None:
        if self._health.available:
            try:
                await self._processed.delete_one(protocol.release_filter(claim))
                return
            except PyMongoError as error:
                self._health.observe(error)
        self.backlog.release(claim)
