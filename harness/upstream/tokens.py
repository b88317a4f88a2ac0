"""Which access token each phone number id must present: read from the businesses in MongoDB.

The directory holds every business that has phone ids, also disabled and inactive ones (their
token is still theirs). It is loaded at start and re-read on a miss, at most once per
``reload_interval_s``, so businesses seeded later are found while a flood of unknown ids costs the
database one query a second. Tokens are only ever compared (in constant time), never shown.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from contract import BUSINESSES, TokenCipher, TokenDecryptionError

__all__ = ["TokenDirectory", "TokenDirectoryError", "token_matches"]

_log = logging.getLogger(__name__)
_PROJECTION = {"_id": 0, "whatsappPhoneNumberIds": 1, "whatsappAccessToken": 1}


class TokenDirectoryError(RuntimeError):
    """The businesses could not be read; the message names no token and no credentials."""


def token_matches(presented: str, accepted: Iterable[str]) -> bool:
    """Constant-time comparison against every token the phone id accepts."""
    given = presented.encode()
    matched = False
    for token in accepted:
        matched |= hmac.compare_digest(given, token.encode())  # no early exit: same time either way
    return matched


class TokenDirectory:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        db_names: Iterable[str],
        cipher: TokenCipher,
        *,
        reload_interval_s: float = 1.0,
    ) -> None:
        self._client = client
        self._db_names = tuple(db_names)
        self._cipher = cipher
        self._reload_interval_s = reload_interval_s
        self._tokens: dict[str, frozenset[str]] = {}
        self._loaded_at = float("-inf")
        self._reload_lock = asyncio.Lock()
        self.undecryptable = 0
        self.loads = 0

    def __len__(self) -> int:
        return len(self._tokens)

    async def load(self) -> int:
        """Read every listed database; returns how many phone ids are known. Raises on failure."""
        self._loaded_at = time.monotonic()  # set first: a failing database is retried no faster
        tokens: dict[str, set[str]] = {}
        undecryptable = 0
        try:
            for name in self._db_names:
                query = {"whatsappPhoneNumberIds": {"$exists": True}}
                async for document in self._client[name][BUSINESSES].find(query, _PROJECTION):
                    phone_ids = document.get("whatsappPhoneNumberIds") or ()
                    try:
                        token = self._cipher.decrypt(document.get("whatsappAccessToken", ""))
                    except TokenDecryptionError:
                        undecryptable += 1
                        continue
                    for phone_id in phone_ids:
                        # The same phone in two listed databases may carry either's token.
                        tokens.setdefault(str(phone_id), set()).add(token)
        except PyMongoError as error:
            raise TokenDirectoryError(f"cannot read businesses from MongoDB: {type(error).__name__}") from None
        if undecryptable and undecryptable != self.undecryptable:
            _log.warning(
                "%d businesses have a token ENCRYPTION_SECRET cannot decrypt; ignored",
                undecryptable,
            )
        self._tokens = {phone_id: frozenset(accepted) for phone_id, accepted in tokens.items()}
        self.undecryptable = undecryptable
        self.loads += 1
        return len(self._tokens)

    async def tokens_for(self, phone_number_id: str) -> frozenset[str] | None:
        """The tokens this phone id accepts, or None when no business has it (after a reload)."""
        accepted = self._tokens.get(phone_number_id)
        if accepted is not None or not self._may_reload():
            return accepted
        async with self._reload_lock:
            # Whoever waited on the lock finds the reload already done by the first miss.
            if phone_number_id not in self._tokens and self._may_reload():
                try:
                    await self.load()
                except TokenDirectoryError as error:
                    _log.warning("keeping the previous directory: %s", error)
        return self._tokens.get(phone_number_id)

    def _may_reload(self) -> bool:
        return time.monotonic() - self._loaded_at >= self._reload_interval_s
