"""What each change between two variants earns: effects, with intervals, and the minimal migration.

An attribution run measures, interleaved in one run, the baseline B, the target T, each change c
added alone to B (B+c) and each taken alone out of T (T-c). Per change and load level:

* added: figure(B+c) - figure(B), what the change earns on its own;
* removed: figure(T) - figure(T-c), what it earns among all the others;

for throughput, p95 and the service's CPU per request, each with a bootstrap 95% interval
(resampling requests, per-second counts, or per-second CPU and requests, as in ``compare``; the
trials' own figures when there are three or more) and significant when the interval excludes 0
(p95: and Mann-Whitney p < 0.01). Where the two differ, the change interacts with the others.

The minimal migration: the baseline if it already passes; else one change added alone that
passes; else the changes the target cannot lose (T-c fails), confirmed by measuring B with
exactly those. "Passes" means every criterion judged PASS or not applicable, and a clean
delivery audit; a criterion not judged leaves it undetermined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..results import Attribution, ChangeEffect, Effect, Estimate, MinimalMigration, Results, StepResult, StepSummary
from ..terms import Outcome
from .cpu import cpu_pairs, ms_per_request, service_ms_per_request
from .levels import MIN_TRIALS_FOR_TRIAL_BOOTSTRAP, per_second_counts, summary_records
from .ratios import SIGNIFICANCE_LEVEL
from .stats import mann_whitney, paired_samples_ci, subsample

__all__ = ["ATTRIBUTED_METRICS", "DesignedChange", "WaterfallBar", "attribute", "passes", "waterfall"]

ATTRIBUTED_METRICS = ("throughput_rps", "p95_ms", "service_cpu_ms_per_request")
_MAX_LATENCIES = 10_000  # per side, as the other percentile intervals


@dataclass(frozen=True)
class DesignedChange:
    """One change of the design, and the configurations measured for it (None: not alone, why)."""

    token: str
    setting: str
    before: str
    after: str
    title: str
    added: str | None
    removed: str | None
    not_added: str | None = None
    not_removed: str | None = None


def attribute(
    results: Results,
    records: pd.DataFrame,
    baseline: str,
    target: str,
    changes: Sequence[DesignedChange],
    *,
    confirmation: Results | None = None,
    confirmation_label: str | None = None,
    seed: int = 0,
) -> Attribution:
    """The attribution of ``results`` (one run holding every configuration of the design)."""
    levels = sorted({(s.users, s.arrival_rate) for s in results.summaries if s.service == baseline})
    effects = _Effects(results, records, seed)
    measured = [
        ChangeEffect(
            token=c.token,
            setting=c.setting,
            before=c.before,
            after=c.after,
            title=c.title,
            added=c.added,
            removed=c.removed,
            not_added=c.not_added,
            not_removed=c.not_removed,
            added_effects=effects.between(c.added, baseline, levels) if c.added else [],
            removed_effects=effects.between(target, c.removed, levels) if c.removed else [],
        )
        for c in changes
    ]
    minimal = minimal_migration(results, baseline, target, changes, confirmation, confirmation_label)
    return Attribution(
        baseline=baseline,
        target=target,
        total=effects.between(target, baseline, levels),
        changes=measured,
        minimal=minimal,
    )


@dataclass(frozen=True)
class WaterfallBar:
    label: str  # the change's token, "interactions", or the two ends
    start: float  # where the bar starts (the running figure before it)
    delta: float  # its height (the ends: the figure itself, from 0)
    kind: str  # "end" (baseline, target), "change", "interactions"


def waterfall(attribution: Attribution, metric: str, level: tuple[int, float]) -> list[WaterfallBar]:
    """From the baseline's figure to the target's: each change's effect added alone, then what
    the changes do together beyond their sum (interactions), so the bars end at the target.
    Empty when the level's totals were not measured."""
    total = _at(attribution.total, metric, level)
    if total is None or total.without is None or total.difference.value is None:
        return []
    base = total.without
    bars = [WaterfallBar("baseline", 0.0, base, "end")]
    running = base
    for change in attribution.changes:
        effect = _at(change.added_effects, metric, level)
        if effect is None or effect.difference.value is None:
            continue
        bars.append(WaterfallBar(change.token, running, effect.difference.value, "change"))
        running += effect.difference.value
    target = base + total.difference.value
    bars.append(WaterfallBar("interactions", running, target - running, "interactions"))
    bars.append(WaterfallBar("target", 0.0, target, "end"))
    return bars


