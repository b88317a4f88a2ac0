"""The async MongoDB client: PyMongo's ``AsyncMongoClient`` by default, motor on request.

Motor was deprecated in May 2025 (end of life May 2026); ``MONGO_DRIVER=motor`` keeps the seed's
exact stack measurable. Both expose the same collection API, so the rest of the service does
not care which one it got. Pool activity is observed through PyMongo's CMAP listener.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any

from pymongo import monitoring
from pymongo.errors import ConnectionFailure, PyMongoError

from contract import Settings

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


def open_client(settings: Settings, observer: PoolObserver) -> Any:
    options: dict[str, Any] = {
        "maxPoolSize": settings.mongodb_max_pool_size,
        "minPoolSize": settings.mongodb_min_pool_size,
        "timeoutMS": settings.mongodb_timeout_ms,  # bounds every operation, retries included
        "serverSelectionTimeoutMS": min(settings.mongodb_timeout_ms, 2000),
        "retryReads": True,
        "retryWrites": True,
        "appname": f"optimized-{settings.mongo_driver}",
        "event_listeners": [observer],
    }
    if settings.mongo_driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(settings.mongodb_uri, **options)
    from pymongo import AsyncMongoClient

    return AsyncMongoClient(settings.mongodb_uri, **options)


async def close_client(client: Any) -> None:
    result = client.close()  # a coroutine for AsyncMongoClient, plain for motor
    if inspect.isawaitable(result):
        await result


@dataclass
class DatabaseHealth:
    """Whether the database answers, kept current by a background ping.

    While it is down the webhook answers 503 at once instead of queueing requests behind
    timeouts; any failed operation marks it down immediately, the ping marks it up again.
    """

    client: Any
    interval: float = 1.0
    timeout: float = 1.0
    available: bool = False

    async def check(self) -> bool:
        try:
            await asyncio.wait_for(self.client.admin.command("ping"), self.timeout)
            self.available = True
        except (PyMongoError, TimeoutError, OSError):
            self.available = False
        return self.available

    def mark_down(self) -> None:
        if self.available:
            log.warning("database unreachable; answering 503 until it is back")
        self.available = False

    async def watch(self) -> None:
        while True:
            was = self.available
            if await self.check() and not was:
                log.info("database reachable")
            await asyncio.sleep(self.interval)

    def observe(self, error: PyMongoError) -> None:
        """Marks the database down when an operation failed for want of a server."""
        if isinstance(error, ConnectionFailure) or getattr(error, "timeout", False):
            self.mark_down()
