"""The test bench of one run: database, seeded businesses, fake upstream, and the services.

Everything is a real process on loopback, started on free ports and stopped by PID when the
``with`` block ends (also on error and Ctrl-C). ``serve``, ``compare`` and the tests share it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymongo import MongoClient

from contract import TokenCipher

from ..upstream import UpstreamProcess
from .database import DatabaseServer, database_server
from .pinning import CpuPlan, pin_tree, pinned_here
from .seeding import SeedPlan, seed_businesses
from .services import BenchSecrets, ServiceProcess, service_environment

if TYPE_CHECKING:
    from .dbproxy import DbProxyProcess

__all__ = ["Bench", "BenchConfig"]

_DIRECTORY_DB = "bench_directory"  # the upstream's copy of the businesses (same tokens)


@dataclass(frozen=True)
class BenchConfig:
    businesses: int = 50
    phones_per_business: int = 2
    graph_latency_ms: float = 50.0
    llm_latency_ms: float = 200.0  # 0: services make no LLM call (echo replies)
    latency_distribution: str = "fixed"
    seed: int = 1
    mongodb_uri: str | None = None  # None: $MONGODB_URI, else the embedded server
    db_storage_path: str = ":memory:"
    service_env: dict[str, str] = field(default_factory=dict)  # every service's, under its own
    service_workers: int = 1  # worker processes per service (>1: gunicorn)
    cpus: CpuPlan = field(default_factory=CpuPlan)  # which CPUs the services and the bench run on
    db_proxy: bool = False  # the services reach the database through a TCP proxy (db-slow, db-cut)


class Bench(contextlib.AbstractContextManager["Bench"]):
    def __init__(self, config: BenchConfig, logs_dir: Path, secrets: BenchSecrets | None = None) -> None:
        self.config = config
        self.logs_dir = logs_dir
        self.secrets = secrets or BenchSecrets()
        self.plan = SeedPlan(config.businesses, config.phones_per_business, self.secrets.token_seed)
        self.services: dict[str, ServiceProcess] = {}
        self._stack = contextlib.ExitStack()
        self.database: DatabaseServer
        self.upstream: UpstreamProcess
        self.mongo: MongoClient[dict[str, Any]]
        self.db_proxy: DbProxyProcess | None = None  # between the services and the database, when asked

    def __enter__(self) -> Bench:
        # The harness, and every bench process it starts from here (database, upstream, Locust),
        # on the bench's CPUs; the services get theirs in deploy().
        self._stack.enter_context(pinned_here(self.config.cpus.bench if self.config.cpus.pinned else None))
        try:
            self.database = self._stack.enter_context(
                database_server(
                    self.config.mongodb_uri,
                    storage_path=self.config.db_storage_path,
                    log_path=self.logs_dir / "mongodb.log",
                )
            )
            self.mongo = self._stack.enter_context(MongoClient(self.database.uri, serverSelectionTimeoutMS=5000))
            if self.config.db_proxy:
                # Imported here: ``python -m harness.bench.dbproxy`` must not find itself imported.
                from .dbproxy import DbProxyProcess

                self.db_proxy = DbProxyProcess(self.database.uri, log_path=self.logs_dir / "db-proxy.log")
                self._stack.enter_context(self.db_proxy)
            self.seed(_DIRECTORY_DB, indexes=False)
            self.upstream = self.add_upstream("upstream")
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def add_upstream(self, name: str, latency_factor: float = 1.0) -> UpstreamProcess:
        """A fake upstream of its own (the self-test gives one side a slower one)."""
        upstream = UpstreamProcess(
            mongodb_uri=self.database.uri,
            db_names=[_DIRECTORY_DB],
            encryption_secret=self.secrets.encryption_secret,
            graph_latency_ms=self.config.graph_latency_ms * latency_factor,
            llm_latency_ms=self.config.llm_latency_ms * latency_factor,
            distribution=self.config.latency_distribution,
            seed=self.config.seed,
            log_path=self.logs_dir / f"{name}.log",
        )
        self._stack.enter_context(upstream)
        return upstream

    def seed(self, db_name: str, *, indexes: bool, fresh: bool = True) -> None:
        if fresh:
            self.mongo.drop_database(db_name)
        seed_businesses(self.mongo[db_name], self.plan, TokenCipher(self.secrets.encryption_secret), indexes=indexes)

    def deploy(
        self,
        label: str,
        app: str,
        *,
        env: Mapping[str, str] | None = None,
        indexes: bool = False,
        workers: int = 1,
        port: int | None = None,
        upstream: UpstreamProcess | None = None,
        seed: bool = True,
        source: Path | None = None,
    ) -> ServiceProcess:
        """Start ``app`` as ``label`` on its own freshly seeded database (with the migration's
        indexes when ``indexes``, as the checklist's step 3 creates them before the deploy) and
        wait until it answers."""
        upstream = upstream or self.upstream
        db_name = "bench_" + re.sub(r"[^a-z0-9_]", "_", label.lower())
        if seed:
            self.seed(db_name, indexes=indexes)
        llm = upstream.llm_base_url if self.config.llm_latency_ms > 0 else None
        environment = service_environment(
            self.secrets,
            mongodb_uri=self.db_proxy.uri if self.db_proxy is not None else self.database.uri,
            db_name=db_name,
            graph_api_base_url=upstream.graph_base_url,
            llm_base_url=llm,
            overrides={**self.config.service_env, **(env or {})},
        )
        cpus = self.config.cpus.service if self.config.cpus.pinned else None
        log_path = self.logs_dir / f"{label}.log"
        process = ServiceProcess(
            label, app, env=environment, workers=workers, port=port, log_path=log_path, cpus=cpus, source=source
        )
        self._stack.callback(process.stop)
        self.services[label] = process.start()
        return process

    def pin_services(self) -> None:
        """Pin every service's whole process tree to the services' CPUs (a no-op unpinned)."""
        if self.config.cpus.pinned:
            for process in self.services.values():
                if process.alive:
                    pin_tree(process.pid, self.config.cpus.service)

    @property
    def database_description(self) -> str:
        if self.database.embedded is not None:
            from importlib.metadata import version

            where = "in memory" if str(self.config.db_storage_path) == ":memory:" else "on disk"
            return f"embedded SecantusDB {version('SecantusDB')} (separate process, {where})"
        return "external MongoDB (MONGODB_URI)"
