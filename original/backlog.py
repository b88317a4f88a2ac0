"""The claim-finishing writes that could not reach the database, retried by a background thread
until it is back (why: see :mod:`contract.claims`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from contract import Claim
from contract import claims as protocol

__all__ = ["WriteBacklog"]

log = logging.getLogger("original.backlog")


class WriteBacklog:
    def __init__(self, processed: Collection[dict[str, Any]], *, retry_every: float = 0.5) -> None:
        self._processed = processed
        self._retry_every = retry_every
        self._lock = threading.Lock()
        self._done: dict[str, str] = {}  # wamid -> reply id: delivered, not yet marked
        self._released: dict[tuple[str, str], Claim] = {}  # (wamid, claim token) -> claim to free
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def __len__(self) -> int:
        with self._lock:
            return len(self._done) + len(self._released)

    def replied(self, wamid: str) -> bool:
        """This process delivered the reply and is still marking it: a re-delivery is a duplicate."""
        with self._lock:
            return wamid in self._done

    def mark_done(self, claim: Claim, reply_id: str) -> None:
        with self._lock:
            self._done[claim.wamid] = reply_id
        self._wake()

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._released[(claim.wamid, claim.token)] = claim
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="claim-backlog", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while len(self) and not self._closed.wait(self._retry_every):
            self.flush()

    def flush(self) -> int:
        """Try every pending write once; how many are still pending."""
        with self._lock:
            done, released = list(self._done.items()), list(self._released.items())
        for wamid, reply_id in done:
            if self._try(self._processed.update_one, {"_id": wamid}, protocol.done_update(reply_id)):
                with self._lock:
                    self._done.pop(wamid, None)
        for key, claim in released:
            if self._try(self._processed.delete_one, protocol.release_filter(claim)):
                with self._lock:
                    self._released.pop(key, None)
        return len(self)

    @staticmethod
    def _try(write: Callable[..., object], *args: Any) -> bool:
        try:
            write(*args)
        except PyMongoError:
            return False
        return True

    def close(self) -> None:
        """Stop retrying; one last try, and say (by count) what is left to the lease."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(10)
        if len(self) and self.flush():
            log.warning("%d claim writes never reached the database; their leases will free them", len(self))
