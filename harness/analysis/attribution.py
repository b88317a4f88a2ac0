"""What each change between two variants earns: effects, with intervals, and the minimal migration.

An attribution run measures, interleaved in one run, the baseline B, the target T, each change c
added alone to B (B+c) and each taken alone out of T (T-c). Per change and load level:

* added: figure(B+c) - figure(B), what the change earns on its own;
* removed: figure(T) - figure(T-c), what it earns among all the others;

for throughput, p95 and the service's CPU per request, each with a bootstrap 95% interval
(resampling requests, per-second counts, or per-second CPU and requests, as in ``compare``; the
trials' own figures when there are three or more) and significant when the interval excludes 0
(p95: and Mann-Whitney p < 0.01). Where the two differ, the change interacts with the others.

The minimal migration: the smallest set of changes whose configuration earns MIGRATE against B
under the verdict's own rules (:func:`~.decision.decide`, on the run's criteria), with the ratio
that tells it best and its interval: one change added alone, else the changes the target cannot
lose, confirmed by measuring B with exactly those (:func:`minimal_migration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import ATTRIBUTED_METRICS, CPU_METRIC, METRIC_LABELS, higher_is_better
from ..results import (
    Attribution,
    ChangeEffect,
    Decision,
    Effect,
    Estimate,
    LevelSummary,
    MinimalMigration,
    MinimalStatus,
    Ratio,
    Results,
    StepResult,
)
from ..rounding import number
from ..terms import ECHO, Verdict, load_label
from .cpu import cpu_pairs, ms_per_request, service_ms_per_request
from .decision import decide, key_ratio
from .levels import MIN_TRIALS_FOR_TRIAL_BOOTSTRAP, per_second_counts, summary_records
from .ratios import SIGNIFICANCE_LEVEL, ratios
from .stats import mann_whitney, paired_samples_ci, subsample

__all__ = [
    "Confirmation",
    "DesignedChange",
    "WaterfallBar",
    "attribute",
    "minimal_migration",
    "ratio_text",
    "verdicts",
    "waterfall",
]

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
    confirmation: Confirmation | None = None,
    decisions: Mapping[str, Decision] | None = None,
    seed: int = 0,
) -> Attribution:
    """The attribution of ``results`` (one run holding every configuration of the design);
    ``decisions``: each configuration's verdict against ``baseline``, when the caller has them."""
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
    if decisions is None:
        decisions = verdicts(results, records, baseline, seed=seed)
    minimal = minimal_migration(decisions, baseline, target, changes, confirmation)
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


# -- the minimal migration -----------------------------------------------------------------------
@dataclass(frozen=True)
class Confirmation:
    """The baseline measured with exactly ``changes``: that configuration's verdict against it."""

    changes: tuple[str, ...]
    decision: Decision


def verdicts(
    results: Results,
    records: pd.DataFrame,
    baseline: str,
    *,
    services: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Decision]:
    """Each configuration of ``results`` (or just ``services``) judged against ``baseline`` by the
    verdict's own rules: :func:`~.decision.decide` on the run's criteria and its ratios (as
    :func:`~.conclude.conclude` computes them)."""
    measured = dict.fromkeys([*results.settings.services, *(s.service for s in results.summaries)])
    return {
        service: decide(
            results,
            results.criteria,
            ratios(results.summaries, records, candidate=service, baseline=baseline, seed=seed, steps=results.steps),
            candidate=service,
            baseline=baseline,
        )
        for service in (services if services is not None else measured)
        if service not in (baseline, ECHO)
    }


def minimal_migration(
    decisions: Mapping[str, Decision],
    baseline: str,
    target: str,
    changes: Sequence[DesignedChange],
    confirmation: Confirmation | None = None,
) -> MinimalMigration:
    """The smallest set of changes whose configuration earns MIGRATE against ``baseline``
    (``decisions``: each configuration's verdict against it, from :func:`verdicts`).

    The baseline itself is no migration. First one change added alone (B+c) that earns MIGRATE,
    the one with the largest key ratio if several. Else the changes the target cannot lose: those
    whose T-c is DO NOT MIGRATE against B. Not "T-c significantly worse than T": a change can add
    speed the verdict does not need, and the question is what earns the verdict. Taken out one at
    a time, so they are confirmed by measuring B with exactly them (``confirmation``); a T-c that
    was not measured or is INCONCLUSIVE is named, never counted. A target that does not earn
    MIGRATE itself leaves ``target_fails``."""
    singles = [
        (change, decision)
        for change in changes
        if change.added and (decision := decisions.get(change.added)) and decision.verdict is Verdict.MIGRATE
    ]
    if singles:
        change, decision = max(singles, key=lambda pair: _strength(key_ratio(pair[1])))
        return _minimal("single_change", [change.token], decision, "one change is enough")
    whole = decisions.get(target)
    if whole is None or whole.verdict is Verdict.INCONCLUSIVE:
        detail = f"{target} could not be compared with {baseline}, and no change alone earns MIGRATE"
        return _minimal("undetermined", [], whole, detail)
    if whole.verdict is not Verdict.MIGRATE:
        return _minimal("target_fails", [], whole, "no change added alone earns MIGRATE either")
    needed = [c.token for c in changes if c.removed and _verdict(decisions, c.removed) is Verdict.DO_NOT_MIGRATE]
    unclear = [
        c.token
        for c in changes
        if c.removed is None or _verdict(decisions, c.removed) not in (Verdict.MIGRATE, Verdict.DO_NOT_MIGRATE)
    ]
    aside = f" (without {', '.join(unclear)} not judged)" if unclear else ""
    if not needed:
        detail = (
            f"{target} earns MIGRATE without any one of its changes, and none earns it alone: they stand in for "
            f"each other{aside}"
        )
        return _minimal("undetermined", [], whole, detail)
    lost = f"{target} does not earn MIGRATE without {' or '.join(needed)}{aside}"
    if confirmation is None:
        return _minimal("undetermined", needed, None, f"{lost}; not confirmed by a run of them alone")
    more = [token for token in confirmation.changes if token not in needed]
    if more:
        lost += f"; with {', '.join(more)}, which they need"
    decision = confirmation.decision
    if decision.verdict is Verdict.MIGRATE:
        return _minimal("confirmed", list(confirmation.changes), decision, lost)
    why = "the changes interact" if decision.verdict is Verdict.DO_NOT_MIGRATE else "it could not be compared"
    return _minimal("not_confirmed", list(confirmation.changes), decision, f"{lost}, but not alone: {why}")


