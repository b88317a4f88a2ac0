"""Service counters, kept by prometheus-client and shown two ways: JSON at ``/metrics`` and
Prometheus text at ``/metrics/prometheus``.

Under gunicorn each worker is its own process; when ``PROMETHEUS_MULTIPROC_DIR`` is set (the
harness sets it for more than one worker) the values live in shared files and every endpoint
reports the sum over all workers, whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["ServiceMetrics"]

disable_created_metrics()  # the *_created series only add noise to a service's own counters

_COUNTERS = {
    "messages": "Messages received in webhook bodies",
    "replies": "Replies delivered",
    "duplicates": "Messages answered before (retries and duplicate deliveries)",
    "ignored": "Messages for unknown or disabled businesses, or of types that get no reply",
    "statuses": "Status updates received",
    "failures": "Replies that could not be delivered (the webhook answered 503)",
    "in_flight": "Messages another worker was answering (the webhook answered 503)",
    "business_cache_hits": "Business lookups answered by the cache",
    "business_cache_misses": "Business lookups that missed the cache",
    "business_cache_loads": "Database queries made on cache misses",
}
_GAUGES = {
    "business_cache_size": "Entries in the business cache",
    "mongodb_pool_connections_open": "Open MongoDB connections",
    "mongodb_pool_connections_in_use": "MongoDB connections checked out",
}


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values are written to files and read back by the collector.
        target = None if multiprocess else self.registry
        self.counters: dict[str, Counter] = {
            name: Counter(f"whatsapp_{name}", text, registry=target) for name, text in _COUNTERS.items()
        }
        self.gauges: dict[str, Gauge] = {
            name: Gauge(f"whatsapp_{name}", text, registry=target, multiprocess_mode="livesum")
            for name, text in _GAUGES.items()
        }
        if multiprocess:
            MultiProcessCollector(self.registry)
        self._readers: dict[str, Callable[[], float]] = {}

    def counter(self, name: str) -> Callable[[float], None]:
        return self.counters[name].inc

    def bind_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Gauges are sampled when metrics are read (set_function does not cross processes)."""
        self._readers[name] = read

    def _refresh_gauges(self) -> None:
        for name, read in self._readers.items():
            self.gauges[name].set(read())

    def snapshot(self) -> dict[str, float]:
        """Every counter and gauge by short name, summed over worker processes."""
        self._refresh_gauges()
        values: dict[str, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                name = sample.name.removeprefix("whatsapp_").removesuffix("_total")
                values[name] = values.get(name, 0.0) + sample.value
        return values

    def prometheus_text(self) -> bytes:
        self._refresh_gauges()
        return generate_latest(self.registry)

    def as_json(self, *, max_size: int, ttl_seconds: float, pool: dict[str, Any]) -> dict[str, Any]:
        v = self.snapshot()
        hits, misses = int(v.get("business_cache_hits", 0)), int(v.get("business_cache_misses", 0))
        return {
            "cache": {
                "size": int(v.get("business_cache_size", 0)),
                "max_size": max_size,
                "ttl_seconds": ttl_seconds,
                "hits": hits,
                "misses": misses,
                "loads": int(v.get("business_cache_loads", 0)),
                "hit_rate": hits / (hits + misses) if hits + misses else None,
            },
            "connection_pool": {
                **pool,
                "open": int(v.get("mongodb_pool_connections_open", 0)),
                "in_use": int(v.get("mongodb_pool_connections_in_use", 0)),
            },
            "counters": {name: int(v.get(name, 0)) for name in
                         ("messages", "replies", "duplicates", "ignored", "statuses", "failures", "in_flight")},
        }  # fmt: skip
