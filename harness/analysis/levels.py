"""A service at one load level over all its trials: the figures criteria and ratios read.

A figure's value is computed over ALL the level's measured requests pooled (the p95 of every
request of every trial). Its interval resamples trial-level figures when there are at least 3
trials (trial-to-trial variation is the honest error), else the requests themselves (and, for
throughput, the per-second counts). A level that is not evidence says why, with a code
(:class:`~harness.terms.Unusable`) and a sentence (:class:`~harness.results.UsabilityIssue`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import LATENCY_METRICS
from ..records import ABANDONED, RECORD_COLUMNS
from ..results import CacheFigures, Estimate, LatencySummary, LevelSummary, StepResult, UsabilityIssue
from ..terms import COMPONENT_LABELS, HELPER_COMPONENTS, Component, Unusable
from .quiet import disturbance
from .stats import bootstrap_ci, percentile, percentile_cis
from .steps import BENCH_CPUS_BUSY_SHARE, latency_column

__all__ = [
    "MIN_REQUESTS",
    "MIN_TRIALS_FOR_TRIAL_BOOTSTRAP",
    "estimate",
    "level_records",
    "per_second_counts",
    "summarize",
    "summary_records",
]

MIN_REQUESTS = 200
MIN_TRIALS_FOR_TRIAL_BOOTSTRAP = 3

_LevelKey = tuple[str, int, float]


def summary_records(summary: LevelSummary, records: pd.DataFrame) -> pd.DataFrame:
    """The records a summary's figures were computed from (its trials, inside their windows)."""
    return level_records(records, summary.service, summary.users, summary.arrival_rate, summary.trial_windows)


def level_records(
    records: pd.DataFrame,
    service: str,
    users: int,
    arrival_rate: float,
    windows: Mapping[int, tuple[float, float]],
) -> pd.DataFrame:
    if records.empty or not windows:
        return pd.DataFrame(columns=list(RECORD_COLUMNS))  # also when records has no columns
    level = records[
        (records["service"] == service)
        & (records["users"] == users)
        & np.isclose(records["arrival_rate"].astype(float), arrival_rate)
    ]
    keep = np.zeros(len(level), dtype=bool)
    for trial, (t0, t1) in windows.items():
        keep |= ((level["trial"] == trial) & (level["t_start"] >= t0) & (level["t_start"] < t1)).to_numpy()
    return level[keep & (level["error"] != ABANDONED).to_numpy()]


def summarize(
    steps: Sequence[StepResult],
    records: pd.DataFrame,
    seed: int = 0,
    *,
    min_requests: int = MIN_REQUESTS,
) -> list[LevelSummary]:
    """One :class:`LevelSummary` per (service, users, arrival_rate), in the order the steps ran.

    A figure's value is computed over ALL the level's measured requests pooled (the p95 of every
    request of every trial). Its interval resamples trial-level figures when there are at least
    3 trials (trial-to-trial variation is the honest error), else the requests themselves (and,
    for throughput, the per-second counts); the summary's notes say which.
    """
    groups: dict[_LevelKey, list[StepResult]] = {}
    for step in steps:
        groups.setdefault((step.service, step.users, step.arrival_rate), []).append(step)
    return [_summarize_level(key, group, records, seed, min_requests) for key, group in groups.items()]


def _trial_windows(steps: Sequence[StepResult], notes: list[str]) -> dict[int, tuple[float, float]]:
    windows = {}
    for step in steps:
        start = step.window_start
        if start is None:
            start = step.started_at.timestamp()
            notes.append(f"trial {step.trial}: window start not recorded, taken as the step's start")
        windows[step.trial] = (start, start + step.window_s)
    return windows


