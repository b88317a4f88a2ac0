"""Regressions against a baseline run: by size AND significance, on a unit that can carry it.

For every service and load level both runs measured, a change in each gated metric
(:data:`harness.metrics.GATED_METRICS`: p95, p99, throughput, the service's CPU per request and,
where the database reports them, the database's operations per request) is a *regression* only
when BOTH

* it is larger than the practical margin in the bad direction (``max_regression``, by default
  :data:`harness.metrics.PRACTICAL_MARGIN`, the margin the verdict uses), and
* its 95% interval of current / baseline lies beyond 1 (latency on requests: Mann-Whitney U
  p < ``alpha`` as well, :data:`harness.analysis.SIGNIFICANCE_LEVEL` by default).

The same rule in the good direction reports an *improvement*. The statistics are those of the
run's own candidate/baseline ratios (:func:`harness.analysis.ratios`), applied to this run
against the baseline. Three things keep the rule honest across two runs:

* **The unit.** Two runs minutes apart are not two samples of one process: every request and
  every second of a run share that run's machine state (the CPUs' speed, the host's steal, what
  else ran), so an interval that resamples one run's requests knows nothing of how the next run
  differed. Unchanged code moved p95 and p99 by 10-15 %, "significant" at p < 1e-5. Where both
  runs have 3 or more trials a level, the intervals resample the trials' figures, and latency is
  judged like the rest. With fewer, latency rests on requests: a rise beyond the margin is
  **advisory** (shown, never failing) unless it passes :data:`ACROSS_RUNS_FACTOR` x the margin
  (20 %). The unchanged services' shifts seen at a level with CPU to spare reached 12.4 % (p99);
  twice the margin clears them and still fails a 25 % rise.
* **Saturation.** Where the service filled its own CPUs (``service_saturated``) in either run at
  a level, its latency is the queue the load builds, not the design (``compare`` sets it aside
  too, :attr:`harness.results.Ratio.is_evidence`): latency is **set aside** there, and the
  level's throughput and cost are judged. Code that became CPU-bound shows in both.
* **Cost.** The service's CPU per request counts work, not waiting, so it moves far less with the
  runner than latency does (CodSpeed gates on CPU work for that reason); its interval resamples
  seconds (each second's CPU and requests as a pair, :mod:`harness.analysis.cpu`) or trials. The
  database's operations per request are counts: trials, else the exact interval of the ratio of
  two Poisson counts (conditional binomial, Clopper-Pearson).

Without per-request records for both runs the two runs' own 95% intervals decide
(non-overlapping = significant), and the check says so. A level unusable in either run
(bench-bound, too few requests) cannot confirm a regression: a suspected one there is *not
judged*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
from scipy import stats

from ..analysis import SIGNIFICANCE_LEVEL, ratios
from ..analysis.levels import MIN_TRIALS_FOR_TRIAL_BOOTSTRAP
from ..analysis.stats import bootstrap_ratio_ci
from ..metrics import (
    CPU_METRIC,
    DATABASE_METRIC,
    GATED_METRICS,
    LATENCY_METRICS,
    METRIC_LABELS,
    PRACTICAL_MARGIN,
    higher_is_better,
    practical_margin,
)
from ..results import Estimate, LevelSummary, Ratio, Results, StepResult
from ..terms import Direction, beyond_margin, load_label

__all__ = [
    "ACROSS_RUNS_FACTOR",
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_REGRESSION",
    "Basis",
    "Regression",
    "RegressionVerdict",
    "across_runs_notes",
    "compare_runs",
    "database_change",
    "levels_not_compared",
    "run_differences",
]

# One margin per metric and one significance level for the whole harness: the verdict's (None: each
# metric's own margin, harness.metrics.practical_margin; a number given on the command line overrides all).
DEFAULT_MAX_REGRESSION: float | None = None
DEFAULT_ALPHA = SIGNIFICANCE_LEVEL
# Across two runs whose latency intervals rest on requests, a rise fails only past this many
# times the margin (2 x 10 % = 20 %); between the margin and that, it is advisory.
ACROSS_RUNS_FACTOR = 2.0

RegressionVerdict = Literal["regression", "advisory", "improvement", "no change", "set aside", "not judged"]
# What the interval of a check resampled: the runs' trials, each run's requests or seconds, the
# database's counts; none: no interval.
Basis = Literal["trials", "requests", "seconds", "counts", "none"]

# A significance test's answer: +1 significantly higher than the baseline, -1 significantly
# lower, 0 not significant, None cannot tell. Direction matters: a two-sided test that is
# significant because the median fell must not confirm a percentile that rose.
Shift = int | None


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
    suspect: bool  # beyond the margin in the bad direction (a regression if confirmed)
    method: str
    reason: str
    basis: Basis = "none"
    margin: float = PRACTICAL_MARGIN  # the relative change allowed before a significant one fails

    @property
    def change(self) -> float | None:
        """Relative change, current / baseline - 1 (+0.3 = 30 % higher)."""
        return None if self.ratio.value is None else self.ratio.value - 1

    @property
    def advisory_only(self) -> bool:
        return _advisory_only(self.metric, self.basis)


def _advisory_only(metric: str, basis: Basis) -> bool:
    """A latency check whose interval rests on one run's requests: below the wider margin across
    runs it can advise, not fail."""
    return metric in LATENCY_METRICS and basis == "requests"


@dataclass(frozen=True)
class _Level:
    """A service at one load level in both runs, with the steps each run measured there."""

    now: LevelSummary
    before: LevelSummary
    now_steps: list[StepResult]
    before_steps: list[StepResult]
    now_cost: Estimate  # the service's CPU ms per request, with the run's own interval
    before_cost: Estimate

    @property
    def by_trials(self) -> bool:
        return min(self.now.trials, self.before.trials) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP

    @property
    def saturated_in(self) -> str | None:
        """Where the service filled its own CPUs at this level, if it did."""
        now, before = self.now.service_saturated, self.before.service_saturated
        return "both runs" if now and before else "this run" if now else "the baseline" if before else None


@dataclass(frozen=True)
class _Evidence:
    """What the statistics say about one metric's change (before its size is weighed)."""

    shift: Shift
    method: str
    text: str
    basis: Basis
    interval: Estimate = field(default_factory=lambda: Estimate(value=None))
    p_value: float | None = None


