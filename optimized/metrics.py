"""Service counters, kept by prometheus-client and shown two ways: JSON at ``/metrics`` (the
shape :class:`contract.MetricsReport` gives it) and Prometheus text at ``/metrics/prometheus``.

Under gunicorn each worker is its own process; when ``PROMETHEUS_MULTIPROC_DIR`` is set (the
harness sets it for more than one worker) the values live in shared files and every endpoint
reports the sum over all workers, whichever worker answers. A variant without the operational
routes counts nothing (:class:`NoMetrics`): nobody could read it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from contract import COUNTER_NAMES, CacheMetrics, MetricsReport, PoolMetrics

__all__ = ["Metrics", "NoMetrics", "ServiceMetrics"]

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
}
assert set(COUNTER_NAMES) <= set(_COUNTERS)
_GAUGES = {
    "business_cache_size": "Entries in the business cache",
    "mongodb_pool_connections_open": "Open MongoDB connections",
    "mongodb_pool_connections_in_use": "MongoDB connections checked out",
}


class Metrics:
    """What the service counts: ``count(name, n)`` and gauges read when metrics are read."""

    def count(self, name: str, value: float = 1) -> None:
        raise NotImplementedError

    def bind_gauge(self, name: str, read: Callable[[], float]) -> None:
        raise NotImplementedError


class NoMetrics(Metrics):
    def count(self, name: str, value: float = 1) -> None:
        return None

    def bind_gauge(self, name: str, read: Callable[[], float]) -> None:
        return None


class ServiceMetrics(Metrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values are written to files and read back by the collector.
        target = None if multiprocess else self.registry
        self._counters = {name: Counter(f"whatsapp_{name}", text, registry=target) for name, text in _COUNTERS.items()}
        self._gauges = {
            name: Gauge(f"whatsapp_{name}", text, registry=target, multiprocess_mode="livesum")
            for name, text in _GAUGES.items()
        }
        if multiprocess:
            MultiProcessCollector(self.registry)
        self._readers: dict[str, Callable[[], float]] = {}

    def count(self, name: str, value: float = 1) -> None:
        self._counters[name].inc(value)

    def bind_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Gauges are sampled when metrics are read (set_function does not cross processes)."""
        self._readers[name] = read

    def _refresh_gauges(self) -> None:
        for name, read in self._readers.items():
            self._gauges[name].set(read())

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

    def report(self, *, cache: tuple[int, float] | None, pool: tuple[int | None, int | None]) -> MetricsReport:
        """``/metrics``: ``cache`` is (max size, TTL) when there is a cache, ``pool`` (max, min)."""
        v = self.snapshot()
        cache_metrics = None
        if cache is not None:
            cache_metrics = CacheMetrics.of(
                size=int(v.get("business_cache_size", 0)),
                max_size=cache[0],
                ttl_seconds=cache[1],
                hits=int(v.get("business_cache_hits", 0)),
                misses=int(v.get("business_cache_misses", 0)),
            )
        pool_metrics = PoolMetrics(
            max_size=pool[0],
            min_size=pool[1],
            open=int(v.get("mongodb_pool_connections_open", 0)),
            in_use=int(v.get("mongodb_pool_connections_in_use", 0)),
        )
        counters = {name: int(v.get(name, 0)) for name in COUNTER_NAMES}
        return MetricsReport(cache=cache_metrics, connection_pool=pool_metrics, counters=counters)
