"""A TTL cache of businesses (token already decrypted) with single-flight loading.

Concurrent misses for one phone id share one database query instead of stampeding the
database; unknown phone ids are remembered briefly as negative entries, so a flood of messages
for an unknown number costs one query per ``negative_ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from cachetools import TTLCache

from contract import Business

__all__ = ["BusinessCache", "CacheStats"]

Loader = Callable[[str], Awaitable[Business | None]]


@dataclass(frozen=True, slots=True)
class CacheStats:
    size: int
    max_size: int
    ttl_seconds: float
    hits: int
    misses: int
    loads: int  # database queries made on misses (coalesced misses share one)

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


class BusinessCache:
    def __init__(
        self,
        max_size: int,
        ttl: float,
        negative_ttl: float,
        *,
        timer: Callable[[], float] = time.monotonic,
        on_hit: Callable[[], None] = lambda: None,
        on_miss: Callable[[], None] = lambda: None,
        on_load: Callable[[], None] = lambda: None,
    ) -> None:
        self._found: TTLCache[str, Business] = TTLCache(max_size, ttl, timer=timer)
        # Bounded too: a sender inventing phone ids must not grow memory without limit.
        self._unknown: TTLCache[str, bool] = TTLCache(max_size, max(negative_ttl, 1e-9), timer=timer)
        self._negative_ttl = negative_ttl
        self._loading: dict[str, asyncio.Task[Business | None]] = {}
        self._on_hit, self._on_miss, self._on_load = on_hit, on_miss, on_load
        self.hits = self.misses = self.loads = 0

    async def get(self, phone_number_id: str, load: Loader) -> Business | None:
        business = self._found.get(phone_number_id)
        if business is not None or phone_number_id in self._unknown:
            self.hits += 1
            self._on_hit()
            return business
        self.misses += 1
        self._on_miss()
        task = self._loading.get(phone_number_id)
        if task is None:
            task = asyncio.ensure_future(self._load(phone_number_id, load))
            self._loading[phone_number_id] = task
        # shield: one caller giving up (client gone) must not cancel the others' shared query
        return await asyncio.shield(task)

    async def _load(self, phone_number_id: str, load: Loader) -> Business | None:
        try:
            self.loads += 1
            self._on_load()
            business = await load(phone_number_id)
            if business is not None:
                self._found[phone_number_id] = business
            elif self._negative_ttl > 0:
                self._unknown[phone_number_id] = True
            return business
        finally:
            del self._loading[phone_number_id]

    def put_all(self, businesses: Iterable[Business]) -> int:
        """Warm-up: every phone id of every business; stops at the size bound."""
        stored = 0
        for business in businesses:
            for phone_number_id in business.phone_number_ids:
                if stored >= self._found.maxsize:
                    return stored
                self._found[phone_number_id] = business
                stored += 1
        return stored

    def __len__(self) -> int:
        return len(self._found)

    def clear(self) -> None:
        self._found.clear()
        self._unknown.clear()

    def stats(self) -> CacheStats:
        return CacheStats(
            size=len(self._found),
            max_size=int(self._found.maxsize),
            ttl_seconds=float(self._found.ttl),
            hits=self.hits,
            misses=self.misses,
            loads=self.loads,
        )