def _summarize_level(
    key: _LevelKey, steps: Sequence[StepResult], records: pd.DataFrame, seed: int, min_requests: int
) -> LevelSummary:
    service, users, arrival_rate = key
    notes: list[str] = []
    windows = _trial_windows(steps, notes)
    level = level_records(records, service, users, arrival_rate, windows)
    answered = level[level["status"] != 0]
    column = latency_column(arrival_rate)
    latencies = answered[column].to_numpy(dtype=float)
    requests = sum(step.requests for step in steps)
    by_trials = len(steps) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP
    if arrival_rate > 0:
        notes.append("latency: coordinated-omission corrected (from each request's scheduled time)")
    notes.append(
        f"CI: bootstrap over the {len(steps)} trials' figures"
        if by_trials
        else f"CI: bootstrap over requests ({len(steps)} trial(s); throughput over per-second counts)"
    )

    latency_estimates = _latency_estimates(latencies, steps, arrival_rate, by_trials, seed)
    throughput = _throughput_estimate(steps, answered, windows, by_trials, seed)

    bound_by = sorted({component for step in steps for component in step.bound_by})
    unusable = _usability(steps, requests, len(latencies), min_requests, bound_by)
    if len(level) != requests:  # the percentiles cover the records, the rates the steps' counts
        notes.append(f"per-request records hold {len(level)} of the steps' {requests} requests")
    audits = [step.audit for step in steps if step.audit is not None]
    if audits and len(audits) < len(steps):
        notes.append(f"delivery audited in {len(audits)} of {len(steps)} trials")
    caches = [step.cache for step in steps if step.cache is not None]
    databases = [step.database for step in steps if step.database is not None]
    service_cpu = [step.components["service"] for step in steps if "service" in step.components]
    generator = [step.components["load_generator"] for step in steps if "load_generator" in step.components]
    return LevelSummary(
        service=service,
        users=users,
        arrival_rate=arrival_rate,
        trials=len(steps),
        requests=requests,
        **latency_estimates,
        throughput_rps=throughput,
        success_rate=_pooled(steps, "success_rate", requests),
        error_rate=_pooled(steps, "error_rate", requests),
        cache_hit_rate=_hit_rate(caches),
        service_cpu_ms_per_request=(
            sum(u.cpu_seconds for u in service_cpu) * 1000 / requests if service_cpu and requests else None
        ),
        added_latency_p99_ms=_added_latency_p99(steps, answered),
        database_connections_max=max((d.connections_max for d in databases), default=None),
        rss_mb_max=max((u.rss_mb_max for u in service_cpu), default=None),
        bound_by=bound_by,
        audit_passed=all(audit.passed for audit in audits) if audits else None,
        unusable=unusable,
        interval_basis="trials" if by_trials else "requests",
        notes=notes,
        has_cache=bool(caches),
        database_operations_per_request=(
            sum(d.operations for d in databases) / requests if databases and requests else None
        ),
        load_generator_cpu_cores=max((u.cpu_cores_mean for u in generator), default=None),
        bench_cpu_ms_per_request=_bench_cpu(steps, requests),
        database_probe_p90_ms=max((d.probe_p90_ms for d in databases if d.probe_p90_ms is not None), default=None),
        service_saturated=any(_saturated(step) for step in steps),
        trial_windows=windows,
    )


def _latency_estimates(
    latencies: np.ndarray,
    steps: Sequence[StepResult],
    arrival_rate: float,
    by_trials: bool,
    seed: int,
) -> dict[str, Estimate]:
    if by_trials:
        cis = []
        for metric in LATENCY_METRICS:
            figures = [_step_percentile(step, metric, arrival_rate) for step in steps]
            cis.append(bootstrap_ci([f for f in figures if f is not None], np.mean, seed=seed))
    else:
        cis = percentile_cis(latencies, list(LATENCY_METRICS.values()), seed=seed)
    estimates = {}
    for (metric, q), ci in zip(LATENCY_METRICS.items(), cis, strict=True):
        value = percentile(latencies, q)
        estimates[metric] = Estimate(value=None) if value is None else estimate(value, ci)
    return estimates


def _step_percentile(step: StepResult, metric: str, arrival_rate: float) -> float | None:
    summary: LatencySummary | None = step.corrected_latency if arrival_rate > 0 else step.latency
    return getattr(summary, metric, None) if summary is not None else None


