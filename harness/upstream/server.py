"""Run the fake upstream in the foreground until SIGTERM or Ctrl-C (what ``harness upstream`` does).

uvloop when importable: the upstream shares two cores with the services, the database and the
load generator, and every CPU cycle it spends is taken from what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from pymongo import AsyncMongoClient

from contract import TokenCipher

from .app import create_app
from .behaviour import BehaviourControl
from .ledger import Ledger
from .tokens import TokenDirectory

__all__ = ["UpstreamConfig", "serve"]

# Services open many connections at once under load (the original one per request): a short
# listen backlog would turn a burst into connection errors the services never see in production.
_BACKLOG = 4096
# A request hanging in an injected timeout must not hold the shutdown for hang_s.
_SHUTDOWN_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class UpstreamConfig:
    mongodb_uri: str = field(repr=False)  # may carry credentials
    encryption_secret: str = field(repr=False)
    db_names: Sequence[str]
    behaviour: BehaviourControl
    host: str = "127.0.0.1"
    port: int = 8090
    reload_interval_s: float = 1.0


def serve(config: UpstreamConfig, on_ready: Callable[[str, int], None] | None = None) -> None:
    """Blocks until SIGTERM/SIGINT; ``on_ready(url, phone_ids)`` runs once it listens."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(config, on_ready))
    else:
        uvloop.run(_serve(config, on_ready))


async def _serve(config: UpstreamConfig, on_ready: Callable[[str, int], None] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    client: AsyncMongoClient[dict] = AsyncMongoClient(config.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        directory = TokenDirectory(
            client,
            config.db_names,
            TokenCipher(config.encryption_secret),
            reload_interval_s=config.reload_interval_s,
        )
        known = await directory.load()
        runner = web.AppRunner(
            create_app(directory, config.behaviour, Ledger()),
            access_log=None,  # a log line per request would cost more CPU than the request
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, config.host, config.port, backlog=_BACKLOG).start()
            if on_ready is not None:
                on_ready(f"http://{config.host}:{config.port}", known)
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        with contextlib.suppress(Exception):
            await client.close()
