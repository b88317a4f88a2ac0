"""Regressions against a baseline run, flagged the way asv and Bencher do: by size AND significance.

For every service and load level both runs measured, and each of p95, p99 and throughput, a
change is a *regression* only when BOTH

* it is larger than the allowed factor in the bad direction (latency up, throughput down by
  more than ``max_regression``, default 10 %), and
* it is statistically real: for latency, Mann-Whitney U on the two runs' per-request latencies
  gives p < ``alpha`` and the bootstrap 95% interval of the percentile ratio excludes 1; for
  throughput, the bootstrap 95% interval of the ratio (per-second counts, or trials when both
  runs have three or more) lies beyond 1.

So one noisy run on a shared CI machine does not fail the build, and a real slow-down does. The
same rule in the good direction reports an *improvement*. The statistics are those the run's own
optimized/original ratios use (:func:`harness.analysis.ratios`), applied to this run against the
baseline. Without per-request records for both runs the two runs' 95% intervals decide
(non-overlapping = significant), and the check says so.

A level unusable in either run (bench-bound, too few requests) cannot confirm a regression: a
suspected one there is *not judged*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ..analysis import RATIO_METRICS, ratios
from ..results import Estimate, Ratio, Results, StepSummary
from ..terms import LATENCY_METRICS, Direction, beyond_margin, load_label

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_REGRESSION",
    "Regression",
    "RegressionVerdict",
    "compare_runs",
    "levels_not_compared",
    "run_differences",
]

DEFAULT_MAX_REGRESSION = 0.10
DEFAULT_ALPHA = 0.01
RegressionVerdict = Literal["regression", "improvement", "no change", "not judged"]

# figures.ratios compares two services of one run; a run against its baseline is the same
# computation once the two runs' services are labelled apart.
_CURRENT, _BASELINE = "{}@current", "{}@baseline"


@dataclass(frozen=True)
class Regression:
    """One service x load level x metric, this run against the baseline."""

    service: str
    users: int
    arrival_rate: float
    metric: str
    current: float | None
    baseline: float | None
    ratio: Estimate  # current / baseline, with its bootstrap 95% interval when known
    p_value: float | None  # Mann-Whitney U (latency, with records)
    verdict: RegressionVerdict
    suspect: bool  # beyond the factor in the bad direction (a regression if confirmed)
    method: str
    reason: str

    @property
    def change(self) -> float | None:
        """Relative change, current / baseline - 1 (+0.3 = 30 % higher)."""
        return None if self.ratio.value is None else self.ratio.value - 1


def compare_runs(
    current: Results,
    baseline: Results,
    current_records: pd.DataFrame | None = None,
    baseline_records: pd.DataFrame | None = None,
    *,
    max_regression: float = DEFAULT_MAX_REGRESSION,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> list[Regression]:
    """Every (service, load level, metric) of ``current`` that ``baseline`` also measured."""
    if not max_regression > 0 or not 0 < alpha < 1:
        raise ValueError("need max_regression > 0 and 0 < alpha < 1")
    earlier = {(s.service, s.users, s.arrival_rate): s for s in baseline.summaries}
    with_records = _has_records(current_records) and _has_records(baseline_records)
    found: list[Regression] = []
    for now in current.summaries:
        before = earlier.get((now.service, now.users, now.arrival_rate))
        if before is None:
            continue
        if with_records:
            compared = _record_ratios(now, before, current_records, baseline_records, seed)  # type: ignore[arg-type]
        else:
            compared = {}
        for metric in RATIO_METRICS:
            found.append(_judge(now, before, metric, compared.get(metric), max_regression, alpha, with_records))
    return found


def _has_records(records: pd.DataFrame | None) -> bool:
    return records is not None and not records.empty


def _labelled(summary: StepSummary, template: str) -> StepSummary:
    return summary.model_copy(update={"service": template.format(summary.service)})


def _record_ratios(
    now: StepSummary,
    before: StepSummary,
    current_records: pd.DataFrame,
    baseline_records: pd.DataFrame,
    seed: int,
) -> dict[str, Ratio]:
    cur, base = _labelled(now, _CURRENT), _labelled(before, _BASELINE)
    records = pd.concat(
        [
            current_records[current_records["service"] == now.service].assign(service=cur.service),
            baseline_records[baseline_records["service"] == before.service].assign(service=base.service),
        ],
        ignore_index=True,
    )
    computed = ratios([cur, base], records, candidate=cur.service, baseline=base.service, seed=seed)
    return {r.metric: r for r in computed}


def _bad_direction(metric: str, ratio: float, margin: float) -> bool:
    return beyond_margin(metric, ratio, Direction.WORSE, margin)


def _good_direction(metric: str, ratio: float, margin: float) -> bool:
    return beyond_margin(metric, ratio, Direction.BETTER, margin)


# A significance test's answer: +1 significantly higher than the baseline, -1 significantly
# lower, 0 not significant, None cannot tell. Direction matters: a two-sided test that is
# significant because the median fell must not confirm a percentile that rose.
Shift = int | None


def _side(low: float | None, high: float | None, reference: float = 1.0) -> Shift:
    if low is None or high is None:
        return None
    return 1 if low > reference else -1 if high < reference else 0


def _judge(
    now: StepSummary,
    before: StepSummary,
    metric: str,
    computed: Ratio | None,
    margin: float,
    alpha: float,
    with_records: bool,
) -> Regression:
    current, baseline = getattr(now, metric).value, getattr(before, metric).value
    point = current / baseline if current is not None and baseline else None
    interval = computed.value if computed is not None else Estimate(value=point)
    interval = interval.model_copy(update={"value": point})
    p_value = computed.p_value if computed is not None else None

    def verdict(kind: RegressionVerdict, suspect: bool, method: str, reason: str) -> Regression:
        return Regression(
            now.service,
            now.users,
            now.arrival_rate,
            metric,
            current,
            baseline,
            interval,
            p_value,
            kind,
            suspect,
            method,
            reason,
        )

    if point is None:
        return verdict("not judged", False, "-", f"{metric} was not measured in both runs")
    suspect = _bad_direction(metric, point, margin)
    if with_records and computed is not None:
        shift, method, evidence = _record_shift(metric, computed, alpha)
    else:
        shift, method, evidence = _interval_shift(getattr(now, metric), getattr(before, metric))
    worse = -1 if metric == "throughput_rps" else 1
    size = f"{point - 1:+.1%} (allowed {margin:.0%})"
    if not (now.usable and before.usable):
        where = "either run" if not (now.usable or before.usable) else "this run" if not now.usable else "the baseline"
        why = f"the level is not usable in {where}"
        if suspect:
            return verdict(
                "not judged", True, method, f"{size}, {evidence}, but {why}: a regression cannot be confirmed there"
            )
        return verdict("no change", False, method, f"{size}, {evidence}; {why}")
    if shift is None:
        if suspect:
            return verdict("not judged", True, method, f"{size}, but {evidence}: its significance is unknown")
        return verdict("no change", False, method, f"{size}; {evidence}")
    if suspect and shift == worse:
        return verdict("regression", True, method, f"{size}, {evidence}")
    if _good_direction(metric, point, margin) and shift == -worse:
        return verdict("improvement", False, method, f"{size}, {evidence}")
    if suspect:
        return verdict("no change", True, method, f"{size} but not significant: {evidence}")
    return verdict("no change", False, method, f"{size}, within the allowed factor; {evidence}")


def _record_shift(metric: str, computed: Ratio, alpha: float) -> tuple[Shift, str, str]:
    ci = computed.value
    side = _side(ci.ci_low, ci.ci_high)
    interval = (
        "no ratio interval"
        if side is None
        else f"ratio 95% CI {ci.ci_low:.4g}..{ci.ci_high:.4g} {'includes' if side == 0 else 'excludes'} 1"
    )
    if metric in LATENCY_METRICS:
        method = "Mann-Whitney U on per-request latencies + bootstrap CI of the ratio"
        if computed.p_value is None:
            return None, method, "no latencies to test"
        below = computed.p_value < alpha
        p_text = "< 1e-16" if computed.p_value < 1e-16 else f"= {computed.p_value:.3g}"
        evidence = f"Mann-Whitney p {p_text} ({'<' if below else '>='} {alpha:g}), {interval}"
        if not below:
            return 0, method, evidence
        if side is None:  # no interval (degenerate resamples): the test and the point decide
            return (1 if (ci.value or 1) > 1 else -1), method, evidence
        return side, method, evidence
    return (
        side,
        "bootstrap 95% CI of the throughput ratio",
        (interval if side is not None else "no interval of the throughput ratio"),
    )


def _interval_shift(now: Estimate, before: Estimate) -> tuple[Shift, str, str]:
    method = "95% CIs of the two runs (no per-request records: non-overlapping = significant)"
    if None in (now.ci_low, now.ci_high, before.ci_low, before.ci_high):
        return None, method, "no per-request records and no intervals to compare"
    shift = 1 if now.ci_low > before.ci_high else -1 if now.ci_high < before.ci_low else 0  # type: ignore[operator]
    text = (
        f"intervals {now.ci_low:.4g}..{now.ci_high:.4g} vs {before.ci_low:.4g}..{before.ci_high:.4g} "
        f"{'overlap' if shift == 0 else 'do not overlap'} (no per-request records)"
    )
    return shift, method, text


def levels_not_compared(current: Results, baseline: Results) -> list[str]:
    """Load levels only one of the runs measured (so no regression check covers them)."""
    ours = {(s.service, s.users, s.arrival_rate) for s in current.summaries}
    theirs = {(s.service, s.users, s.arrival_rate) for s in baseline.summaries}
    return [
        f"{service} at {load_label(users, rate)}: only in {'this run' if key in ours else 'the baseline'}"
        for key in sorted(ours ^ theirs)
        for service, users, rate in [key]
    ]


def run_differences(current: Results, baseline: Results) -> list[str]:
    """Settings and machine facts that differ between the runs: a change there, not in the code,
    may explain a shift. The load and the bench are compared whole, field by field."""
    pairs = [
        (f"settings.load.{name}", value, getattr(baseline.settings.load, name))
        for name, value in current.settings.load
        if name not in _NOT_COMPARED_LOAD
    ]
    pairs += [
        (f"settings.bench.{name}", value, getattr(baseline.settings.bench, name))
        for name, value in current.settings.bench
    ]
    pairs += [
        (f"machine.{name}", getattr(current.machine, name), getattr(baseline.machine, name))
        for name in _COMPARED_MACHINE
    ]
    return [f"{name}: {now!r} here, {before!r} in the baseline" for name, now, before in pairs if now != before]


# The load levels are compared level by level (levels_not_compared); where the master listens
# changes nothing measured.
_NOT_COMPARED_LOAD = frozenset({"users", "arrival_rates", "master_bind_host", "master_port"})
_COMPARED_MACHINE = ("cpu_count", "cpu_model")