def _throughput_estimate(
    steps: Sequence[StepResult],
    answered: pd.DataFrame,
    windows: Mapping[int, tuple[float, float]],
    by_trials: bool,
    seed: int,
) -> Estimate:
    window_s = sum(step.window_s for step in steps)
    value = sum(step.throughput_rps * step.window_s for step in steps) / window_s
    if by_trials:
        ci = bootstrap_ci([step.throughput_rps for step in steps], np.mean, seed=seed)
    else:
        counts = per_second_counts(answered, windows)
        ci = bootstrap_ci(counts, np.mean, seed=seed)
        if ci is not None and counts.size:
            # The counts cover whole seconds only; the figure also counts the window's last
            # fraction of a second. The interval measures the per-second spread, so centre it
            # on the figure it qualifies.
            shift = value - float(counts.mean())
            ci = (ci[0] + shift, ci[1] + shift)
    return estimate(value, ci)


def per_second_counts(answered: pd.DataFrame, windows: Mapping[int, tuple[float, float]]) -> np.ndarray:
    """Answered requests sent in each whole second of each trial's window (zeros included)."""
    counts = []
    for trial, (t0, t1) in windows.items():
        seconds = int(math.floor(t1 - t0))
        starts = answered.loc[answered["trial"] == trial, "t_start"].to_numpy(dtype=float) - t0
        counts.append(np.bincount(starts[starts < seconds].astype(int), minlength=seconds))
    return np.concatenate(counts) if counts else np.empty(0)


def estimate(value: float | None, ci: tuple[float, float] | None) -> Estimate:
    return Estimate(value=value, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None)


def _pooled(steps: Sequence[StepResult], field: str, requests: int) -> float:
    return sum(getattr(step, field) * step.requests for step in steps) / requests if requests else 0.0


def _hit_rate(caches: Sequence[CacheFigures]) -> float | None:
    lookups = sum(c.hits + c.misses for c in caches)
    return sum(c.hits for c in caches) / lookups if lookups else None


def _added_latency_p99(steps: Sequence[StepResult], answered: pd.DataFrame) -> float | None:
    downstream = next((s.downstream_latency_ms for s in steps if s.downstream_latency_ms is not None), None)
    if downstream is None:  # older results: the worst trial's own figure
        return max(
            (s.added_latency_p99_ms for s in steps if s.added_latency_p99_ms is not None),
            default=None,
        )
    p99 = percentile(answered.loc[answered["kind"] == "text", "latency_ms"], 99)
    return p99 - downstream if p99 is not None else None


def _bench_cpu(steps: Sequence[StepResult], requests: int) -> dict[str, float]:
    """CPU ms per request of each bench part over the level (what the bench spent to measure it)."""
    if not requests:
        return {}
    spent: dict[str, float] = {}
    for step in steps:
        for name in HELPER_COMPONENTS:
            if name in step.components:
                spent[name] = spent.get(name, 0.0) + step.components[name].cpu_seconds
    return {name: seconds * 1000 / requests for name, seconds in spent.items()}


def _saturated(step: StepResult) -> bool:
    load = step.cpu_load
    if load is None or not load.pinned or load.service_cores is None:
        return False
    return load.service_cores >= BENCH_CPUS_BUSY_SHARE * len(load.service_cpus)


def _usability(
    steps: Sequence[StepResult],
    requests: int,
    answered: int,
    min_requests: int,
    bound_by: Sequence[Component],
) -> list[UsabilityIssue]:
    issues = [
        UsabilityIssue(
            code=Unusable.BENCH_BOUND, component=component, detail=f"bench-bound by {COMPONENT_LABELS[component]}"
        )
        for component in bound_by
    ]
    incomplete = [step.trial for step in steps if not step.complete]
    if incomplete:
        detail = f"trial(s) {incomplete} did not run to their end"
        issues.append(UsabilityIssue(code=Unusable.INCOMPLETE, detail=detail))
    if requests < min_requests:
        detail = f"only {requests} requests (< {min_requests}): use longer steps"
        issues.append(UsabilityIssue(code=Unusable.TOO_FEW_REQUESTS, detail=detail))
    if answered == 0 and requests > 0:
        detail = "no per-request records with a response for this level"
        issues.append(UsabilityIssue(code=Unusable.NO_RECORDS, detail=detail))
    disturbed = [why for step in steps if (why := disturbance(step)) is not None]
    if disturbed:
        detail = f"the machine was not quiet ({'; '.join(disturbed)}): it measured the disturbance, not the design"
        issues.append(UsabilityIssue(code=Unusable.DISTURBED, detail=detail))
    return issues
