"""Start-up work that needs the database, done in the background so the process comes up (and
``/health`` answers) even while the database is away; ``/ready`` turns 200 when it is done."""

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
    health: DatabaseHealth
    warm_up: bool
    warmed_up: bool = False
    warmed_entries: int = 0

    @property
    def ready(self) -> bool:
        return self.warmed_up and self.health.available

    async def prepare(self, retry_every: float = 1.0) -> None:
        while True:
            if self.health.available:
                try:
                    await self.store.ensure_indexes()
                    if self.warm_up:
                        self.warmed_entries = await self.store.warm_up()
                        log.info("cache warmed with %d phone ids", self.warmed_entries)
                    self.warmed_up = True
                    return
                except PyMongoError as error:
                    self.health.observe(error)
                    log.warning("start-up database work failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(retry_every)

    def describe(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "database": "ok" if self.health.available else "unreachable",
            "warmed_up": self.warmed_up,
            "warmed_entries": self.warmed_entries,
        }
