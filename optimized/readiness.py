"""Start-up work that needs the database (the migration's indexes, the cache's warm-up), done in
the background so the process comes up (and ``/health`` answers) even while the database is
away; ``/ready`` turns 200 when it is done and the database answers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from .database import DatabaseHealth
from .store import MessageStore

__all__ = ["Readiness"]

log = logging.getLogger("optimized.readiness")


@dataclass
class Readiness:
    store: MessageStore
    health: DatabaseHealth | None  # the database watch, when the service keeps one
    indexes: bool
    warm_up: bool
    prepared: bool = False
    warmed_entries: int = 0

    @property
    def needed(self) -> bool:
        return self.indexes or self.warm_up

    @property
    def ready(self) -> bool:
        return self.prepared and (self.health is None or self.health.available)

    async def prepare(self, retry_every: float = 1.0) -> None:
        while True:
            if self.health is None or self.health.available:
                try:
                    if self.indexes:
                        await self.store.ensure_indexes()
                    if self.warm_up:
                        self.warmed_entries = await self.store.warm_up()
                        log.info("cache warmed with %d phone ids", self.warmed_entries)
                    self.prepared = True
                    return
                except PyMongoError as error:
                    if self.health is not None:
                        self.health.observe(error)
                    log.warning("start-up database work failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(retry_every)

    def describe(self) -> dict[str, object]:
        available = self.health is None or self.health.available
        return {
            "status": "ready" if self.ready else "not ready",
            "database": "ok" if available else "unreachable",
            "warmed_up": self.prepared,
            "warmed_entries": self.warmed_entries,
        }
