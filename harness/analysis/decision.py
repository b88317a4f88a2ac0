"""The verdict on each candidate: MIGRATE, DO NOT MIGRATE or INCONCLUSIVE, with its reasons.

Rules, in order (the first that applies decides; every reason carries a code for logic and a
sentence that names the step, the figure and the threshold, so an engineer can defend the
verdict with the report in hand):

a. the candidate's delivery audit failed anywhere (lost, doubled, wrong-token or unexpected
   replies)                                                              -> DO NOT MIGRATE
b. the candidate fails a criterion judged on usable data                 -> DO NOT MIGRATE
c. the candidate is significantly worse than the baseline beyond the practical margin on p95
   or throughput at a load level usable for both                         -> DO NOT MIGRATE
d. the baseline's audit failed, the candidate's delivery was not audited, the run stopped early,
   no load level is usable for both, or a criterion that must be judged could not be
                                                                         -> INCONCLUSIVE
   except when criteria not judged are all that stands there, every level either service ran
   was compared and none shows a benefit: a criterion can only hold a migration back, never
   earn one, so judging it could not change rule f's answer              -> rule f
e. the candidate is significantly better beyond the margin (p95 or throughput) at a level
   usable for both                                                       -> MIGRATE
f. otherwise: no measurable benefit                                      -> DO NOT MIGRATE

At a level where both services filled their CPUs, p95 is not compared, only throughput
(:attr:`Ratio.is_evidence`): the latency there is the queue the load builds, not the design.

A run without a baseline and a candidate (``harness run``) gets no verdict; its criteria are
still judged (:mod:`.conclude` puts the pieces together).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..results import AuditFigures, CriterionResult, Decision, DecisionReason, Ratio, Results, StepSummary
from ..rounding import number, p_value
from ..terms import (
    BENCH_ADVICE,
    COMPONENT_LABELS,
    METRIC_LABELS,
    PRACTICAL_MARGIN,
    Component,
    CriterionReason,
    Direction,
    Outcome,
    ReasonCode,
    Unusable,
    Verdict,
    beyond_margin,
    higher_is_better,
    load_label,
    margin_bound,
)
from .projection import cpu_need

__all__ = ["decide"]

_Level = tuple[int, float]
_VERDICT_METRICS = ("p95_ms", "throughput_rps")  # what rules c and e read


def decide(
    results: Results,
    judged: Sequence[CriterionResult],
    ratios: Sequence[Ratio],
    *,
    candidate: str,
    baseline: str,
) -> Decision:
    """Judge ``candidate`` against ``baseline`` on ``results`` (summaries, steps, soak and fault
    results), the ``judged`` criteria and their ``ratios``."""
    ratios = list(ratios)
    own = [r for r in judged if r.service == candidate]

    def verdict(kind: Verdict, reasons: Iterable[DecisionReason]) -> Decision:
        return Decision(
            candidate=candidate, baseline=baseline, verdict=kind, reasons=list(reasons), criteria=own, ratios=ratios
        )

    services = _services(results)
    if candidate not in services or baseline not in services:
        measured = ", ".join(services) or "nothing"
        text = (
            f"the run measured {measured}, not both {candidate} and {baseline}: no verdict on the "
            "migration (the criteria are still judged)"
        )
        return verdict(Verdict.INCONCLUSIVE, [_reason(ReasonCode.ONE_SERVICE, text)])

    if reasons := _audit_failures(results, candidate):  # a
        text = "a faster service that loses or doubles replies is not a migration"
        return verdict(Verdict.DO_NOT_MIGRATE, [*reasons, _reason(ReasonCode.EXPLANATION, text)])
    failed = [r for r in own if r.outcome is Outcome.FAIL]
    if failed:  # b
        return verdict(
            Verdict.DO_NOT_MIGRATE,
            [
                _reason(ReasonCode.CRITERION_FAILED, f"{candidate} fails criterion '{r.criterion}': {r.detail}")
                for r in failed
            ],
        )
    comparable = _comparable_levels(results.summaries, candidate, baseline)
    usable_ratios = [r for r in ratios if (r.users, r.arrival_rate) in comparable]
    set_aside = _both_saturated(usable_ratios, candidate, baseline)
    worse = [r for r in usable_ratios if _acted_on(r, Direction.WORSE)]
    if worse:  # c
        reasons = [_ratio_reason(r, candidate, baseline, Direction.WORSE) for r in worse]
        return verdict(Verdict.DO_NOT_MIGRATE, [*reasons, *set_aside])
    wins = [r for r in usable_ratios if _acted_on(r, Direction.BETTER)]
    uncompared = _uncompared(results.summaries, comparable, candidate, baseline)
    immaterial: list[DecisionReason] = []
    if reasons := _inconclusive(results, own, comparable, candidate, baseline):  # d
        if wins or uncompared or not _only_criteria(reasons, own):
            advice = [*_advice(results.summaries, (candidate, baseline)), *_bigger_machine(results, own, candidate)]
            return verdict(Verdict.INCONCLUSIVE, [*reasons, *advice, *set_aside])
        immaterial = _immaterial(results, own, comparable, candidate, baseline)
    if wins:  # e
        passed = sum(1 for r in own if r.outcome is Outcome.PASS)
        text = (
            f"{candidate} passes all {passed} criteria judged on it"
            if passed
            else f"no criterion in the criteria file applies to {candidate}"
        )
        return verdict(
            Verdict.MIGRATE,
            [
                *(_ratio_reason(r, candidate, baseline, Direction.BETTER) for r in wins),
                _reason(ReasonCode.CRITERIA_PASSED, text + ", with a clean delivery audit at every step"),
                *uncompared,
                *set_aside,
            ],
        )
    no_benefit = _no_benefit(usable_ratios, candidate, baseline)  # f
    return verdict(Verdict.DO_NOT_MIGRATE, [*no_benefit, *immaterial, *set_aside, *uncompared])


def _reason(code: ReasonCode, text: str) -> DecisionReason:
    return DecisionReason(code=code, text=text)


def _services(results: Results) -> list[str]:
    seen = dict.fromkeys(results.settings.services)
    seen.update(dict.fromkeys(s.service for s in results.summaries))
    seen.update(dict.fromkeys(s.service for s in results.steps))
    return list(seen)


def _audit_text(audit: AuditFigures) -> str:
    explained = audit.doubled - audit.doubled_unexplained
    apart = (
        f" ({explained} more doubled in a crash window or at the timeout's edge, judged by the fault criteria)"
        if explained
        else ""
    )
    return (
        f"{audit.lost} lost, {audit.doubled_unexplained} doubled, {audit.wrong_token} wrong-token and "
        f"{audit.unexpected} unexpected replies (all must be 0) for {audit.expected} acknowledged messages{apart}"
    )


def _audit_failures(results: Results, service: str) -> list[DecisionReason]:
    """Rule a: a lost, wrong-token or unexpected reply, or a double no fault window explains.
    Doubles in a worker's crash window or at the Graph API timeout's edge are a fault's by its
    nature (``AuditFigures.passed`` leaves them out): the fault criteria judge them (rule b)."""
    texts = [
        f"{service} at {load_label(step.users, step.arrival_rate)} (trial {step.trial}): delivery audit "
        f"failed, {_audit_text(step.audit)}"
        for step in results.steps
        if step.service == service and step.audit is not None and not step.audit.passed
    ]
    texts += [
        f"{service} under fault '{fault.fault}': delivery audit failed, {_audit_text(fault.audit)}"
        for fault in results.faults
        if fault.service == service and not fault.audit.passed
    ]
    return [_reason(ReasonCode.AUDIT_FAILED, text) for text in texts]


def _comparable_levels(summaries: Sequence[StepSummary], candidate: str, baseline: str) -> set[_Level]:
    def usable(service: str) -> set[_Level]:
        return {(s.users, s.arrival_rate) for s in summaries if s.service == service and s.usable}

    return usable(candidate) & usable(baseline)


def _uncompared(
    summaries: Sequence[StepSummary], comparable: set[_Level], candidate: str, baseline: str
) -> list[DecisionReason]:
    """Load levels the verdict could not compare, and why: the verdict stands on the others."""
    pair = (candidate, baseline)
    levels = {(s.users, s.arrival_rate) for s in summaries if s.service in pair}
    reasons = []
    for users, arrival_rate in sorted(levels - comparable):
        at_level = [s for s in summaries if (s.users, s.arrival_rate) == (users, arrival_rate)]
        why = [
            f"{s.service} not usable: {', '.join(issue.detail for issue in s.unusable)}"
            for s in at_level
            if s.service in pair and not s.usable
        ]
        ran = {s.service for s in at_level}
        why += [f"{service} did not run" for service in pair if service not in ran]
        text = f"not compared at {load_label(users, arrival_rate)} ({'; '.join(why)})"
        reasons.append(_reason(ReasonCode.NOT_COMPARED, text))
    return reasons


def _acted_on(ratio: Ratio, direction: Direction) -> bool:
    """A ratio the verdict acts on: evidence, significant, and past the practical margin in
    ``direction``."""
    if ratio.metric not in _VERDICT_METRICS or not ratio.significant or not ratio.is_evidence:
        return False
    return beyond_margin(ratio.metric, ratio.value.value, direction)


def _ratio_text(ratio: Ratio) -> str:
    # Rounded against the candidate, interval outwards (harness.rounding).
    estimate, better = ratio.value, "higher" if higher_is_better(ratio.metric) else "lower"
    details = []
    if estimate.ci_low is not None and estimate.ci_high is not None:
        details.append(f"95% CI {number(estimate.ci_low, 4, 'higher')}..{number(estimate.ci_high, 4, 'lower')}")
    if ratio.p_value is not None:
        p = p_value(ratio.p_value)
        details.append(f"Mann-Whitney p {p}" if p.startswith("<") else f"Mann-Whitney p = {p}")
    text = f"{number(estimate.value, 4, better)} x" if estimate.value is not None else "n/a"
    return text + (f" ({', '.join(details)})" if details else "")


def _ratio_reason(ratio: Ratio, candidate: str, baseline: str, direction: Direction) -> DecisionReason:
    bound = margin_bound(ratio.metric, direction)
    comparison = ">" if bound > 1 else "<"
    code = ReasonCode.SIGNIFICANTLY_WORSE if direction is Direction.WORSE else ReasonCode.SIGNIFICANTLY_BETTER
    text = (
        f"at {load_label(ratio.users, ratio.arrival_rate)}: {candidate} {METRIC_LABELS[ratio.metric]} is "
        f"{_ratio_text(ratio)} {baseline}'s, significantly {direction} (ratio {comparison} {bound:g})"
    )
    return _reason(code, text)


def _inconclusive(
    results: Results,
    own: Sequence[CriterionResult],
    comparable: set[_Level],
    candidate: str,
    baseline: str,
) -> list[DecisionReason]:
    reasons = [_reason(ReasonCode.BASELINE_AUDIT_FAILED, reason.text) for reason in _audit_failures(results, baseline)]
    if reasons:
        text = f"the baseline {baseline} loses or doubles replies: the bench cannot be trusted; check the upstream log"
        reasons.append(_reason(ReasonCode.BASELINE_AUDIT_FAILED, text))
    unaudited = [s for s in results.steps if s.service == candidate and s.audit is None]
    if unaudited:
        where = ", ".join(f"{load_label(s.users, s.arrival_rate)} trial {s.trial}" for s in unaudited)
        reasons.append(
            _reason(
                ReasonCode.NOT_AUDITED, f"{candidate}'s replies were not audited at {where}: its delivery is unproven"
            )
        )
    if not results.complete:
        text = f"the run stopped early ({results.incomplete_reason or 'no reason recorded'})"
        reasons.append(_reason(ReasonCode.RUN_INCOMPLETE, text))
    if not comparable:
        text = f"no load level has usable data for both {candidate} and {baseline}"
        reasons.append(_reason(ReasonCode.NO_COMPARABLE_LEVEL, text))
    unjudged: dict[str, list[str]] = {}  # one reason per cause, naming every criterion it hides
    for r in own:
        if r.outcome is Outcome.NOT_JUDGED:
            unjudged.setdefault(r.detail, []).append(f"'{r.criterion}'")
    for cause, names in unjudged.items():
        text = (
            f"{cause}: {len(names)} criteria could not be judged for {candidate} ({', '.join(names)})"
            if len(names) > 1
            else f"{cause}: criterion {names[0]} could not be judged for {candidate}"
        )
        reasons.append(_reason(ReasonCode.CRITERIA_NOT_JUDGED, text))
    return reasons


def _both_saturated(usable_ratios: Sequence[Ratio], candidate: str, baseline: str) -> list[DecisionReason]:
    """The levels whose latency ratios the verdict set aside, and why."""
    levels = sorted(
        {(r.users, r.arrival_rate) for r in usable_ratios if r.metric in _VERDICT_METRICS and not r.is_evidence}
    )
    if not levels:
        return []
    text = (
        f"at {', '.join(load_label(*level) for level in levels)} both {candidate} and {baseline} filled their "
        "CPUs: latency there is the queue the load builds (mean latency = users / throughput - think time), "
        "so only throughput was compared there"
    )
    return [_reason(ReasonCode.BOTH_SATURATED, text)]


# A criterion these leave unjudged might have been judged on a level or service the run did not
# measure, where a benefit could also have shown: the verdict waits for them.
_UNMEASURED = {CriterionReason.NO_STEP, CriterionReason.SERVICE_ABSENT}


def _only_criteria(reasons: Sequence[DecisionReason], own: Sequence[CriterionResult]) -> bool:
    """Rule d's reasons are only criteria not judged, on what the run measured."""
    if any(r.code is not ReasonCode.CRITERIA_NOT_JUDGED for r in reasons):
        return False
    return not any(r.outcome is Outcome.NOT_JUDGED and r.reason in _UNMEASURED for r in own)


