"""The async MongoDB client: PyMongo's ``AsyncMongoClient`` or motor (``MONGO_DRIVER``), with the
driver's default pool or a sized one (``MONGODB_POOL``), and the database's health.

Motor was deprecated in May 2025 (end of life May 2026); the checklist's design uses it. Both
expose the same collection API, so the rest of the service does not care which one it got. Pool
activity is observed through PyMongo's CMAP listener.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from pymongo import monitoring
from pymongo.errors import AutoReconnect, NetworkTimeout, PyMongoError, ServerSelectionTimeoutError

from contract import Architecture, MongoDriver, PoolSizing, Settings

__all__ = ["DatabaseHealth", "PoolObserver", "close_client", "open_client"]

log = logging.getLogger("optimized.database")


class PoolObserver(monitoring.ConnectionPoolListener):
    """Counts connections opened, closed and checked out, for ``/metrics``."""

    def __init__(self) -> None:
        self.created = self.closed = self.checked_out = self.checked_in = self.checkout_failures = 0

    @property
    def open(self) -> int:
        return self.created - self.closed

    @property
    def in_use(self) -> int:
        return self.checked_out - self.checked_in

    def connection_created(self, event: Any) -> None:
        self.created += 1

    def connection_closed(self, event: Any) -> None:
        self.closed += 1

    def connection_checked_out(self, event: Any) -> None:
        self.checked_out += 1

    def connection_checked_in(self, event: Any) -> None:
        self.checked_in += 1

    def connection_check_out_failed(self, event: Any) -> None:
        self.checkout_failures += 1

    # Events we do not count, but the listener interface requires.
    def pool_created(self, event: Any) -> None: ...
    def pool_ready(self, event: Any) -> None: ...
    def pool_cleared(self, event: Any) -> None: ...
    def pool_closed(self, event: Any) -> None: ...
    def connection_ready(self, event: Any) -> None: ...
    def connection_check_out_started(self, event: Any) -> None: ...


def open_client(settings: Settings, architecture: Architecture, observer: PoolObserver) -> Any:
    options: dict[str, Any] = {
        "timeoutMS": settings.mongodb_timeout_ms,  # bounds every operation, retries included
        "serverSelectionTimeoutMS": min(settings.mongodb_timeout_ms, 2000),
        "retryReads": True,
        "retryWrites": True,
        "appname": f"async-handler-{architecture.mongo_driver}",
        "event_listeners": [observer],
    }
    if architecture.pool is PoolSizing.SIZED:
        options.update(maxPoolSize=settings.mongodb_max_pool_size, minPoolSize=settings.mongodb_min_pool_size)
    if architecture.mongo_driver is MongoDriver.MOTOR:
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(settings.mongodb_uri, **options)
    from pymongo import AsyncMongoClient

    return AsyncMongoClient(settings.mongodb_uri, **options)


async def close_client(client: Any) -> None:
    result = client.close()  # a coroutine for AsyncMongoClient, plain for motor
    if inspect.isawaitable(result):
        await result


class DatabaseHealth:
    """Whether the database answers, kept current by a background ping.

    While it is down the webhook answers 503 at once instead of queueing requests behind
    timeouts. The ping runs on a client of its own (one connection), so a busy application pool
    cannot make a slow-but-alive database look dead; it takes ``failures_to_trip`` failed pings
    in a row, or an operation that could not reach the server at all, to mark it down.
    """

    def __init__(self, uri: str, *, interval: float = 1.0, timeout: float = 2.0, failures_to_trip: int = 2) -> None:
        from pymongo import AsyncMongoClient

        self._client: Any = AsyncMongoClient(
            uri,
            maxPoolSize=1,
            minPoolSize=0,
            timeoutMS=int(timeout * 1000),
            serverSelectionTimeoutMS=int(timeout * 1000),
            appname="optimized-health",
        )
        self.interval = interval
        self.timeout = timeout
        self.failures_to_trip = failures_to_trip
        self.available = False
        self._failures = 0

    async def check(self) -> bool:
        try:
            await asyncio.wait_for(self._client.admin.command("ping"), self.timeout + 0.5)
        except (PyMongoError, TimeoutError, OSError):
            self._failures += 1
            if self._failures >= self.failures_to_trip or not self.available:
                self.mark_down()
        else:
            if not self.available:
                log.info("database reachable")
            self._failures = 0
            self.available = True
        return self.available

    def mark_down(self) -> None:
        if self.available:
            log.warning("database unreachable; answering 503 until it is back")
        self.available = False

    def observe(self, error: PyMongoError) -> None:
        """An operation failed: only "could not reach the server" marks the database down. A
        timeout under load (slow, not gone) does not: shedding load then would turn a slow
        database into an outage."""
        unreachable = isinstance(error, ServerSelectionTimeoutError) or (
            isinstance(error, AutoReconnect) and not isinstance(error, NetworkTimeout)
        )
        if unreachable:
            self.mark_down()

    async def watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        await self._client.close()