def _at(effects: Sequence[Effect], metric: str, level: tuple[int, float]) -> Effect | None:
    found = [e for e in effects if (e.metric, e.users, e.arrival_rate) == (metric, *level)]
    return found[0] if found else None


# -- passing the criteria -------------------------------------------------------------------------
def passes(results: Results, service: str) -> bool | None:
    """True: every criterion on ``service`` passed or does not apply and its audit is clean;
    False: one failed (or a reply was lost or doubled); None: one could not be judged."""
    if any(s.audit is not None and not s.audit.passed for s in results.steps if s.service == service):
        return False
    outcomes = {r.outcome for r in results.criteria if r.service == service}
    if Outcome.FAIL in outcomes:
        return False
    if Outcome.NOT_JUDGED in outcomes or not any(s.service == service for s in results.summaries):
        return None
    return True


def minimal_migration(
    results: Results,
    baseline: str,
    target: str,
    changes: Sequence[DesignedChange],
    confirmation: Results | None,
    confirmation_label: str | None,
) -> MinimalMigration:
    if passes(results, baseline):
        return MinimalMigration(status="baseline_passes", detail=f"{baseline} already passes every criterion")
    singles = [c for c in changes if c.added and passes(results, c.added)]
    if singles:
        best = max(singles, key=lambda c: _top_throughput(results, c.added))
        return MinimalMigration(
            status="single_change",
            changes=[best.token],
            label=best.added,
            detail=f"{best.added} passes every criterion: one change is enough",
        )
    verdict = passes(results, target)
    if verdict is False:
        return MinimalMigration(
            status="target_fails", detail=f"{target} itself fails a criterion: no subset of its changes passes"
        )
    if verdict is None:
        return MinimalMigration(status="undetermined", detail=f"{target}'s criteria could not all be judged")
    needed = [c for c in changes if c.removed and passes(results, c.removed) is False]
    unclear = [c.token for c in changes if c.removed is None or passes(results, c.removed) is None]
    tokens = [c.token for c in needed]
    if confirmation is None or confirmation_label is None:
        detail = f"{target} fails without each of {', '.join(tokens) or 'none'}; not confirmed by a run of them alone"
        return MinimalMigration(status="undetermined", changes=tokens, detail=detail)
    confirmed = passes(confirmation, confirmation_label)
    status = "confirmed" if confirmed else "not_confirmed"
    detail = f"{confirmation_label}: " + (
        "passes every criterion"
        if confirmed
        else "does not pass alone: the changes interact"
        if confirmed is False
        else "its criteria could not all be judged"
    )
    if unclear:
        detail += f" (removing {', '.join(unclear)} was not judged)"
    return MinimalMigration(status=status, changes=tokens, label=confirmation_label, detail=detail)


def _top_throughput(results: Results, service: str) -> float:
    own = [s for s in results.summaries if s.service == service]
    top = max(own, key=lambda s: (s.arrival_rate, s.users), default=None)
    return (top.throughput_rps.value or 0.0) if top else 0.0


