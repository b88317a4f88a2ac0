"""Candidate against baseline: the ratio of p95, p99, throughput and (given the steps) the
service's CPU per request at every shared load level, with a bootstrap 95% interval and, for
latency, Mann-Whitney U over the per-request latencies.

Intervals resample trial-level figures when both sides have at least 3 trials, else the requests
of each side independently (throughput: their per-second counts). A latency ratio is significant
when p < :data:`SIGNIFICANCE_LEVEL` AND its interval (when there is one) excludes 1: a shifted
distribution whose percentile ratio is still uncertain does not count. A throughput ratio is
significant when its interval excludes 1. So is a CPU-per-request ratio (its interval resamples
each side's seconds as pairs of CPU and requests, :mod:`.cpu`; trials' figures with 3 or more):
where both services fill their CPUs, it is the steadiest figure of what a message costs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..metrics import COMPARED_PERCENTILES, CPU_METRIC, LATENCY_METRICS
from ..results import LevelSummary, Ratio, StepResult
from .cpu import cpu_pairs, ms_per_request, service_ms_per_request
from .levels import MIN_TRIALS_FOR_TRIAL_BOOTSTRAP, estimate, per_second_counts, summary_records
from .stats import bootstrap_ratio_ci, mann_whitney, paired_samples_ci, percentile, percentile_ratio_cis
from .steps import latency_column

__all__ = ["SIGNIFICANCE_LEVEL", "contains_one", "ratios"]

SIGNIFICANCE_LEVEL = 0.01


def ratios(
    summaries: Sequence[LevelSummary],
    records: pd.DataFrame,
    *,
    candidate: str,
    baseline: str,
    seed: int = 0,
    steps: Sequence[StepResult] = (),
) -> list[Ratio]:
    """candidate / baseline for the registry's ratio metrics (p95, p99, throughput) at every load
    level both services ran, and the service's CPU per request where ``steps`` are given."""
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
        if steps and (cpu := _cpu_ratio(cand, base, steps, records, seed)) is not None:
            out.append(cpu)
    return out


def _by_trials(cand: LevelSummary, base: LevelSummary) -> bool:
    return min(cand.trials, base.trials) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP


def _latency_ratios(
    cand: LevelSummary,
    base: LevelSummary,
    cand_answered: pd.DataFrame,
    base_answered: pd.DataFrame,
    seed: int,
) -> list[Ratio]:
    qs = [LATENCY_METRICS[m] for m in COMPARED_PERCENTILES]
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
            significant=None if p_value is None else p_value < SIGNIFICANCE_LEVEL and not contains_one(ci),
        )
        for metric, ci in zip(COMPARED_PERCENTILES, cis, strict=True)
    ]


def _throughput_ratio(
    cand: LevelSummary,
    base: LevelSummary,
    cand_answered: pd.DataFrame,
    base_answered: pd.DataFrame,
    seed: int,
) -> Ratio:
    if _by_trials(cand, base):
        top = _trial_throughputs(cand, cand_answered)
        bottom = _trial_throughputs(base, base_answered)
    else:
        top = per_second_counts(cand_answered, cand.trial_windows)
        bottom = per_second_counts(base_answered, base.trial_windows)
    ci = bootstrap_ratio_ci(top, bottom, seed=seed)
    significant = None if ci is None else not contains_one(ci)
    return _ratio("throughput_rps", cand, base, ci, p_value=None, significant=significant)


def _level_steps(steps: Sequence[StepResult], summary: LevelSummary) -> list[StepResult]:
    key = (summary.service, summary.users, summary.arrival_rate)
    return [s for s in steps if (s.service, s.users, s.arrival_rate) == key]


def _cpu_ratio(
    cand: LevelSummary, base: LevelSummary, steps: Sequence[StepResult], records: pd.DataFrame, seed: int
) -> Ratio | None:
    sides = [_level_steps(steps, cand), _level_steps(steps, base)]
    top, bottom = (service_ms_per_request(side) for side in sides)
    if top is None or not bottom:
        return None
    if _by_trials(cand, base):
        figures = [[service_ms_per_request([step]) for step in side] for side in sides]
        ci = bootstrap_ratio_ci(*([f for f in side if f is not None] for side in figures), seed=seed)
    else:
        pairs = [
            cpu_pairs(side, summary_records(summary, records))
            for side, summary in zip(sides, (cand, base), strict=True)
        ]

        def ratio(a: object, b: object, axis: int = -1) -> object:
            return ms_per_request(a, axis) / ms_per_request(b, axis)

        ci = paired_samples_ci(pairs, ratio, seed=seed) if all(p.shape[1] >= 2 for p in pairs) else None
        if ci is not None and all(p[1].sum() for p in pairs):
            # The pairs cover whole seconds only: centre the interval on the figure it qualifies.
            shift = top / bottom - float(ratio(*pairs))
            ci = (ci[0] + shift, ci[1] + shift)
    return Ratio(
        users=cand.users,
        arrival_rate=cand.arrival_rate,
        metric=CPU_METRIC,
        value=estimate(top / bottom, ci),
        significant=None if ci is None else not contains_one(ci),
        both_saturated=cand.service_saturated and base.service_saturated,
        cpus_shared=any(step.cpu_load is not None and not step.cpu_load.pinned for side in sides for step in side),
    )


def contains_one(ci: tuple[float, float] | None) -> bool:
    return ci is not None and ci[0] <= 1 <= ci[1]


def _ratio(
    metric: str,
    cand: LevelSummary,
    base: LevelSummary,
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
        value=estimate(value, ci),
        significant=significant,
        p_value=p_value,
        both_saturated=cand.service_saturated and base.service_saturated,
    )


def _answered(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["status"] != 0]


def _trial_percentiles(answered: pd.DataFrame, column: str, q: float) -> list[float]:
    figures = (percentile(group[column], q) for _, group in answered.groupby("trial"))
    return [f for f in figures if f is not None]


def _trial_throughputs(summary: LevelSummary, answered: pd.DataFrame) -> list[float]:
    return [int((answered["trial"] == trial).sum()) / (t1 - t0) for trial, (t0, t1) in summary.trial_windows.items()]
