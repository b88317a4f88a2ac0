"""The metric registry: one record per figure the harness compares, judges or reports.

:data:`METRICS` is the one table; every set of metrics the rest of the harness reads (the
verdict's, the ratios', the gate's, the attribution's, the latency percentiles, the labels, the
units, the margins) is derived from it here, by property. A metric's field lives in the results
schema (:class:`~harness.results.LevelSummary`, and :class:`~harness.results.LatencySummary` for a
percentile); ``tests/test_metrics.py`` checks the two agree. Nothing here imports from the rest
of the harness, so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "ATTRIBUTED_METRICS",
    "COMPARED_METRICS",
    "COMPARED_PERCENTILES",
    "CPU_BOUND_METRICS",
    "CPU_METRIC",
    "DATABASE_BOUND_METRICS",
    "DATABASE_METRIC",
    "FRACTION_METRICS",
    "GATED_METRICS",
    "HEADLINE_METRICS",
    "HISTORY_METRICS",
    "LATENCY_METRICS",
    "METRICS",
    "METRIC_LABELS",
    "METRIC_UNITS",
    "PRACTICAL_MARGIN",
    "RATIO_METRICS",
    "SHORT_LABELS",
    "VERDICT_METRICS",
    "Metric",
    "decimals",
    "higher_is_better",
    "metric",
    "practical_margin",
    "told_order",
]

# A difference smaller than this is not worth a migration (nor a reason to refuse one), however
# significant statistically: the verdict, the self-test and the gate's default all use it.
PRACTICAL_MARGIN = 0.10


@dataclass(frozen=True)
class Metric:
    """One figure of a load level, and every role it plays."""

    name: str  # its LevelSummary field (and LatencySummary's, for a percentile); a ratio's metric
    label: str  # in sentences: "p95 latency"
    short: str  # in tight lines and column headers: "p95"
    unit: str
    higher_is_better: bool = False
    percentile: float | None = None  # a latency percentile (0..100) of the per-request records
    # CPU decides it: a level short of CPU is projected, not failed (a cache hit rate, a connection
    # count or memory do not depend on how many CPUs the service has).
    cpu_bound: bool = False
    # The database's latency drives it (a slow database holds each connection longer): not judged
    # where the database was the bound.
    database_bound: bool = False
    margin: float = PRACTICAL_MARGIN  # the relative difference below which the verdict and the gate act on nothing
    decimals: int = 2  # of its value as shown
    # Its roles:
    verdict: bool = False  # the verdict's rules c and e read its ratio
    ratio: bool = False  # candidate / baseline at every level both ran, from the per-request records
    gated: bool = False  # the gate compares it with the baseline run
    attributed: bool = False  # the attribution estimates each change's effect on it
    headline: bool = False  # a ratio column of the report's first screen
    history: bool = False  # each main-branch run appends it to the history (harness history)


CPU_METRIC = "service_cpu_ms_per_request"  # the service's CPU time per answered request
DATABASE_METRIC = "database_operations_per_request"

# fmt: off
METRICS: tuple[Metric, ...] = (
    Metric("p50_ms", "p50 latency", "p50", "ms", percentile=50.0, cpu_bound=True, decimals=1),
    Metric("p95_ms", "p95 latency", "p95", "ms", percentile=95.0, cpu_bound=True, decimals=1,
           verdict=True, ratio=True, gated=True, attributed=True, headline=True, history=True),
    Metric("p99_ms", "p99 latency", "p99", "ms", percentile=99.0, cpu_bound=True, decimals=1,
           ratio=True, gated=True, history=True),
    Metric("throughput_rps", "throughput", "throughput", "rps", higher_is_better=True, cpu_bound=True, decimals=1,
           verdict=True, ratio=True, gated=True, attributed=True, headline=True, history=True),
    Metric("success_rate", "success rate", "success", "fraction", higher_is_better=True, cpu_bound=True, decimals=3),
    Metric("error_rate", "error rate", "errors", "fraction", cpu_bound=True, decimals=3),
    # CPU per request is all of a process's CPU time over its answers: it moves more than latency
    # between two steps of the same code (the A/A self-test, docs/measurements.md). Twice the
    # latency margin clears that and still fails a 30 % cost rise.
    Metric(CPU_METRIC, "CPU per request", "CPU/req", "ms/request", margin=2 * PRACTICAL_MARGIN, decimals=3,
           verdict=True, gated=True, attributed=True, history=True),
    Metric("added_latency_p99_ms", "added p99 latency", "added p99", "ms", cpu_bound=True, decimals=1),
    Metric(DATABASE_METRIC, "database operations per request", "DB ops/req", "operations/request", gated=True),
    Metric("database_connections_max", "database connections", "DB conns max", "connections", database_bound=True),
    Metric("cache_hit_rate", "cache hit rate", "cache", "fraction", higher_is_better=True),
)
# fmt: on
_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    """The registry's record of ``name`` (KeyError: not a registered metric)."""
    return _BY_NAME[name]


def _names(role: Callable[[Metric], bool]) -> tuple[str, ...]:
    return tuple(m.name for m in METRICS if role(m))


def higher_is_better(name: str) -> bool:
    """Whether a rise in ``name`` is an improvement (an unregistered figure: lower is better)."""
    found = _BY_NAME.get(name)
    return found is not None and found.higher_is_better


def practical_margin(name: str) -> float:
    """The relative difference in ``name`` below which the verdict and the gate act on nothing."""
    found = _BY_NAME.get(name)
    return PRACTICAL_MARGIN if found is None else found.margin


def decimals(name: str, default: int = 2) -> int:
    found = _BY_NAME.get(name)
    return default if found is None else found.decimals


def told_order(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` in the order the answers tell them: throughput (what is better higher) first, as
    the checklist's own claims lead with it, then the registry's order (unregistered last)."""

    def key(name: str) -> tuple[bool, int]:
        return (not higher_is_better(name), list(_BY_NAME).index(name) if name in _BY_NAME else len(_BY_NAME))

    return tuple(sorted(dict.fromkeys(names), key=key))


# metric -> its percentile (0..100), in the registry's order
LATENCY_METRICS: dict[str, float] = {m.name: m.percentile for m in METRICS if m.percentile is not None}
METRIC_LABELS: dict[str, str] = {m.name: m.label for m in METRICS}
SHORT_LABELS: dict[str, str] = {m.name: m.short for m in METRICS}
METRIC_UNITS: dict[str, str] = {m.name: m.unit for m in METRICS}
VERDICT_METRICS = _names(lambda m: m.verdict)
RATIO_METRICS = _names(lambda m: m.ratio)
COMPARED_METRICS = _names(lambda m: m.ratio or m.verdict)  # every metric a run's ratios can hold
COMPARED_PERCENTILES = _names(lambda m: m.ratio and m.percentile is not None)  # also what a terminal shows
GATED_METRICS = _names(lambda m: m.gated)
ATTRIBUTED_METRICS = told_order(_names(lambda m: m.attributed))
HEADLINE_METRICS = _names(lambda m: m.headline)
HISTORY_METRICS = _names(lambda m: m.history)
CPU_BOUND_METRICS = frozenset(_names(lambda m: m.cpu_bound))
DATABASE_BOUND_METRICS = frozenset(_names(lambda m: m.database_bound))
FRACTION_METRICS = frozenset(_names(lambda m: m.unit == "fraction"))  # shown as percentages
