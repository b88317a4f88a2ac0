"""Helpers for ``notebooks/analysis.ipynb``: find a run directory and turn its results into tidy
numeric DataFrames that pandas and matplotlib plot directly.

The notebook reads the same schema as everything else (:func:`harness.results.load_results`);
these helpers only reshape it, they compute no figure of their own. The two answers are worded
by the report's own :mod:`harness.report.answers`, so the notebook prints the very lines the
console, summary.md and report.html show.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import latency_column, summary_records
from .analysis.attribution import waterfall
from .metrics import LATENCY_METRICS
from .report.answers import answer_lines
from .results import Estimate, LevelSummary, Results
from .terms import load_label

__all__ = [
    "REPORT_DIR_VARIABLE",
    "answer_lines",
    "capacity_frame",
    "claims_frame",
    "effects_frame",
    "waterfall_frame",
    "error_bars",
    "find_report_dir",
    "latency_cdf",
    "ratios_frame",
    "summary_frame",
    "targets_frame",
    "top_level",
]

REPORT_DIR_VARIABLE = "HARNESS_REPORT_DIR"
_LATEST = "latest"


def find_report_dir(reports: Path | str | None = None) -> Path:
    """The run directory to analyse: ``$HARNESS_REPORT_DIR`` when set, else the newest run
    (named by ``reports/latest``), looking for ``reports/`` here and in the parent directories
    (a notebook's working directory is usually ``notebooks/``)."""
    chosen = os.environ.get(REPORT_DIR_VARIABLE, "").strip()
    if chosen:
        run_dir = Path(chosen).expanduser()
        if not (run_dir / "results.json").is_file():
            raise FileNotFoundError(f"${REPORT_DIR_VARIABLE}={chosen}: no results.json there")
        return run_dir
    candidates = (
        [Path(reports)] if reports is not None else [parent / "reports" for parent in (Path.cwd(), *Path.cwd().parents)]
    )
    for directory in candidates:
        latest = directory / _LATEST
        if latest.is_file():
            run_dir = directory / latest.read_text().strip()
            if (run_dir / "results.json").is_file():
                return run_dir
    raise FileNotFoundError(
        f"no run found ({' or '.join(str(c / _LATEST) for c in candidates[:2])} missing): run "
        f"`harness compare` first, or set {REPORT_DIR_VARIABLE} to a run directory"
    )


def _estimate_columns(name: str, estimate: Estimate) -> dict[str, float]:
    return {
        name: _number(estimate.value),
        f"{name}_ci_low": _number(estimate.ci_low),
        f"{name}_ci_high": _number(estimate.ci_high),
    }


def _percentile_columns(summary: LevelSummary) -> dict[str, float]:
    """Every latency percentile of the registry, with its interval's columns."""
    columns: dict[str, float] = {}
    for metric in LATENCY_METRICS:
        columns.update(_estimate_columns(metric, getattr(summary, metric)))
    return columns


def _number(value: float | None) -> float:
    return np.nan if value is None else float(value)


def summary_frame(results: Results) -> pd.DataFrame:
    """One row per service x load level: the figures the decision reads, as numbers (NaN where
    missing), with ``*_ci_low``/``*_ci_high`` columns for the bootstrap 95% intervals."""
    rows = []
    for s in results.summaries:
        rows.append(
            {
                "service": s.service,
                "users": s.users,
                "arrival_rate": s.arrival_rate,
                "load": load_label(s.users, s.arrival_rate),
                "trials": s.trials,
                "requests": s.requests,
                **_percentile_columns(s),
                **_estimate_columns("throughput_rps", s.throughput_rps),
                "success_rate": s.success_rate,
                "error_rate": s.error_rate,
                "cache_hit_rate": _number(s.cache_hit_rate),
                "service_cpu_ms_per_request": _number(s.service_cpu_ms_per_request),
                "rss_mb_max": _number(s.rss_mb_max),
                "bound_by": ", ".join(s.bound_by),
                "unusable": "; ".join(issue.detail for issue in s.unusable),
                "usable": s.usable,
            }
        )
    return pd.DataFrame(rows)


def ratios_frame(results: Results) -> pd.DataFrame:
    """Every candidate / baseline ratio of the run as numbers, with interval and significance."""
    return pd.DataFrame(
        [
            {
                "candidate": decision.candidate,
                "baseline": decision.baseline,
                "load": load_label(r.users, r.arrival_rate),
                "users": r.users,
                "arrival_rate": r.arrival_rate,
                "metric": r.metric,
                "ratio": _number(r.value.value),
                "ci_low": _number(r.value.ci_low),
                "ci_high": _number(r.value.ci_high),
                "p_value": _number(r.p_value),
                "significant": r.significant,
            }
            for decision in results.decisions
            for r in decision.ratios
        ],
        columns=[
            "candidate",
            "baseline",
            "load",
            "users",
            "arrival_rate",
            "metric",
            "ratio",
            "ci_low",
            "ci_high",
            "p_value",
            "significant",
        ],
    )


TARGET_COLUMNS = [
    "service",
    "status",
    "basis",
    "users",
    "offered_rps",
    "deployment_workers",
    "capacity_rps_per_cpu",
    "capacity_rps_per_cpu_ci_low",
    "capacity_rps_per_cpu_ci_high",
    "capacity_level",
    "capacity_within_slo",
    "service_cpus",
    "service_cpus_ci_low",
    "service_cpus_ci_high",
    "database_cores",
    "cpu_ms_per_request",
    "cpu_measured_at",
    "monthly_usd",
    "price_per_vcpu_hour",
    "command",
]


def targets_frame(results: Results) -> pd.DataFrame:
    """The target-load answer per service as numbers (NaN where missing), with the intervals of
    the capacity per CPU and of the service CPUs the target needs; ``basis`` says measured or
    projected."""
    empty = Estimate(value=None)
    rows = [
        {
            "service": t.service,
            "status": t.status.value,
            "basis": t.basis,
            "users": t.users,
            "offered_rps": _number(t.offered_rps),
            "deployment_workers": t.deployment_workers,
            **_estimate_columns("capacity_rps_per_cpu", t.capacity_rps_per_cpu or empty),
            "capacity_level": t.capacity_level,
            "capacity_within_slo": t.capacity_within_slo,
            **_estimate_columns("service_cpus", t.service_cpus or empty),
            "database_cores": _number(t.database_cores.value if t.database_cores else None),
            "cpu_ms_per_request": _number(t.cpu_ms_per_request),
            "cpu_measured_at": t.cpu_measured_at,
            "monthly_usd": _number(t.monthly_usd),
            "price_per_vcpu_hour": t.price_per_vcpu_hour,
            "command": t.command,
        }
        for t in results.targets
    ]
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def error_bars(value: pd.Series, low: pd.Series, high: pd.Series) -> list[pd.Series]:
    """matplotlib ``yerr`` for an interval around ``value``. A percentile-bootstrap interval of a
    tail percentile can lie wholly on one side of the sample's own value; that side gets no bar."""
    return [(value - low).clip(lower=0), (high - value).clip(lower=0)]


def top_level(results: Results) -> tuple[int, float] | None:
    """(users, arrival_rate) of the highest load level the run measured."""
    levels = {(s.users, s.arrival_rate) for s in results.summaries}
    return max(levels, key=lambda level: (level[1], level[0])) if levels else None


def latency_cdf(results: Results, records: pd.DataFrame | None, level: tuple[int, float] | None = None) -> pd.DataFrame:
    """Empirical CDF of the answered requests' latency per service at one load level (default:
    the top one), over each step's measured window only: columns service, latency_ms, fraction."""
    level = level or top_level(results)
    if records is None or records.empty or level is None:
        return pd.DataFrame(columns=["service", "latency_ms", "fraction"])
    frames = []
    for summary in _at_level(results.summaries, level):
        measured = summary_records(summary, records)
        answered = measured[measured["status"] != 0]
        latencies = np.sort(answered[latency_column(summary.arrival_rate)].to_numpy(dtype=float))
        if latencies.size == 0:
            continue
        fraction = np.arange(1, latencies.size + 1) / latencies.size
        frames.append(pd.DataFrame({"service": summary.service, "latency_ms": latencies, "fraction": fraction}))
    if not frames:
        return pd.DataFrame(columns=["service", "latency_ms", "fraction"])
    return pd.concat(frames, ignore_index=True)


def _at_level(summaries: list[LevelSummary], level: tuple[int, float]) -> list[LevelSummary]:
    return [s for s in summaries if (s.users, s.arrival_rate) == level]


def claims_frame(results: Results) -> pd.DataFrame:
    """The checklist's promises as checked for each candidate: the figure, its interval, the outcome."""
    return pd.DataFrame(
        [
            {
                "candidate": c.candidate,
                "claim": c.claim,
                "promised": c.promised,
                "measured": _number(c.measured.value if c.measured else None),
                "ci_low": _number(c.measured.ci_low if c.measured else None),
                "ci_high": _number(c.measured.ci_high if c.measured else None),
                "unit": c.unit,
                "level": c.level,
                "outcome": c.outcome,
                "reason": c.reason,
            }
            for c in results.claims
        ],
        columns=[
            "candidate",
            "claim",
            "promised",
            "measured",
            "ci_low",
            "ci_high",
            "unit",
            "level",
            "outcome",
            "reason",
        ],
    )


def effects_frame(results: Results) -> pd.DataFrame:
    """An attribution run's effects, one row per change, direction (added alone / removed alone),
    level and metric: the difference with its interval (empty for a run that is not one)."""
    attribution = results.attribution
    rows = []
    for change in attribution.changes if attribution else []:
        for direction, effects in (("added", change.added_effects), ("removed", change.removed_effects)):
            for e in effects:
                rows.append(
                    {
                        "change": change.token,
                        "direction": direction,
                        "load": load_label(e.users, e.arrival_rate),
                        "metric": e.metric,
                        "difference": _number(e.difference.value),
                        "ci_low": _number(e.difference.ci_low),
                        "ci_high": _number(e.difference.ci_high),
                        "significant": e.significant,
                    }
                )
    return pd.DataFrame(
        rows, columns=["change", "direction", "load", "metric", "difference", "ci_low", "ci_high", "significant"]
    )


def capacity_frame(results: Results) -> pd.DataFrame:
    """A capacity run's findings, one row per variant and worker count: capacity with its interval,
    per CPU, and the PROJECTED worker CPUs for the target (empty for a run that is not one)."""
    search = results.capacity
    projections = {p.service: p for p in search.projections} if search else {}
    rows = []
    for r in search.results if search else []:
        projection = projections.get(r.service)
        rows.append(
            {
                "service": r.service,
                "workers": r.workers,
                **_estimate_columns("capacity_rps", r.capacity_rps),
                "per_cpu_rps": _number(r.per_cpu_rps.value),
                "validated": r.validated,
                "service_cpu_ms_per_request": _number(r.service_cpu_ms_per_request),
                "database_cpu_ms_per_request": _number(r.database_cpu_ms_per_request),
                "projected_workers_for_target": (
                    np.nan if projection is None or projection.workers_needed is None else projection.workers_needed
                ),
            }
        )
    return pd.DataFrame(rows)


def waterfall_frame(
    results: Results, metric: str = "throughput_rps", level: tuple[int, float] | None = None
) -> pd.DataFrame:
    """The waterfall from baseline to target at one level (default the top one): one row a bar."""
    attribution = results.attribution
    level = level or top_level(results)
    bars = waterfall(attribution, metric, level) if attribution and level else []
    return pd.DataFrame([vars(bar) for bar in bars], columns=["label", "start", "delta", "kind"])
