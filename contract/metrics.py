"""``GET /metrics``: the JSON a service with the operational routes answers, shared by the
service that writes it and the harness that reads it (the cache hit rate of every step)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["COUNTER_NAMES", "CacheMetrics", "MetricsReport", "PoolMetrics"]

# What the webhook counted, by name (summed over worker processes).
COUNTER_NAMES = ("messages", "replies", "duplicates", "ignored", "statuses", "failures", "in_flight")


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheMetrics(_Report):
    size: int
    max_size: int
    ttl_seconds: float
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses); None before any lookup")

    @classmethod
    def of(cls, *, size: int, max_size: int, ttl_seconds: float, hits: int, misses: int) -> CacheMetrics:
        lookups = hits + misses
        return cls(
            size=size,
            max_size=max_size,
            ttl_seconds=ttl_seconds,
            hits=hits,
            misses=misses,
            hit_rate=hits / lookups if lookups else None,
        )


class PoolMetrics(_Report):
    max_size: int | None = Field(description="None: the driver's default")
    min_size: int | None
    open: int = Field(description="connections open now")
    in_use: int = Field(description="connections checked out now")


class MetricsReport(_Report):
    cache: CacheMetrics | None = Field(description="None: the service has no business cache")
    connection_pool: PoolMetrics
    counters: dict[str, int]