def _immaterial(
    results: Results,
    own: Sequence[CriterionResult],
    comparable: set[_Level],
    candidate: str,
    baseline: str,
) -> list[DecisionReason]:
    """Why criteria left unjudged do not hold a no-benefit verdict at INCONCLUSIVE."""
    names = sorted({f"'{r.criterion}'" for r in own if r.outcome is Outcome.NOT_JUDGED})
    text = (
        f"{len(names)} criteria could not be judged for {candidate} ({', '.join(names)}), but a criterion can "
        f"only hold a migration back, never earn one: with no benefit at any of the {len(comparable)} load "
        "level(s) compared, judging them would not change this verdict"
    )
    needs = _cpu_needs(results, own, candidate, baseline)
    if needs is not None:
        mine, theirs = needs
        text += (
            f". A bigger machine gives both designs the same CPUs: projected, {candidate} needs {mine} worker "
            f"CPU(s) for those levels where {baseline} needs {theirs} (a projection: CPU per request as measured, "
            "workers scaling linearly)"
        )
    return [_reason(ReasonCode.CRITERIA_IMMATERIAL, text)]


def _cpu_needs(
    results: Results, own: Sequence[CriterionResult], candidate: str, baseline: str
) -> tuple[int, int] | None:
    """The worker CPUs each side is projected to need at the levels whose criteria wait for CPU."""
    waiting = {(r.users, r.arrival_rate) for r in own if r.reason is CriterionReason.NEEDS_MORE_CPU}
    most = {}
    for service in (candidate, baseline):
        needs = [
            need.service_cpus
            for s in results.summaries
            if s.service == service
            and (s.users, s.arrival_rate) in waiting
            and (need := cpu_need(results, s)) is not None
        ]
        if not needs:
            return None
        most[service] = max(needs)
    return most[candidate], most[baseline]


