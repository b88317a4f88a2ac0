"""``db-outage``: the embedded database stopped, then started again on the same port with the
same data (a directory store, not ``:memory:``); the services reconnect by themselves."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ...bench import Bench, EmbeddedDatabase, ServiceProcess
from ...upstream import UpstreamProcess
from ..plan import RunPlan
from .base import Fault, FaultUnavailable, Injector, register


@register
class DatabaseOutage(Fault):
    kind = "db-outage"
    summary = "stop the embedded database, restart it on the same port with its data"

    def describe(self) -> str:
        return "database stopped and restarted on the same port"

    def prepare(self, plan: RunPlan, storage_dir: Path) -> RunPlan:
        if plan.bench.mongodb_uri or os.environ.get("MONGODB_URI"):
            raise FaultUnavailable(
                "db-outage stops and restarts the embedded database; MONGODB_URI points at a server the "
                "harness does not own, so it cannot be stopped. Unset MONGODB_URI to run this fault."
            )
        return replace(plan, bench=replace(plan.bench, db_storage_path=str(storage_dir)))

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        database = bench.database.embedded
        if database is None:
            raise FaultUnavailable("db-outage needs the embedded database (MONGODB_URI is set)")
        if bench.config.db_storage_path == ":memory:":
            raise FaultUnavailable("db-outage needs the database on disk (BenchConfig.db_storage_path)")
        return _Outage(database)


class _Outage:
    def __init__(self, database: EmbeddedDatabase) -> None:
        self._database = database

    def inject(self) -> None:
        self._database.stop()

    def heal(self) -> None:
        if not self._database.alive:
            self._database.start()  # same port, same directory
