"""The metric registry: the results schema agrees with it, and the sets derived from it are the
ones the verdict, the ratios, the gate and the report read."""

from __future__ import annotations

import re

from harness.analysis.criteria import SUMMARY_METRICS
from harness.metrics import (
    ATTRIBUTED_METRICS,
    COMPARED_METRICS,
    CPU_BOUND_METRICS,
    CPU_METRIC,
    DATABASE_BOUND_METRICS,
    GATED_METRICS,
    HEADLINE_METRICS,
    LATENCY_METRICS,
    METRIC_LABELS,
    METRICS,
    PRACTICAL_MARGIN,
    RATIO_METRICS,
    VERDICT_METRICS,
    higher_is_better,
    practical_margin,
    told_order,
)
from harness.results import Estimate, LatencySummary, LevelSummary

_PERCENTILE_FIELD = re.compile(r"p\d+(_\d+)?_ms")


def test_every_metric_is_a_figure_of_a_level():
    assert [m.name for m in METRICS if m.name not in SUMMARY_METRICS] == []


def test_the_schema_holds_exactly_the_registrys_percentiles():
    # A percentile is a field of both summaries; one the registry lacks would never be computed.
    assert {name for name in LatencySummary.model_fields if _PERCENTILE_FIELD.fullmatch(name)} == set(LATENCY_METRICS)
    step_percentiles = {
        name
        for name, field in LevelSummary.model_fields.items()
        if _PERCENTILE_FIELD.fullmatch(name) and field.annotation is Estimate
    }
    assert step_percentiles == set(LATENCY_METRICS)
    assert all(name == f"p{q:g}_ms".replace(".", "_") for name, q in LATENCY_METRICS.items())


def test_a_level_short_of_cpu_is_projected_on_every_percentile():
    # Forgetting the flag would fail such a level on the percentile instead of projecting it.
    assert set(LATENCY_METRICS) <= CPU_BOUND_METRICS


def test_names_and_labels_are_unique():
    assert len({m.name for m in METRICS}) == len({m.label for m in METRICS}) == len(METRICS)


def test_the_roles_nest():
    assert set(HEADLINE_METRICS) <= set(VERDICT_METRICS) <= set(COMPARED_METRICS)
    assert set(RATIO_METRICS) <= set(COMPARED_METRICS)
    assert set(VERDICT_METRICS) <= set(GATED_METRICS)  # what the verdict acts on, the gate watches


def test_the_registry_gives_the_sets_the_harness_has_always_read():
    assert VERDICT_METRICS == ("p95_ms", "throughput_rps", CPU_METRIC)
    assert RATIO_METRICS == ("p95_ms", "p99_ms", "throughput_rps")
    assert GATED_METRICS == ("p95_ms", "p99_ms", "throughput_rps", CPU_METRIC, "database_operations_per_request")
    assert ATTRIBUTED_METRICS == ("throughput_rps", "p95_ms", CPU_METRIC)
    assert HEADLINE_METRICS == ("p95_ms", "throughput_rps")
    assert LATENCY_METRICS == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert sorted(CPU_BOUND_METRICS) == [
        "added_latency_p99_ms",
        "error_rate",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "success_rate",
        "throughput_rps",
    ]
    assert sorted(DATABASE_BOUND_METRICS) == ["database_connections_max"]
    assert METRIC_LABELS[CPU_METRIC] == "CPU per request"


def test_direction_and_margin():
    assert [m for m in METRIC_LABELS if higher_is_better(m)] == ["throughput_rps", "success_rate", "cache_hit_rate"]
    assert practical_margin(CPU_METRIC) == 2 * PRACTICAL_MARGIN
    assert practical_margin("p95_ms") == PRACTICAL_MARGIN
    # A figure outside the registry (a criterion's own metric): lower is better, the common margin.
    assert not higher_is_better("rss_mb_max") and practical_margin("rss_mb_max") == PRACTICAL_MARGIN


def test_throughput_is_told_first():
    assert told_order([CPU_METRIC, "p95_ms", "throughput_rps"]) == ("throughput_rps", "p95_ms", CPU_METRIC)
    assert told_order(["rss_mb_max", "p99_ms"]) == ("p99_ms", "rss_mb_max")
