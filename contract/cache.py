"""The business cache both handlers use when ``BUSINESS_CACHE=ttl``: a TTL cache (cachetools) of
businesses by phone number id, their tokens already decrypted, filled at start by the warm-up.

As the checklist's cache: a hit is a phone id with an entry; a phone id no business has is not
remembered, so every message for it is a database query; a miss loads one business, concurrent
misses load it once each. A lock keeps the TTLCache whole under the sync handler's threads (under
asyncio it is never contended).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from cachetools import TTLCache

from .business import Business

__all__ = ["BusinessCache"]


def _nothing() -> None:
    return None


class BusinessCache:
    def __init__(
        self,
        max_size: int,
        ttl: float,
        *,
        timer: Callable[[], float] = time.monotonic,
        on_hit: Callable[[], None] = _nothing,
        on_miss: Callable[[], None] = _nothing,
    ) -> None:
        self._entries: TTLCache[str, Business] = TTLCache(max_size, ttl, timer=timer)
        self._lock = threading.Lock()
        self._on_hit, self._on_miss = on_hit, on_miss
        self.max_size, self.ttl = max_size, ttl

    def get(self, phone_number_id: str) -> Business | None:
        """The cached business, or None on a miss (the caller loads it and :meth:`put` s it)."""
        with self._lock:
            business = self._entries.get(phone_number_id)
        (self._on_miss if business is None else self._on_hit)()
        return business

    def put(self, phone_number_id: str, business: Business) -> None:
        with self._lock:
            self._entries[phone_number_id] = business

    def put_all(self, businesses: Iterable[Business]) -> int:
        """Warm-up: every phone id of every business; stops at the size bound."""
        stored = 0
        with self._lock:
            for business in businesses:
                for phone_number_id in business.phone_number_ids:
                    if stored >= self.max_size:
                        return stored
                    self._entries[phone_number_id] = business
                    stored += 1
        return stored

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