def _verdict(decisions: Mapping[str, Decision], label: str) -> Verdict | None:
    decision = decisions.get(label)
    return decision.verdict if decision is not None else None


def _strength(ratio: Ratio | None) -> tuple[bool, bool, float]:
    """How strongly a ratio tells its verdict: throughput first, then the size of the effect."""
    if ratio is None or ratio.value.value is None:
        return (False, False, 0.0)
    value = ratio.value.value
    return (True, ratio.metric == "throughput_rps", value if value >= 1 else 1 / value if value else 0.0)


def _minimal(status: MinimalStatus, tokens: list[str], decision: Decision | None, why: str) -> MinimalMigration:
    """The minimal migration, its detail led by the deciding configuration's verdict and ratio."""
    if decision is None:
        return MinimalMigration(status=status, changes=tokens, detail=why)
    evidence = key_ratio(decision)
    told = f"{decision.candidate}: {decision.verdict}" + (f", {ratio_text(evidence)}" if evidence else "")
    return MinimalMigration(
        status=status,
        changes=tokens,
        label=decision.candidate,
        detail=f"{told}; {why}",
        verdict=decision.verdict,
        evidence=evidence,
    )


def ratio_text(ratio: Ratio) -> str:
    """ "throughput 3.9x [3.3, 4.6] at 50 users": rounded against the candidate, the interval outwards."""
    value, better = ratio.value, "higher" if higher_is_better(ratio.metric) else "lower"
    decimals = 1 if (value.value or 0) >= 1 else 3
    text = f"{number(value.value, decimals, better)}x"
    if value.ci_low is not None and value.ci_high is not None:
        text += f" [{number(value.ci_low, decimals, 'higher')}, {number(value.ci_high, decimals, 'lower')}]"
    return f"{METRIC_LABELS[ratio.metric]} {text} at {load_label(ratio.users, ratio.arrival_rate)}"


# -- the effects ----------------------------------------------------------------------------------
class _Effects:
    def __init__(self, results: Results, records: pd.DataFrame, seed: int) -> None:
        self._results, self._records, self._seed = results, records, seed
        self._summaries = {(s.service, s.users, s.arrival_rate): s for s in results.summaries}

    def between(self, with_: str, without: str, levels: Sequence[tuple[int, float]]) -> list[Effect]:
        """figure(with_) - figure(without) for each metric at each level both ran."""
        # Each attributed metric's estimator (a metric the registry attributes without one fails here).
        estimators = {"throughput_rps": self._throughput, "p95_ms": self._p95, CPU_METRIC: self._cpu}
        found = []
        for users, rate in levels:
            a, b = self._summaries.get((with_, users, rate)), self._summaries.get((without, users, rate))
            if a is None or b is None:
                continue
            found += [estimators[metric](a, b) for metric in ATTRIBUTED_METRICS]
        return found

    def _steps(self, summary: LevelSummary) -> list[StepResult]:
        key = (summary.service, summary.users, summary.arrival_rate)
        return [s for s in self._results.steps if (s.service, s.users, s.arrival_rate) == key]

    def _answered(self, summary: LevelSummary) -> pd.DataFrame:
        measured = summary_records(summary, self._records)
        return measured[measured["status"] != 0]

    def _by_trials(self, a: LevelSummary, b: LevelSummary) -> bool:
        return min(a.trials, b.trials) >= MIN_TRIALS_FOR_TRIAL_BOOTSTRAP

    def _effect(
        self,
        a: LevelSummary,
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

    def _throughput(self, a: LevelSummary, b: LevelSummary) -> Effect:
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

    def _p95(self, a: LevelSummary, b: LevelSummary) -> Effect:
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

    def _cpu(self, a: LevelSummary, b: LevelSummary) -> Effect:
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
