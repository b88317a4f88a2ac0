"""Figures of a run, computed from the per-request records (columns of ``RECORD_COLUMNS``).

Three levels, each feeding the next:

* :func:`step_result` - one service, one load level, one trial, over its measured window;
* :func:`summarize` - a service at one load level over all its trials (what criteria judge);
* :func:`ratios` - candidate / baseline per load level, with intervals and significance.

Only requests *sent* inside a step's measured window count: the warm-up before it is excluded,
and requests sent in the window count even if their answer arrived after it closed (otherwise
the slowest requests, the ones that matter, would be the ones dropped).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from .results import (
    ABANDONED,
    RECORD_COLUMNS,
    AuditFigures,
    CacheFigures,
    Component,
    ComponentUsage,
    DatabaseFigures,
    Estimate,
    LatencySummary,
    Ratio,
    StepResult,
    StepSummary,
)
from .stats import (
    bootstrap_ci,
    bootstrap_ratio_ci,
    latency_summary,
    littles_law_offered_rps,
    mann_whitney,
    percentile,
    percentile_cis,
    percentile_ratio_cis,
)

__all__ = [
    "BENCH_BOUND_THRESHOLD_CORES",
    "BOUND_LABELS",
    "MACHINE_BUSY_SHARE",
    "MACHINE_HELPER_SHARE",
    "HELPER_COMPONENTS",
    "LATENCY_METRICS",
    "LITTLES_LAW_GAP_LIMIT",
    "MIN_REQUESTS",
    "RATIO_METRICS",
    "SIGNIFICANCE_LEVEL",
    "latency_column",
    "ratios",
    "step_result",
    "summarize",
    "summary_records",
]

BENCH_BOUND_THRESHOLD_CORES = 0.9
# The whole machine counts as the bound when it was this busy AND the bench's own processes (or
# processes outside the run) took at least this share of it: the service then competed for the
# CPU (a service that saturates the machine by itself is measured fairly: that cost is its own).
MACHINE_BUSY_SHARE = 0.75
MACHINE_HELPER_SHARE = 0.25
LITTLES_LAW_GAP_LIMIT = 0.2
MIN_REQUESTS = 200
MIN_TRIALS_FOR_TRIAL_BOOTSTRAP = 3
SIGNIFICANCE_LEVEL = 0.01
LATENCY_METRICS = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
RATIO_METRICS = ("p95_ms", "p99_ms", "throughput_rps")

# The bench's own parts; when one of them runs out of CPU the step measured the bench.
HELPER_COMPONENTS = {
    "load_generator": "load generator",
    "database": "embedded database",
    "upstream": "fake upstream",
}
# Everything a step can be bound by, for messages (helpers, and the machine as a whole).
BOUND_LABELS = {**HELPER_COMPONENTS, "machine": "the shared machine"}
_BENCH_BOUND_ADVICE = {
    "load_generator": "add --locust-workers",
    "database": "use a real mongod via MONGODB_URI",
    "upstream": "give the bench more cores or lower the load (the fake Graph API/LLM saturated)",
}

_LevelKey = tuple[str, int, float]


# -- one step -----------------------------------------------------------------------------------
def latency_column(arrival_rate: float) -> str:
    """The latency a load level is judged on: coordinated-omission corrected in open loop."""
    return "corrected_latency_ms" if arrival_rate > 0 else "latency_ms"


def step_result(
    records: pd.DataFrame,
    *,
    service: str,
    users: int,
    trial: int,
    started_at: datetime,
    window: tuple[float, float],
    components: Mapping[str, ComponentUsage],
    cache: CacheFigures | None,
    database: DatabaseFigures | None,
    audit: AuditFigures | None,
    wait_mean_s: float,
    downstream_latency_ms: float,
    arrival_rate: float = 0.0,
    bench_bound_threshold_cores: float = BENCH_BOUND_THRESHOLD_CORES,
    machine: tuple[float, int] | None = None,
    complete: bool = True,
    notes: Iterable[str] = (),
) -> StepResult:
    """The figures of one step run; ``records`` are that run's records, ``window`` (t0, t1) in
    UNIX seconds is the measured window (after warm-up); ``machine`` is (busy cores over the
    window, cores of the machine) when known."""
    t0, t1 = window
    window_s = t1 - t0
    if window_s <= 0:
        raise ValueError(f"empty measured window {window!r}")
    notes = list(notes)
    measured = _in_window(records, t0, t1)
    answered = measured[measured["status"] != 0]
    requests = len(measured)
    status = measured["status"].astype(int)
    if requests == 0:
        notes.append("no request was sent in the measured window")

    by_kind = {
        str(kind): latency_summary(group["latency_ms"]) for kind, group in answered.groupby("kind")
    }
    text = by_kind.get("text")
    added_p99 = text.p99_ms - downstream_latency_ms if text and text.p99_ms is not None else None
    throughput = len(answered) / window_s
    offered, gap = _offered_load(measured, users, arrival_rate, wait_mean_s, throughput)
    if gap is not None and abs(gap) > LITTLES_LAW_GAP_LIMIT:
        notes.append(
            f"throughput {throughput:.1f} rps is {gap:+.0%} off the {offered:.1f} rps the load should "
            "have offered (Little's law): the load was not what was asked for"
        )
    bound_by = _bench_bound(components, bench_bound_threshold_cores, notes)
    if machine is not None and _machine_bound(components, *machine, notes):
        bound_by.append("machine")
    service_usage = components.get("service")
    return StepResult(
        service=service,
        users=users,
        arrival_rate=arrival_rate,
        trial=trial,
        started_at=started_at,
        window_s=window_s,
        window_start=t0,
        requests=requests,
        throughput_rps=throughput,
        success_rate=_share(status.between(200, 299).sum(), requests),
        error_rate=_share(((status == 0) | (status >= 500)).sum(), requests),
        status_counts={str(code): int(n) for code, n in status.value_counts().sort_index().items()},
        latency=latency_summary(answered["latency_ms"]),
        corrected_latency=latency_summary(answered["corrected_latency_ms"])
        if arrival_rate > 0
        else None,
        latency_by_kind=by_kind,
        offered_rps=offered,
        littles_law_gap=gap,
        added_latency_p99_ms=added_p99,
        downstream_latency_ms=downstream_latency_ms,
        machine_cpu_cores=machine[0] if machine is not None else None,
        service_cpu_ms_per_request=(
            service_usage.cpu_seconds * 1000 / requests
            if service_usage is not None and requests
            else None
        ),
        cache=cache,
        database=database,
        components=dict(components),
        bound_by=bound_by,
        audit=audit,
        complete=complete,
        notes=notes,
    )


def _in_window(records: pd.DataFrame, t0: float, t1: float) -> pd.DataFrame:
    return records[(records["t_start"] >= t0) & (records["t_start"] < t1) & (records["error"] != ABANDONED)]


def _share(count: int | np.integer, total: int) -> float:
    return float(count) / total if total else 0.0


def _offered_load(
    measured: pd.DataFrame, users: int, arrival_rate: float, wait_mean_s: float, throughput: float
) -> tuple[float | None, float | None]:
    # Open loop: what was asked for is the arrival rate itself. Closed loop: Little's law over
    # every request's time (failures occupy a user too).
    if arrival_rate > 0:
        offered: float | None = arrival_rate
    elif len(measured):
        offered = littles_law_offered_rps(
            users, float(measured["latency_ms"].mean()) / 1000, wait_mean_s
        )
    else:
        offered = None
    gap = throughput / offered - 1 if offered else None
    return offered, gap


def _bench_bound(
    components: Mapping[str, ComponentUsage], threshold: float, notes: list[str]
) -> list[Component]:
    bound: list[Component] = []
    for name, label in HELPER_COMPONENTS.items():
        usage = components.get(name)
        if usage is not None and usage.cpu_cores_mean >= threshold:
            bound.append(name)
            notes.append(
                f"{label} at {usage.cpu_cores_mean:.2f} cores (>= {threshold:.2f}): the step measured "
                f"the bench, not the service; {_BENCH_BOUND_ADVICE[name]}"
            )
    return bound


def _machine_bound(
    components: Mapping[str, ComponentUsage], busy_cores: float, cores: int, notes: list[str]
) -> bool:
    """The service competed for CPU: the machine was busy and either the bench's own processes
    or processes outside the run (another tenant of a shared machine) took a large share."""
    if cores <= 0 or busy_cores < MACHINE_BUSY_SHARE * cores:
        return False
    helpers = sum(components[name].cpu_cores_mean for name in HELPER_COMPONENTS if name in components)
    outside = busy_cores - sum(usage.cpu_cores_mean for usage in components.values())
    if helpers >= MACHINE_HELPER_SHARE * cores:
        competitor = f"the bench's own processes (load generator, database, upstream) took {helpers:.2f} cores of it"
    elif outside >= MACHINE_HELPER_SHARE * cores:
        competitor = f"processes outside this run took {outside:.2f} cores of it"
    else:
        return False
    notes.append(
        f"the machine was {busy_cores:.2f} of {cores} cores busy and {competitor}: the service "
        "competed for CPU, so its figures are a lower bound; run the bench's parts on other hosts "
        "(MONGODB_URI, Locust workers elsewhere), lower the load, or run on a quieter machine"
    )
    return True


# -- one load level over its trials -----------------------------------------------------------
def summary_records(summary: StepSummary, records: pd.DataFrame) -> pd.DataFrame:
    """The records a summary's figures were computed from (its trials, inside their windows)."""
    return _level_records(
        records, summary.service, summary.users, summary.arrival_rate, summary.trial_windows
    )


