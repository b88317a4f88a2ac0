"""The claim-finishing writes that could not reach the database, retried by an asyncio task
until it is back (why: see :mod:`contract.claims`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from pymongo.errors import PyMongoError

from contract import Claim
from contract import claims as protocol

__all__ = ["WriteBacklog"]

log = logging.getLogger("optimized.backlog")


class WriteBacklog:
    def __init__(self, processed: Any, *, observe: Callable[[PyMongoError], None], retry_every: float = 0.5) -> None:
        self._processed = processed
        self._observe = observe
        self._retry_every = retry_every
        self._done: dict[str, str] = {}  # wamid -> reply id: delivered, not yet marked
        self._released: dict[tuple[str, str], Claim] = {}  # (wamid, claim token) -> claim to free
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._done) + len(self._released)

    def replied(self, wamid: str) -> bool:
        """This process delivered the reply and is still marking it: a re-delivery is a duplicate."""
        return wamid in self._done

    def mark_done(self, claim: Claim, reply_id: str) -> None:
        self._done[claim.wamid] = reply_id
        self._wake()

    def release(self, claim: Claim) -> None:
        self._released[(claim.wamid, claim.token)] = claim
        self._wake()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while len(self):
            await asyncio.sleep(self._retry_every)
            await self.flush()

    async def flush(self) -> int:
        """Try every pending write once; how many are still pending."""
        for wamid, reply_id in list(self._done.items()):
            if await self._try(self._processed.update_one({"_id": wamid}, protocol.done_update(reply_id))):
                del self._done[wamid]
        for key, claim in list(self._released.items()):
            if await self._try(self._processed.delete_one(protocol.release_filter(claim))):
                del self._released[key]
        return len(self)

    async def _try(self, write: Any) -> bool:
        try:
            await write
        except PyMongoError as error:
            self._observe(error)
            return False
        return True

    async def close(self) -> None:
        """Stop retrying; one last try, and say (by count) what is left to the lease."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if len(self) and await self.flush():
            log.warning("%d claim writes never reached the database; their leases will free them", len(self))
