"""``db-slow``: the database answers late. A TCP proxy between the services and the database
(:mod:`harness.bench.dbproxy`) holds every byte a service sends for a fixed latency, so every
operation is executed and answered that much later. Below the services' ``MONGODB_TIMEOUT_MS``
they only slow down; beyond it their operations time out, and a write may still land after the
service gave up on it (the claim's release and the done mark must cope)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from contract.settings import Settings

from ...bench import Bench, ServiceProcess
from ...bench.dbproxy import DbProxyProcess, ProxyError, proxy_target
from ...upstream import UpstreamProcess
from ..plan import RunPlan
from .base import Fault, FaultOption, FaultUnavailable, Injector, register

_DEFAULT_TIMEOUT_MS = Settings.model_fields["mongodb_timeout_ms"].default


def proxied_plan(plan: RunPlan, kind: str) -> RunPlan:
    """``plan`` with the services behind the database proxy; refused for a URI it cannot proxy."""
    uri = plan.bench.mongodb_uri or os.environ.get("MONGODB_URI")
    if uri:
        try:
            proxy_target(uri)
        except ProxyError as error:
            raise FaultUnavailable(f"{kind} puts a TCP proxy in front of MONGODB_URI, and {error}") from None
    return replace(plan, bench=replace(plan.bench, db_proxy=True))


def proxy_of(bench: Bench, kind: str) -> DbProxyProcess:
    if bench.db_proxy is None:
        raise FaultUnavailable(f"{kind} needs the database proxy (BenchConfig.db_proxy)")
    return bench.db_proxy


def database_timeout_ms(plan: RunPlan) -> int:
    """The services' MONGODB_TIMEOUT_MS in this run."""
    return int(plan.bench.service_env.get("MONGODB_TIMEOUT_MS", _DEFAULT_TIMEOUT_MS))


@register
class DatabaseSlow(Fault):
    kind = "db-slow"
    summary = "the database answers late: a TCP proxy holds every operation (50 ms, or past MONGODB_TIMEOUT_MS)"
    options = (FaultOption("db_latency_ms", "--db-latency-ms", 50.0, "latency the proxy adds to every operation"),)

    timeout_ms: int | None = None  # the services' MONGODB_TIMEOUT_MS (set by prepare)

    @property
    def latency_ms(self) -> float:
        return float(self.values["db_latency_ms"] or 0)

    def problems(self) -> list[str]:
        if not 0 < self.latency_ms <= 600_000:
            return [f"--db-latency-ms must be more than 0 and at most 600000, not {self.latency_ms:g}"]
        return []

    def describe(self) -> str:
        if self.timeout_ms is None:
            return f"database answers {self.latency_ms:g} ms late"
        relation = "beyond" if self.latency_ms >= self.timeout_ms else "within"
        return f"database answers {self.latency_ms:g} ms late, {relation} the services' {self.timeout_ms} ms timeout"

    def prepare(self, plan: RunPlan, storage_dir: Path) -> RunPlan:
        self.timeout_ms = database_timeout_ms(plan)
        return proxied_plan(plan, self.kind)

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        return _Latency(proxy_of(bench, self.kind), self.latency_ms)


class _Latency:
    def __init__(self, proxy: DbProxyProcess, latency_ms: float) -> None:
        self._proxy = proxy
        self._latency_ms = latency_ms

    def inject(self) -> None:
        self._proxy.configure(latency_ms=self._latency_ms)

    def heal(self) -> None:
        self._proxy.configure(latency_ms=0)
