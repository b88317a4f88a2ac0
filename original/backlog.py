"""The claim-finishing writes that could not reach the database, retried by a background thread
until it is back (why: see :mod:`contract.claims`)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from contract import PendingWrites

__all__ = ["WriteBacklog"]

log = logging.getLogger("original.backlog")


class WriteBacklog(PendingWrites):
    def __init__(self, processed: Collection[dict[str, Any]], *, retry_every: float = 0.5) -> None:
        super().__init__()
        self._processed = processed
        self._retry_every = retry_every
        self._thread_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def _added(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="claim-backlog", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while len(self) and not self._closed.wait(self._retry_every):
            self.flush()

    def flush(self) -> int:
        """Try every pending write once; how many are still pending."""
        for key, write in self.pending():
            try:
                getattr(self._processed, write.method)(*write.args)
            except PyMongoError:
                continue
            self.settle(key)
        return len(self)

    def close(self) -> None:
        """Stop retrying; one last try, and say (by count) what is left to the lease."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(10)
        if len(self) and self.flush():
            log.warning("%d claim writes never reached the database; their leases will free them", len(self))