def compare_runs(
    current: Results,
    baseline: Results,
    current_records: pd.DataFrame | None = None,
    baseline_records: pd.DataFrame | None = None,
    *,
    max_regression: float | None = DEFAULT_MAX_REGRESSION,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> list[Regression]:
    """Every (service, load level, gated metric) of ``current`` that ``baseline`` also measured."""
    if (max_regression is not None and not max_regression > 0) or not 0 < alpha < 1:
        raise ValueError("need max_regression > 0 and 0 < alpha < 1")
    earlier = {(s.service, s.users, s.arrival_rate): s for s in baseline.summaries}
    with_records = _has_records(current_records) and _has_records(baseline_records)
    found: list[Regression] = []
    for now in current.summaries:
        before = earlier.get((now.service, now.users, now.arrival_rate))
        if before is None:
            continue
        level = _Level(
            now,
            before,
            _steps_of(current, now),
            _steps_of(baseline, before),
            _cost_of(current, now),
            _cost_of(baseline, before),
        )
        computed = _record_ratios(level, current_records, baseline_records, seed) if with_records else {}  # type: ignore[arg-type]
        for metric in GATED_METRICS:
            evidence = _evidence(level, metric, computed.get(metric), alpha)
            found.append(_judge(level, metric, evidence, max_regression))
    return found


def database_change(
    current: Results,
    now: LevelSummary,
    baseline: Results,
    before: LevelSummary,
    margin: float | None = DEFAULT_MAX_REGRESSION,
) -> Regression:
    """Database operations per request of ``now`` against ``before`` by the rule above (the side
    by side check of one run compares two services with it; ``current`` may be ``baseline``)."""
    none = Estimate(value=None)  # CPU per request is not read for this metric
    level = _Level(now, before, _steps_of(current, now), _steps_of(baseline, before), none, none)
    return _judge(level, DATABASE_METRIC, _count_evidence(level), margin)


def _has_records(records: pd.DataFrame | None) -> bool:
    return records is not None and not records.empty


def _steps_of(results: Results, summary: LevelSummary) -> list[StepResult]:
    key = (summary.service, summary.users, summary.arrival_rate)
    return [s for s in results.steps if (s.service, s.users, s.arrival_rate) == key]


def _cost_of(results: Results, summary: LevelSummary) -> Estimate:
    """The run's own CPU ms per request at the level, with its interval (its cost figures:
    CPU seconds per 1,000 requests = ms per request)."""
    key = (summary.service, summary.users, summary.arrival_rate)
    for cost in results.costs:
        if (cost.service, cost.users, cost.arrival_rate) == key:
            return cost.service_cpu_s_per_1000
    return Estimate(value=summary.service_cpu_ms_per_request)


def _figure(level: _Level, metric: str) -> tuple[Estimate, Estimate]:
    """Each run's own figure of ``metric`` at the level, with its interval where it has one."""
    if metric == CPU_METRIC:
        return level.now_cost, level.before_cost
    if metric == DATABASE_METRIC:
        return Estimate(value=level.now.database_operations_per_request), Estimate(
            value=level.before.database_operations_per_request
        )
    return getattr(level.now, metric), getattr(level.before, metric)


def _labelled(summary: LevelSummary, template: str) -> LevelSummary:
    return summary.model_copy(update={"service": template.format(summary.service)})


def _record_ratios(
    level: _Level, current_records: pd.DataFrame, baseline_records: pd.DataFrame, seed: int
) -> dict[str, Ratio]:
    cur, base = _labelled(level.now, _CURRENT), _labelled(level.before, _BASELINE)
    records = pd.concat(
        [
            current_records[current_records["service"] == level.now.service].assign(service=cur.service),
            baseline_records[baseline_records["service"] == level.before.service].assign(service=base.service),
        ],
        ignore_index=True,
    )
    steps = [s.model_copy(update={"service": cur.service}) for s in level.now_steps]
    steps += [s.model_copy(update={"service": base.service}) for s in level.before_steps]
    computed = ratios([cur, base], records, candidate=cur.service, baseline=base.service, seed=seed, steps=steps)
    return {r.metric: r for r in computed}


def _side(low: float | None, high: float | None, reference: float = 1.0) -> Shift:
    if low is None or high is None:
        return None
    return 1 if low > reference else -1 if high < reference else 0


def _interval_text(ci: Estimate, side: Shift) -> str:
    if side is None:
        return "no ratio interval"
    return f"ratio 95% CI {ci.ci_low:.4g}..{ci.ci_high:.4g} {'includes' if side == 0 else 'excludes'} 1"


def _evidence(level: _Level, metric: str, computed: Ratio | None, alpha: float) -> _Evidence:
    if metric == DATABASE_METRIC:
        return _count_evidence(level)
    has_interval = computed is not None and computed.value.ci_low is not None
    if computed is None or (metric == CPU_METRIC and not has_interval):
        return _interval_evidence(*_figure(level, metric), _own_basis(level, metric))
    ci = computed.value
    side = _side(ci.ci_low, ci.ci_high)
    trials = level.by_trials
    if metric in LATENCY_METRICS and not trials:
        return _request_evidence(computed, side, alpha)
    if trials:
        unit = f"the trials' figures ({level.now.trials} and {level.before.trials} trials)"
    else:
        unit = "seconds (CPU and requests of each second as a pair)" if metric == CPU_METRIC else "per-second counts"
    method = f"bootstrap 95% CI of the ratio over {unit}"
    return _Evidence(side, method, _interval_text(ci, side), "trials" if trials else "seconds", ci, computed.p_value)


def _request_evidence(computed: Ratio, side: Shift, alpha: float) -> _Evidence:
    ci = computed.value
    method = "Mann-Whitney U on per-request latencies + bootstrap CI of the ratio (requests of one run)"
    interval = _interval_text(ci, side)
    if computed.p_value is None:
        return _Evidence(None, method, "no latencies to test", "requests", ci)
    below = computed.p_value < alpha
    p_text = "< 1e-16" if computed.p_value < 1e-16 else f"= {computed.p_value:.3g}"
    text = f"Mann-Whitney p {p_text} ({'<' if below else '>='} {alpha:g}), {interval}"
    if not below:
        shift: Shift = 0
    elif side is None:  # no interval (degenerate resamples): the test and the point decide
        shift = 1 if (ci.value or 1) > 1 else -1
    else:
        shift = side
    return _Evidence(shift, method, text, "requests", ci, computed.p_value)


def _own_basis(level: _Level, metric: str) -> Basis:
    """What each run's own interval of ``metric`` resampled (:mod:`harness.analysis.levels`; the
    CPU per request of the cost figures always resamples seconds)."""
    if metric == CPU_METRIC:
        return "seconds"
    if level.by_trials:
        return "trials"
    return "requests" if metric in LATENCY_METRICS else "seconds"


def _interval_evidence(now: Estimate, before: Estimate, basis: Basis) -> _Evidence:
    method = "95% CIs of the two runs (no per-request records: non-overlapping = significant)"
    if None in (now.ci_low, now.ci_high, before.ci_low, before.ci_high):
        return _Evidence(None, method, "no per-request records and no intervals to compare", "none")
    shift = 1 if now.ci_low > before.ci_high else -1 if now.ci_high < before.ci_low else 0  # type: ignore[operator]
    text = (
        f"intervals {now.ci_low:.4g}..{now.ci_high:.4g} vs {before.ci_low:.4g}..{before.ci_high:.4g} "
        f"{'overlap' if shift == 0 else 'do not overlap'} (no per-request records)"
    )
    return _Evidence(shift, method, text, basis)


def _count_evidence(level: _Level) -> _Evidence:
    """Database operations per request: the trials' figures where both runs have 3 or more, else
    the exact interval of the ratio of two Poisson rates (operations over requests)."""
    if level.by_trials:
        figures = [
            [
                s.database.operations_per_request
                for s in steps
                if s.database and s.database.operations_per_request is not None
            ]
            for steps in (level.now_steps, level.before_steps)
        ]
        ci = bootstrap_ratio_ci(*figures) if all(len(f) >= 2 for f in figures) else None
        method = "bootstrap 95% CI of the ratio over the trials' figures"
        estimate = Estimate(value=None, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None)
        side = _side(estimate.ci_low, estimate.ci_high)
        return _Evidence(side, method, _interval_text(estimate, side), "trials", estimate)
    sides = (level.now_steps, level.before_steps)
    counts = [sum(s.database.operations for s in steps if s.database) for steps in sides]
    requests = (level.now.requests, level.before.requests)
    method = "exact 95% CI of the ratio of the two runs' operation counts (Poisson, conditional binomial)"
    if not all(counts) or not all(requests):
        return _Evidence(None, method, "no operations counted in both runs", "none")
    share = stats.binomtest(counts[0], sum(counts)).proportion_ci(0.95)
    scale = requests[1] / requests[0]  # rate ratio = p / (1 - p) x baseline requests / current requests

    def rate_ratio(p: float) -> float:
        return p / (1 - p) * scale if p < 1 else float("inf")

    estimate = Estimate(value=None, ci_low=rate_ratio(share.low), ci_high=rate_ratio(share.high))
    side = _side(estimate.ci_low, estimate.ci_high)
    text = f"{counts[0]} vs {counts[1]} operations, {_interval_text(estimate, side)}"
    return _Evidence(side, method, text, "counts", estimate)


def _bad_direction(metric: str, ratio: float, margin: float) -> bool:
    return beyond_margin(metric, ratio, Direction.WORSE, margin)


def _good_direction(metric: str, ratio: float, margin: float) -> bool:
    return beyond_margin(metric, ratio, Direction.BETTER, margin)


def _judge(level: _Level, metric: str, evidence: _Evidence, allowed: float | None) -> Regression:
    now, before = level.now, level.before
    margin = practical_margin(metric) if allowed is None else allowed
    mine, theirs = _figure(level, metric)
    current, baseline = mine.value, theirs.value
    point = current / baseline if current is not None and baseline else None
    interval = evidence.interval.model_copy(update={"value": point})

    def verdict(kind: RegressionVerdict, suspect: bool, reason: str) -> Regression:
        return Regression(
            now.service,
            now.users,
            now.arrival_rate,
            metric,
            current,
            baseline,
            interval,
            evidence.p_value,
            kind,
            suspect,
            evidence.method,
            reason,
            evidence.basis,
            margin,
        )

    label = METRIC_LABELS.get(metric, metric)
    if point is None:
        return verdict("not judged", False, f"{label} was not measured in both runs")
    size = f"{point - 1:+.1%} (allowed {margin:.0%})"
    if metric in LATENCY_METRICS and (where := level.saturated_in):
        return verdict(
            "set aside",
            False,
            f"{size}; the service filled its CPUs at this level in {where}: its latency is the queue the "
            "load builds, not the design; throughput and CPU per request are judged here",
        )
    suspect = _bad_direction(metric, point, margin)
    text = evidence.text
    if not (now.usable and before.usable):
        where = "either run" if not (now.usable or before.usable) else "this run" if not now.usable else "the baseline"
        why = f"the level is not usable in {where}"
        if suspect:
            return verdict("not judged", True, f"{size}, {text}, but {why}: a regression cannot be confirmed there")
        return verdict("no change", False, f"{size}, {text}; {why}")
    if evidence.shift is None:
        if suspect:
            return verdict("not judged", True, f"{size}, but {text}: its significance is unknown")
        return verdict("no change", False, f"{size}; {text}")
    worse = -1 if higher_is_better(metric) else 1
    if suspect and evidence.shift == worse:
        wider = ACROSS_RUNS_FACTOR * margin
        if _advisory_only(metric, evidence.basis) and not _bad_direction(metric, point, wider):
            return verdict(
                "advisory",
                True,
                f"{size}, {text}; advisory: the interval rests on one run's requests, which share that run's "
                f"machine state, so across runs only a rise beyond {wider:.0%} fails (3+ trials a level in "
                "both runs compare trials instead)",
            )
        return verdict("regression", True, f"{size}, {text}")
    if _good_direction(metric, point, margin) and evidence.shift == -worse:
        return verdict("improvement", False, f"{size}, {text}")
    if suspect:
        return verdict("no change", True, f"{size} but not significant: {text}")
    return verdict("no change", False, f"{size}, within the allowed factor; {text}")


def across_runs_notes(regressions: Sequence[Regression], allowed: float | None) -> list[str]:
    """What a reader must know about comparing two runs: the unit latency rested on, and where it
    was set aside."""
    margin = practical_margin("p95_ms") if allowed is None else allowed
    notes = []
    latency = [r for r in regressions if r.metric in LATENCY_METRICS and r.verdict != "set aside"]
    on_requests = sorted({(r.service, r.users, r.arrival_rate) for r in latency if r.basis == "requests"})
    if on_requests:
        notes.append(
            f"latency across runs rests on requests at {len(on_requests)} level(s) (fewer than 3 trials a level "
            "in a run): requests of one run share its machine state, so they are not independent of the runner, "
            f"and unchanged code can shift p95/p99 by 10-15 %; a rise beyond {margin:.0%} is advisory there, "
            f"beyond {ACROSS_RUNS_FACTOR * margin:.0%} it fails. Run both with --trials 3 to compare trials"
        )
    elif latency and all(r.basis == "trials" for r in latency):
        notes.append("latency across runs compared on the trials' figures (3+ trials a level in both runs)")
    aside = sorted({(r.service, r.users, r.arrival_rate) for r in regressions if r.verdict == "set aside"})
    if aside:
        where = ", ".join(f"{service} at {load_label(users, rate)}" for service, users, rate in aside)
        notes.append(
            f"latency set aside where the service filled its CPUs ({where}): its latency there is the queue the "
            "load builds; throughput and CPU per request are judged there"
        )
    return notes


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