_CAUSE_ADVICE = {
    Unusable.TOO_FEW_REQUESTS: "too few requests per step: run longer steps or more trials",
    Unusable.INCOMPLETE: "some steps did not finish: rerun them (see the run's log)",
    Unusable.NO_RECORDS: "a level has no per-request records: see the step's Locust log",
}


def _advice(summaries: Sequence[StepSummary], services: Sequence[str]) -> list[DecisionReason]:
    """What to change, once per cause: a saturated part names every level and service it held up."""
    bound: dict[Component, dict[str, dict[_Level, None]]] = {}
    causes: dict[str, None] = {}
    for summary in sorted(summaries, key=lambda s: (s.arrival_rate, s.users)):
        if summary.service not in services:
            continue
        for issue in summary.unusable:
            if issue.code is Unusable.BENCH_BOUND and issue.component is not None:
                where = bound.setdefault(issue.component, {}).setdefault(summary.service, {})
                where[(summary.users, summary.arrival_rate)] = None
            elif issue.code in _CAUSE_ADVICE:
                causes[_CAUSE_ADVICE[issue.code]] = None
    todo = [
        f"{COMPONENT_LABELS[component]} saturated at "
        + "; ".join(
            f"{', '.join(load_label(*level) for level in levels)} ({service})" for service, levels in where.items()
        )
        + f": {BENCH_ADVICE[component]}"
        for component, where in bound.items()
    ]
    return [_reason(ReasonCode.TO_DECIDE, f"to decide: {item}") for item in [*todo, *causes]]


