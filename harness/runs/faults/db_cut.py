"""``db-cut``: the services' database connections go silent mid-stream, without being closed:
no FIN, no reset, the bytes either side sends dropped, and new connections accepted into the same
silence (a partition, a frozen server behind a live network path). The drivers only learn of it
by their own timeouts. At the heal every silent connection is reset, as a peer that lost its
state answers one it no longer knows, and new ones reach the database again. (``db-outage`` is
the clean case: the server stops, its connections close and new ones are refused.)"""

from __future__ import annotations

from pathlib import Path

from ...bench import Bench, ServiceProcess
from ...bench.dbproxy import DbProxyProcess
from ...upstream import UpstreamProcess
from ..plan import RunPlan
from .base import Fault, Injector, register
from .db_slow import database_timeout_ms, proxied_plan, proxy_of


@register
class DatabaseCut(Fault):
    kind = "db-cut"
    summary = "the services' database connections go silent mid-stream (no FIN, no RST), then are reset"

    timeout_ms: int | None = None  # the services' MONGODB_TIMEOUT_MS (set by prepare)

    def describe(self) -> str:
        timeout = f"; the services time out after {self.timeout_ms} ms" if self.timeout_ms is not None else ""
        return f"database connections silent mid-stream, reset at the end{timeout}"

    def prepare(self, plan: RunPlan, storage_dir: Path) -> RunPlan:
        self.timeout_ms = database_timeout_ms(plan)
        return proxied_plan(plan, self.kind)

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        return _Cut(proxy_of(bench, self.kind))


class _Cut:
    def __init__(self, proxy: DbProxyProcess) -> None:
        self._proxy = proxy

    def inject(self) -> None:
        self._proxy.configure(cut=True)

    def heal(self) -> None:
        self._proxy.configure(cut=False)
