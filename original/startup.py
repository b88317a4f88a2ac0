"""Start-up work that needs the database (the migration's indexes, the cache's warm-up), done on
a background thread that retries until it succeeds, so the process comes up even while the
database is away."""

from __future__ import annotations

import logging
import threading

from pymongo.errors import PyMongoError

from .store import MessageStore

__all__ = ["StartupWork"]

log = logging.getLogger("original.startup")


class StartupWork:
    def __init__(self, store: MessageStore, *, indexes: bool, warm_up: bool, retry_every: float = 1.0) -> None:
        self._store, self._indexes, self._warm_up = store, indexes, warm_up
        self._retry_every = retry_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="startup-work", daemon=True)
        self.done = threading.Event()

    def start(self) -> StartupWork:
        if self._indexes or self._warm_up:
            self._thread.start()
        else:
            self.done.set()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._indexes:
                    self._store.ensure_indexes()
                    self._indexes = False
                if self._warm_up:
                    log.info("cache warmed with %d phone ids", self._store.warm_up())
                    self._warm_up = False
                self.done.set()
                return
            except PyMongoError as error:
                log.warning("start-up database work failed (%s); retrying", type(error).__name__)
                self._stop.wait(self._retry_every)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
