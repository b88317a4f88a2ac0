"""This change against its base, measured side by side in one run (relative benchmarking).

A run whose baseline is a git revision of a variant (``optimized@origin/main``: its label, or
``VariantInfo.commit``) and whose candidate is that variant from the working tree measured the
base and the change interleaved on one runner, so the runner's drift falls on both. The gate
judges that pair from the run's own decision, by the verdict's one rule
(:func:`harness.analysis.decision.acts_on`): a ratio of p95 (where not both services filled their
CPUs), throughput or CPU per request that is significant and past the margin in the bad direction
at a level usable for both fails the gate. Database operations per request use the cross-run
rule (:func:`.regression.database_change`). A level not usable for both is not judged: exit 2,
unless the machine was too small for it (the bench's CPUs or the database ran out), which a
re-run on it cannot fix.

With two or more trials a level, a regression must also show in every trial: each trial's
candidate / base in the bad direction. Where one trial says worse and another better, a single
step went wrong (one relative run of unchanged code: p95 306 then 2332 ms at 100 users, the
service's CPU idle, every other step near 300 ms): not judged, exit 2, a re-run may settle it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.decision import acts_on
from ..analysis.projection import bench_short_of_cpu
from ..metrics import (
    CPU_METRIC,
    LATENCY_METRICS,
    METRIC_LABELS,
    VERDICT_METRICS,
    higher_is_better,
    practical_margin,
)
from ..results import Decision, LevelSummary, Ratio, Results, StepResult
from ..rounding import Better, estimate
from ..terms import Direction, beyond_margin, load_label, margin_bound
from .checks import CheckOutcome, GateCheck
from .regression import database_change

__all__ = ["relative_pairs", "side_by_side_checks", "side_by_side_title"]

_REVISION_MARK = "@"  # NAME@REVISION, as harness.runs.variants names a revision's variant


def relative_pairs(results: Results) -> list[Decision]:
    """The run's decisions whose baseline is a revision of the candidate's variant and whose
    candidate runs from the working tree."""
    return [d for d in results.decisions if _relative(results, d.candidate, d.baseline)]


def _relative(results: Results, candidate: str, baseline: str) -> bool:
    variants = results.settings.variants
    if (info := variants.get(candidate)) is not None and info.commit:
        return False  # the candidate is a revision too: not this change
    name, mark, _ = baseline.partition(_REVISION_MARK)
    if mark:
        return name.strip() == candidate
    return (info := variants.get(baseline)) is not None and info.commit is not None


def side_by_side_title(baselines: list[str]) -> str:
    return f"this change against {', '.join(baselines)}, side by side"


def side_by_side_checks(results: Results) -> list[GateCheck]:
    """One row per candidate x level x metric for every relative pair of the run."""
    return [check for decision in relative_pairs(results) for check in _pair_checks(results, decision)]


def _pair_checks(results: Results, decision: Decision) -> Iterator[GateCheck]:
    pair = (decision.candidate, decision.baseline)
    levels = sorted({(s.users, s.arrival_rate) for s in results.summaries if s.service in pair})
    for users, rate in levels:
        found = {s.service: s for s in results.summaries if (s.users, s.arrival_rate) == (users, rate)}
        now, before = found.get(decision.candidate), found.get(decision.baseline)
        if now is None or before is None or not (now.usable and before.usable):
            yield _unusable_check(decision, load_label(users, rate), now, before)
            continue
        for metric in VERDICT_METRICS:
            ratio = next(
                (r for r in decision.ratios if (r.users, r.arrival_rate, r.metric) == (users, rate, metric)), None
            )
            yield _ratio_check(decision, now, metric, ratio, _trial_ratios(results, decision, users, rate, metric))
        yield _database_check(results, decision, now, before)


def _trial_ratios(results: Results, decision: Decision, users: int, rate: float, metric: str) -> list[float]:
    """Candidate / base per trial at one level (trial t of one beside trial t of the other)."""

    def figures(service: str) -> dict[int, float | None]:
        steps = [s for s in results.steps if (s.service, s.users, s.arrival_rate) == (service, users, rate)]
        return {s.trial: _step_figure(s, metric) for s in steps}

    mine, theirs = figures(decision.candidate), figures(decision.baseline)
    return [a / b for t in sorted(mine.keys() & theirs.keys()) if (a := mine[t]) is not None and (b := theirs[t])]


def _step_figure(step: StepResult, metric: str) -> float | None:
    if metric in LATENCY_METRICS:  # open loop: the coordinated-omission corrected figure, as the ratios use
        return getattr(step.corrected_latency or step.latency, metric)
    if metric == CPU_METRIC:
        return step.service_cpu_ms_per_request
    return step.throughput_rps if metric == "throughput_rps" else None


def _row(decision: Decision, metric: str, load: str, **fields: str) -> GateCheck:
    label = METRIC_LABELS.get(metric, metric)
    return GateCheck(
        suite="side by side",
        name=f"{label} vs {decision.baseline}",
        service=decision.candidate,
        load=load,
        metric=metric,
        **fields,  # type: ignore[arg-type]
    )


def _unusable_check(decision: Decision, load: str, now: LevelSummary | None, before: LevelSummary | None) -> GateCheck:
    causes = [
        f"{name} did not run" if s is None else f"{name} not usable: {'; '.join(i.detail for i in s.unusable)}"
        for name, s in ((decision.candidate, now), (decision.baseline, before))
        if s is None or not s.usable
    ]
    unusable = [s for s in (now, before) if s is not None and not s.usable]
    too_small = bool(unusable) and len(unusable) == len(causes) and all(bench_short_of_cpu(s) for s in unusable)
    outcome: CheckOutcome = "skipped" if too_small else "not judged"
    why = "the machine is too small for this level (a bigger one judges it)" if too_small else "a re-run may judge it"
    return GateCheck(
        suite="side by side",
        name=f"level vs {decision.baseline}",
        service=decision.candidate,
        load=load,
        value="not usable for both",
        threshold="a level usable for both",
        result="NOT JUDGED (machine)" if too_small else "NOT JUDGED",
        outcome=outcome,
        detail=f"{'; '.join(causes)}: {why}",
    )


def _ratio_check(
    decision: Decision, now: LevelSummary, metric: str, ratio: Ratio | None, trials: list[float]
) -> GateCheck:
    load = load_label(now.users, now.arrival_rate)
    worse_bound = margin_bound(metric, Direction.WORSE)
    better: Better = "higher" if worse_bound < 1 else "lower"
    threshold = f"{'>=' if worse_bound < 1 else '<='} {worse_bound:g} x, or not significant"
    label = METRIC_LABELS.get(metric, metric)
    if ratio is None or ratio.value.value is None:
        return _row(
            decision, metric, load, value="-", threshold=threshold, result="N/A", outcome="skipped",
            detail=f"{label} was not ratioed at this level",
        )  # fmt: skip
    ci = ratio.value
    value = estimate(ci.value, ci.ci_low, ci.ci_high, 3, better) + " x"
    interval = "no interval" if ci.ci_low is None else f"95% CI {ci.ci_low:.4g}..{ci.ci_high:.4g}"
    p = f", Mann-Whitney p = {ratio.p_value:.3g}" if ratio.p_value is not None else ""
    size = f"{decision.candidate} / {decision.baseline} {label} = {ci.value:.4g} ({interval}{p})"
    size += f", allowed {practical_margin(metric):.0%}"
    result: str
    outcome: CheckOutcome
    if ratio.queue_latency:
        result, outcome = "N/A (saturated)", "skipped"
        size += "; both filled their CPUs here: latency is the queue the load builds; throughput and CPU judge it"
    elif ratio.placement_cost:
        result, outcome = "N/A (CPUs shared)", "skipped"
        size += "; the services shared CPUs with the bench (not pinned): where they ran moves CPU time more than this"
    elif acts_on(ratio, Direction.WORSE) and len(trials) > 1 and not all(_worse(metric, r) for r in trials):
        result, outcome = "NOT JUDGED", "not judged"
        told = ", ".join(f"{r:.3g}" for r in trials)
        size += f"; its trials disagree ({told}): one step went wrong, a re-run may settle it"
    elif acts_on(ratio, Direction.WORSE):
        result, outcome = "REGRESSION", "fail"
    elif acts_on(ratio, Direction.BETTER):
        result, outcome = "IMPROVED", "pass"
    elif ratio.significant is None and beyond_margin(metric, ci.value, Direction.WORSE):
        result, outcome = "NOT JUDGED", "not judged"
        size += ": past the margin, its significance unknown"
    else:
        result, outcome = "NO CHANGE", "pass"
    if metric in LATENCY_METRICS and now.service_saturated and outcome != "skipped":
        size += f"; {decision.candidate} filled its CPUs here, its base did not"
    return _row(decision, metric, load, value=value, threshold=threshold, result=result, outcome=outcome, detail=size)


_DATABASE_LABELS: dict[str, tuple[str, CheckOutcome]] = {
    "regression": ("REGRESSION", "fail"),
    "improvement": ("IMPROVED", "pass"),
    "no change": ("NO CHANGE", "pass"),
}


def _database_check(results: Results, decision: Decision, now: LevelSummary, before: LevelSummary) -> GateCheck:
    change = database_change(results, now, results, before)
    ci = change.ratio
    if change.verdict in _DATABASE_LABELS:
        result, outcome = _DATABASE_LABELS[change.verdict]
    else:  # not measured by both (the database reports no operations), or significance unknown
        result, outcome = ("NOT JUDGED", "not judged") if change.suspect else ("N/A", "skipped")
    return _row(
        decision,
        change.metric,
        load_label(now.users, now.arrival_rate),
        value=estimate(ci.value, ci.ci_low, ci.ci_high, 3, "lower") + " x",
        threshold=f"<= {margin_bound(change.metric, Direction.WORSE):g} x, or not significant",
        result=result,
        outcome=outcome,
        detail=f"{change.reason} [{change.method}]",
    )


def _worse(metric: str, ratio: float) -> bool:
    """One trial's candidate / base lies on the bad side of 1."""
    return ratio < 1 if higher_is_better(metric) else ratio > 1
