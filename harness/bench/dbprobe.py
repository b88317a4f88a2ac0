"""The database's own time per operation, as a client sees it: a one-document read by ``_id``
(an index lookup, the cheapest thing a server does) every :data:`PROBE_INTERVAL_S`, on a
connection of its own. SecantusDB's ``serverStatus`` has no latency figures, so the harness
asks itself; when the read slows down under load the database is queueing, and a step whose
figures it shaped is said to be bounded by the database, not by the service."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["PROBE_INTERVAL_S", "DatabaseProbe", "idle_latency_ms"]

PROBE_INTERVAL_S = 0.2
_DATABASE, _COLLECTION, _ID = "harness_probe", "probe", "probe"


def _client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, maxPoolSize=1, serverSelectionTimeoutMS=2000, timeoutMS=2000, appname="harness-probe")


def _read_ms(client: MongoClient[dict[str, Any]]) -> float | None:
    began = time.perf_counter()
    try:
        client[_DATABASE][_COLLECTION].find_one({"_id": _ID})
    except PyMongoError:
        return None
    return (time.perf_counter() - began) * 1000


def idle_latency_ms(uri: str, samples: int = 20) -> float | None:
    """The median read of an idle database (the yardstick a step's reads are held against)."""
    with _client(uri) as client:
        try:
            client[_DATABASE][_COLLECTION].replace_one({"_id": _ID}, {"_id": _ID, "at": time.time()}, upsert=True)
        except PyMongoError:
            return None
        reads = [ms for _ in range(samples) if (ms := _read_ms(client)) is not None]
    return float(np.median(reads)) if reads else None


class DatabaseProbe:
    """``start()`` at the window's start, ``stop()`` at its end: the reads' latencies in between."""

    def __init__(self, uri: str, interval_s: float = PROBE_INTERVAL_S) -> None:
        self._uri, self._interval = uri, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-probe", daemon=True)
        self.latencies_ms: list[float] = []
        self.failures = 0

    def start(self) -> DatabaseProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with _client(self._uri) as client:
            while not self._stop.is_set():
                asked = time.monotonic()
                ms = _read_ms(client)
                if ms is None:
                    self.failures += 1
                else:
                    self.latencies_ms.append(ms)
                self._stop.wait(max(0.0, asked + self._interval - time.monotonic()))

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None
