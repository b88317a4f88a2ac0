"""The claim-finishing writes that could not reach the database, retried by an asyncio task
until it is back (why: see :mod:`contract.claims`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pymongo.errors import PyMongoError

from contract import PendingWrites

__all__ = ["WriteBacklog"]

log = logging.getLogger("optimized.backlog")


class WriteBacklog(PendingWrites):
    def __init__(self, processed: Any, *, observe: Callable[[PyMongoError], None], retry_every: float = 0.5) -> None:
        super().__init__()
        self._processed = processed
        self._observe = observe
        self._retry_every = retry_every
        self._task: asyncio.Task[None] | None = None

    def _added(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while len(self):
            await asyncio.sleep(self._retry_every)
            await self.flush()

    async def flush(self) -> int:
        """Try every pending write once; how many are still pending."""
        for key, write in self.pending():
            try:
                await getattr(self._processed, write.method)(*write.args)
            except PyMongoError as error:
                self._observe(error)
                continue
            self.settle(key)
        return len(self)

    async def close(self) -> None:
        """Stop retrying; one last try, and say (by count) what is left to the lease."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if len(self) and await self.flush():
            log.warning("%d claim writes never reached the database; their leases will free them", len(self))