# -- the effects ----------------------------------------------------------------------------------
class _Effects:
    def __init__(self, results: Results, records: pd.DataFrame, seed: int) -> None:
        self._results, self._records, self._seed = results, records, seed
        self._summaries = {(s.service, s.users, s.arrival_rate): s for s in results.summaries}

    def between(self, with_: str, without: str, levels: Sequence[tuple[int, float]]) -> list[Effect]:
        """figure(with_) - figure(without) for each metric at each level both ran."""
        found = []
        for users, rate in levels:
            a, b = self._summaries.get((with_, users, rate)), self._summaries.get((without, users, rate))
            if a is None or b is None:
                continue
            found += [self._throughput(a, b), self._p95(a, b), self._cpu(a, b)]
        return found

    def _steps(self, summary: StepSummary) -> list[StepResult]:
        key = (summary.service, summary.users, summary.arrival_rate)
        return [s for s in self._results.steps if (s.service, s.users, s.arrival_rate) == key]

    def _answered(self, summary: StepSummary) -> pd.DataFrame:
        measured = summary_records(summary, self._records)
        return measured[measured["status"] != 0]

    def _by_trials(self, a: StepSummary, b: StepSummary) -> bool:
        return min(a.trials, b.trials) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP

    def _effect(
        self,
        a: StepSummary,
        metric: str,
        top: float | None,
        bottom: float | None,
        ci: tuple[float, float] | None,
        p_value: float | None = None,
    ) -> Effect:
        if top is None or bottom is None:
            return Effect(
                users=a.users,
                arrival_rate=a.arrival_rate,
                metric=metric,
                difference=Estimate(value=None),
                significant=None,
            )
        difference = top - bottom
        significant = None if ci is None else not ci[0] <= 0 <= ci[1]
        if significant is not None and p_value is not None:
            significant = significant and p_value < SIGNIFICANCE_LEVEL
        return Effect(
            users=a.users,
            arrival_rate=a.arrival_rate,
            metric=metric,
            difference=Estimate(value=difference, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None),
            without=bottom,
            ratio=Estimate(value=top / bottom) if bottom else None,
            significant=significant,
            p_value=p_value,
        )

    def _throughput(self, a: StepSummary, b: StepSummary) -> Effect:
        top, bottom = a.throughput_rps.value, b.throughput_rps.value
        if self._by_trials(a, b):
            samples = [np.array([[s.throughput_rps for s in self._steps(x)]]) for x in (a, b)]
        else:
            samples = [per_second_counts(self._answered(x), x.trial_windows)[None, :] for x in (a, b)]
        ci = _centred(
            paired_samples_ci(samples, _mean_difference, seed=self._seed),
            samples,
            _mean_difference,
            None if top is None or bottom is None else top - bottom,
        )
        return self._effect(a, "throughput_rps", top, bottom, ci)

    def _p95(self, a: StepSummary, b: StepSummary) -> Effect:
        top, bottom = a.p95_ms.value, b.p95_ms.value
        answered = [self._answered(x)["latency_ms" if x.arrival_rate == 0 else "corrected_latency_ms"] for x in (a, b)]
        if self._by_trials(a, b):
            samples = [
                np.array([[s.latency.p95_ms for s in self._steps(x) if s.latency.p95_ms is not None]]) for x in (a, b)
            ]
            ci = paired_samples_ci(samples, _mean_difference, seed=self._seed)
        else:
            samples = [subsample(values, _MAX_LATENCIES, self._seed + n)[None, :] for n, values in enumerate(answered)]
            ci = paired_samples_ci(samples, _p95_difference, seed=self._seed)
        p = mann_whitney(answered[0], answered[1], seed=self._seed)
        return self._effect(a, "p95_ms", top, bottom, ci, p)

    def _cpu(self, a: StepSummary, b: StepSummary) -> Effect:
        steps = [self._steps(x) for x in (a, b)]
        top, bottom = (service_ms_per_request(s) for s in steps)
        if self._by_trials(a, b):
            samples = [
                np.array([[s.service_cpu_ms_per_request for s in x if s.service_cpu_ms_per_request is not None]])
                for x in steps
            ]
            ci = paired_samples_ci(samples, _mean_difference, seed=self._seed)
        else:
            samples = [cpu_pairs(s, summary_records(x, self._records)) for s, x in zip(steps, (a, b), strict=True)]
            ci = _centred(
                paired_samples_ci(samples, _cpu_difference, seed=self._seed),
                samples,
                _cpu_difference,
                None if top is None or bottom is None else top - bottom,
            )
        return self._effect(a, "service_cpu_ms_per_request", top, bottom, ci)


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a[0].mean(axis=axis) - b[0].mean(axis=axis)


def _p95_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.percentile(a[0], 95, axis=axis, method="inverted_cdf") - np.percentile(
        b[0], 95, axis=axis, method="inverted_cdf"
    )


def _cpu_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return ms_per_request(a, axis) - ms_per_request(b, axis)


def _centred(
    ci: tuple[float, float] | None, samples: Sequence[np.ndarray], statistic: object, value: float | None
) -> tuple[float, float] | None:
    """Whole-second samples leave out a window's last fraction: centre the interval on the
    figure it qualifies (as compare does for throughput)."""
    if ci is None or value is None or any(s.shape[-1] == 0 for s in samples):
        return ci
    shift = value - float(statistic(*samples))  # type: ignore[operator]
    return ci[0] + shift, ci[1] + shift