def _bigger_machine(results: Results, own: Sequence[CriterionResult], candidate: str) -> list[DecisionReason]:
    """What a bigger machine must confirm, when criteria wait for more CPU than this one has."""
    waiting = {(r.users, r.arrival_rate) for r in own if r.reason is CriterionReason.NEEDS_MORE_CPU}
    needs = [
        need
        for s in results.summaries
        if s.service == candidate
        and (s.users, s.arrival_rate) in waiting
        and (need := cpu_need(results, s)) is not None
    ]
    if not needs:
        return []
    cpus = max(need.service_cpus for need in needs)
    levels = ", ".join(load_label(*level) for level in sorted(waiting))
    text = (
        f"a projection is not a measurement: to judge {candidate} at {levels}, run on a machine with at least "
        f"{cpus + 2} CPUs ({cpus} for the service, the rest for the bench): make compare "
        f"ARGS='--service-cpus {cpus} --workers {cpus} --candidates {candidate}'"
    )
    return [_reason(ReasonCode.NEEDS_BIGGER_MACHINE, text)]


def _no_benefit(usable_ratios: Sequence[Ratio], candidate: str, baseline: str) -> list[DecisionReason]:
    text = (
        f"no measurable benefit: at no load level usable for both was {candidate}'s p95 significantly "
        f"below {1 - PRACTICAL_MARGIN:g} x {baseline}'s, nor its throughput significantly above "
        f"{1 + PRACTICAL_MARGIN:g} x"
    )
    if any(not r.is_evidence for r in usable_ratios if r.metric in _VERDICT_METRICS):
        text += " (p95 compared only where not both filled their CPUs)"
    reasons = [_reason(ReasonCode.NO_BENEFIT, text)]
    for ratio in usable_ratios:
        if ratio.metric in _VERDICT_METRICS:
            significance = "significant" if ratio.significant else "not significant"
            if not ratio.is_evidence:
                significance += ", set aside: both filled their CPUs"
            text = (
                f"at {load_label(ratio.users, ratio.arrival_rate)}: {METRIC_LABELS[ratio.metric]} ratio "
                f"{_ratio_text(ratio)}, {significance}"
            )
            reasons.append(_reason(ReasonCode.RATIO, text))
    return reasons