def _level_records(
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
        keep |= (
            (level["trial"] == trial) & (level["t_start"] >= t0) & (level["t_start"] < t1)
        ).to_numpy()
    return level[keep & (level["error"] != ABANDONED).to_numpy()]


def summarize(
    steps: Sequence[StepResult],
    records: pd.DataFrame,
    seed: int = 0,
    *,
    min_requests: int = MIN_REQUESTS,
) -> list[StepSummary]:
    """One :class:`StepSummary` per (service, users, arrival_rate), in the order the steps ran.

    A figure's value is computed over ALL the level's measured requests pooled (the p95 of every
    request of every trial). Its interval resamples trial-level figures when there are at least
    3 trials (trial-to-trial variation is the honest error), else the requests themselves (and,
    for throughput, the per-second counts); the summary's notes say which.
    """
    groups: dict[_LevelKey, list[StepResult]] = {}
    for step in steps:
        groups.setdefault((step.service, step.users, step.arrival_rate), []).append(step)
    return [
        _summarize_level(key, group, records, seed, min_requests) for key, group in groups.items()
    ]


def _trial_windows(steps: Sequence[StepResult], notes: list[str]) -> dict[int, tuple[float, float]]:
    windows = {}
    for step in steps:
        start = step.window_start
        if start is None:
            start = step.started_at.timestamp()
            notes.append(
                f"trial {step.trial}: window start not recorded, taken as the step's start"
            )
        windows[step.trial] = (start, start + step.window_s)
    return windows


def _summarize_level(
    key: _LevelKey, steps: Sequence[StepResult], records: pd.DataFrame, seed: int, min_requests: int
) -> StepSummary:
    service, users, arrival_rate = key
    notes: list[str] = []
    windows = _trial_windows(steps, notes)
    level = _level_records(records, service, users, arrival_rate, windows)
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
    usable = _usability(steps, requests, len(latencies), min_requests, bound_by, notes)
    # Unusable only because the database, the upstream or the machine slowed the service down:
    # its figures are pessimistic (a criterion it passes still stands). A saturated generator
    # may instead have under-driven it, which flatters: nothing from such a level stands.
    slowed_by_bench = (
        not usable
        and bool(bound_by)
        and "load_generator" not in bound_by
        and all(n.startswith("not usable: bench-bound") for n in notes if n.startswith("not usable"))
    )
    if len(level) != requests:  # the percentiles cover the records, the rates the steps' counts
        notes.append(f"per-request records hold {len(level)} of the steps' {requests} requests")
    audits = [step.audit for step in steps if step.audit is not None]
    if audits and len(audits) < len(steps):
        notes.append(f"delivery audited in {len(audits)} of {len(steps)} trials")
    caches = [step.cache for step in steps if step.cache is not None]
    databases = [step.database for step in steps if step.database is not None]
    service_cpu = [step.components["service"] for step in steps if "service" in step.components]
    generator = [
        step.components["load_generator"] for step in steps if "load_generator" in step.components
    ]
    return StepSummary(
        service=service,
        users=users,
        arrival_rate=arrival_rate,
        trials=len(steps),
        requests=requests,
        p50_ms=latency_estimates["p50_ms"],
        p95_ms=latency_estimates["p95_ms"],
        p99_ms=latency_estimates["p99_ms"],
        throughput_rps=throughput,
        success_rate=_pooled(steps, "success_rate", requests),
        error_rate=_pooled(steps, "error_rate", requests),
        cache_hit_rate=_hit_rate(caches),
        slowed_by_bench=slowed_by_bench,
        service_cpu_ms_per_request=(
            sum(u.cpu_seconds for u in service_cpu) * 1000 / requests
            if service_cpu and requests
            else None
        ),
        added_latency_p99_ms=_added_latency_p99(steps, answered),
        database_connections_max=max((d.connections_max for d in databases), default=None),
        rss_mb_max=max((u.rss_mb_max for u in service_cpu), default=None),
        bound_by=bound_by,
        audit_passed=all(audit.passed for audit in audits) if audits else None,
        usable=usable,
        notes=notes,
        has_cache=bool(caches),
        database_operations_per_request=(
            sum(d.operations for d in databases) / requests if databases and requests else None
        ),
        load_generator_cpu_cores=max((u.cpu_cores_mean for u in generator), default=None),
        trial_windows=windows,
    )


def _latency_estimates(
    latencies: np.ndarray,
    steps: Sequence[StepResult],
    arrival_rate: float,
    by_trials: bool,
    seed: int,
) -> dict[str, Estimate]:
    qs = list(LATENCY_METRICS.values())
    if by_trials:
        cis = []
        for q in qs:
            figures = [_step_percentile(step, q, arrival_rate) for step in steps]
            cis.append(bootstrap_ci([f for f in figures if f is not None], np.mean, seed=seed))
    else:
        cis = percentile_cis(latencies, qs, seed=seed)
    estimates = {}
    for (metric, q), ci in zip(LATENCY_METRICS.items(), cis, strict=True):
        value = percentile(latencies, q)
        estimates[metric] = Estimate(value=None) if value is None else _estimate(value, ci)
    return estimates


def _step_percentile(step: StepResult, q: float, arrival_rate: float) -> float | None:
    summary: LatencySummary | None = step.corrected_latency if arrival_rate > 0 else step.latency
    return getattr(summary, f"p{q:.0f}_ms", None) if summary is not None else None


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
        counts = _per_second_counts(answered, windows)
        ci = bootstrap_ci(counts, np.mean, seed=seed)
        if ci is not None and counts.size:
            # The counts cover whole seconds only; the figure also counts the window's last
            # fraction of a second. The interval measures the per-second spread, so centre it
            # on the figure it qualifies.
            shift = value - float(counts.mean())
            ci = (ci[0] + shift, ci[1] + shift)
    return _estimate(value, ci)


def _per_second_counts(
    answered: pd.DataFrame, windows: Mapping[int, tuple[float, float]]
) -> np.ndarray:
    """Answered requests sent in each whole second of each trial's window (zeros included)."""
    counts = []
    for trial, (t0, t1) in windows.items():
        seconds = int(math.floor(t1 - t0))
        starts = answered.loc[answered["trial"] == trial, "t_start"].to_numpy(dtype=float) - t0
        counts.append(np.bincount(starts[starts < seconds].astype(int), minlength=seconds))
    return np.concatenate(counts) if counts else np.empty(0)


def _estimate(value: float | None, ci: tuple[float, float] | None) -> Estimate:
    return Estimate(value=value, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None)


def _pooled(steps: Sequence[StepResult], field: str, requests: int) -> float:
    return (
        sum(getattr(step, field) * step.requests for step in steps) / requests if requests else 0.0
    )


def _hit_rate(caches: Sequence[CacheFigures]) -> float | None:
    lookups = sum(c.hits + c.misses for c in caches)
    return sum(c.hits for c in caches) / lookups if lookups else None


def _added_latency_p99(steps: Sequence[StepResult], answered: pd.DataFrame) -> float | None:
    downstream = next(
        (s.downstream_latency_ms for s in steps if s.downstream_latency_ms is not None), None
    )
    if downstream is None:  # older results: the worst trial's own figure
        return max(
            (s.added_latency_p99_ms for s in steps if s.added_latency_p99_ms is not None),
            default=None,
        )
    p99 = percentile(answered.loc[answered["kind"] == "text", "latency_ms"], 99)
    return p99 - downstream if p99 is not None else None


def _usability(
    steps: Sequence[StepResult],
    requests: int,
    answered: int,
    min_requests: int,
    bound_by: Sequence[str],
    notes: list[str],
) -> bool:
    reasons = []
    if bound_by:
        reasons.append("bench-bound by " + ", ".join(BOUND_LABELS[c] for c in bound_by))
    incomplete = [step.trial for step in steps if not step.complete]
    if incomplete:
        reasons.append(f"trial(s) {incomplete} did not run to their end")
    if requests < min_requests:
        reasons.append(f"only {requests} requests (< {min_requests}): use longer steps")
    if answered == 0 and requests > 0:
        reasons.append("no per-request records with a response for this level")
    for reason in reasons:
        notes.append(f"not usable: {reason}")
    return not reasons


# -- candidate against baseline ---------------------------------------------------------------
def ratios(
    summaries: Sequence[StepSummary],
    records: pd.DataFrame,
    candidate: str = "optimized",
    baseline: str = "original",
    seed: int = 0,
) -> list[Ratio]:
    """candidate / baseline for p95, p99 and throughput at every load level both services ran.

    Intervals resample trial-level figures when both sides have at least 3 trials, else the
    requests of each side independently (throughput: their per-second counts). Latency ratios
    are significant when Mann-Whitney U on the per-request latencies gives p < 0.01 AND the
    ratio's interval (when there is one) excludes 1: a shifted distribution whose percentile
    ratio is still uncertain does not count. Throughput ratios are significant when their
    interval excludes 1.
    """
    by_level = {(s.service, s.users, s.arrival_rate): s for s in summaries}
    out = []
    for (service, users, arrival_rate), cand in by_level.items():
        base = by_level.get((baseline, users, arrival_rate))
        if service != candidate or base is None:
            continue
        cand_answered = _answered(summary_records(cand, records))
        base_answered = _answered(summary_records(base, records))
        out += _latency_ratios(cand, base, cand_answered, base_answered, seed)
        out.append(_throughput_ratio(cand, base, cand_answered, base_answered, seed))
    return out


def _by_trials(cand: StepSummary, base: StepSummary) -> bool:
    return min(cand.trials, base.trials) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP


def _latency_ratios(
    cand: StepSummary,
    base: StepSummary,
    cand_answered: pd.DataFrame,
    base_answered: pd.DataFrame,
    seed: int,
) -> list[Ratio]:
    metrics = [m for m in RATIO_METRICS if m in LATENCY_METRICS]
    qs = [LATENCY_METRICS[m] for m in metrics]
    column = latency_column(cand.arrival_rate)
    a = cand_answered[column].to_numpy(dtype=float)
    b = base_answered[column].to_numpy(dtype=float)
    if _by_trials(cand, base):
        cis = [
            bootstrap_ratio_ci(
                _trial_percentiles(cand_answered, column, q),
                _trial_percentiles(base_answered, column, q),
                seed=seed,
            )
            for q in qs
        ]
    else:
        cis = percentile_ratio_cis(a, b, qs, seed=seed)
    p_value = mann_whitney(a, b, seed=seed)
    return [
        _ratio(
            metric,
            cand,
            base,
            ci,
            p_value=p_value,
            significant=None
            if p_value is None
            else p_value < SIGNIFICANCE_LEVEL and not _contains_one(ci),
        )
        for metric, ci in zip(metrics, cis, strict=True)
    ]


def _throughput_ratio(
    cand: StepSummary,
    base: StepSummary,
    cand_answered: pd.DataFrame,
    base_answered: pd.DataFrame,
    seed: int,
) -> Ratio:
    if _by_trials(cand, base):
        top = _trial_throughputs(cand, cand_answered)
        bottom = _trial_throughputs(base, base_answered)
    else:
        top = _per_second_counts(cand_answered, cand.trial_windows)
        bottom = _per_second_counts(base_answered, base.trial_windows)
    ci = bootstrap_ratio_ci(top, bottom, seed=seed)
    significant = None if ci is None else not _contains_one(ci)
    return _ratio("throughput_rps", cand, base, ci, p_value=None, significant=significant)


def _contains_one(ci: tuple[float, float] | None) -> bool:
    return ci is not None and ci[0] <= 1 <= ci[1]


def _ratio(
    metric: str,
    cand: StepSummary,
    base: StepSummary,
    ci: tuple[float, float] | None,
    *,
    p_value: float | None,
    significant: bool | None,
) -> Ratio:
    top, bottom = getattr(cand, metric).value, getattr(base, metric).value
    value = top / bottom if top is not None and bottom else None
    return Ratio(
        users=cand.users,
        arrival_rate=cand.arrival_rate,
        metric=metric,
        value=_estimate(value, ci),
        significant=significant,
        p_value=p_value,
    )


def _answered(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["status"] != 0]


def _trial_percentiles(answered: pd.DataFrame, column: str, q: float) -> list[float]:
    figures = (percentile(group[column], q) for _, group in answered.groupby("trial"))
    return [f for f in figures if f is not None]


def _trial_throughputs(summary: StepSummary, answered: pd.DataFrame) -> list[float]:
    return [
        int((answered["trial"] == trial).sum()) / (t1 - t0)
        for trial, (t0, t1) in summary.trial_windows.items()
    ]
