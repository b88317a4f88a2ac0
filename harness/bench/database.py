"""The MongoDB wire server under test: ``MONGODB_URI`` when set, else embedded SecantusDB.

SecantusDB (GPL-2.0) is only ever run as a separate process, never imported. The embedded
server listens on loopback on a free port and is stopped by PID when its context ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ..processes import ManagedProcess, free_port, port_in_use

__all__ = [
    "DatabaseServer",
    "EmbeddedDatabase",
    "ServerStatus",
    "database_server",
    "ping",
    "server_status",
]


@dataclass(frozen=True, slots=True)
class ServerStatus:
    opcounters: dict[str, int]
    connections_current: int
    pid: int | None

    @property
    def operations(self) -> int:
        return sum(self.opcounters.values())


def ping(uri: str, timeout_ms: int = 1000) -> bool:
    try:
        with MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


def server_status(client: MongoClient[Any]) -> ServerStatus:
    status = client.admin.command("serverStatus")
    counters = {key: int(value) for key, value in status.get("opcounters", {}).items()}
    return ServerStatus(
        opcounters=counters,
        connections_current=int(status.get("connections", {}).get("current", 0)),
        pid=status.get("pid"),
    )


_EPHEMERAL_STOP_S = 0.3


class EmbeddedDatabase(ManagedProcess):
    """SecantusDB on 127.0.0.1. ``storage_path=":memory:"`` is an ephemeral store; a directory
    survives a stop/start, which the database-outage fault needs."""

    def __init__(
        self,
        *,
        port: int | None = None,
        storage_path: str | Path = ":memory:",
        log_path: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(storage_path),
            "--standalone",
            "--log-level",
            "WARNING",
        ]
        super().__init__("embedded-mongodb", argv, log_path=log_path)
        self.ephemeral = str(storage_path) == ":memory:"
        self.scratch: Path | None = None

    def stop(self, timeout: float = 10.0) -> int | None:
        # SecantusDB's graceful stop waits seconds on its threads, every bench and test session.
        # An in-memory store has nothing to write back: a moment for SIGTERM, then SIGKILL. A
        # directory store (the outage fault restarts it on its data) gets all of ``timeout``.
        code = super().stop(min(timeout, _EPHEMERAL_STOP_S) if self.ephemeral else timeout)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        return code

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> EmbeddedDatabase:  # type: ignore[override]
        if port_in_use(self.port):
            raise OSError(f"port {self.port} is already in use; choose another with --port")
        if self.ephemeral:
            # An in-memory store still makes a scratch directory under TMPDIR and removes it only
            # on a graceful stop. It gets one of ours, so the quick stop can remove it too.
            self.scratch = Path(tempfile.mkdtemp(prefix="harness-db-"))
            self.env = {**os.environ, "TMPDIR": str(self.scratch)}
        super().start()
        self.wait_ready(lambda: ping(self.uri, 500), timeout)
        return self


@dataclass(frozen=True, slots=True)
class DatabaseServer:
    uri: str
    embedded: EmbeddedDatabase | None  # None when MONGODB_URI points at a server we don't own

    @property
    def pid(self) -> int | None:
        return self.embedded.pid if self.embedded else None


@contextmanager
def database_server(
    uri: str | None = None,
    *,
    storage_path: str | Path = ":memory:",
    log_path: Path | None = None,
) -> Iterator[DatabaseServer]:
    """Use ``uri`` (or ``$MONGODB_URI``) as it is, or start an embedded server for the block."""
    uri = uri or os.environ.get("MONGODB_URI") or None
    if uri:
        if not ping(uri, 3000):
            raise ConnectionError(f"MONGODB_URI does not answer ping: {_redact(uri)}")
        yield DatabaseServer(uri, None)
        return
    database = EmbeddedDatabase(storage_path=storage_path, log_path=log_path)
    try:
        database.start()
        yield DatabaseServer(database.uri, database)
    finally:
        database.stop()


def _redact(uri: str) -> str:
    """A URI fit for a message: credentials removed."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
