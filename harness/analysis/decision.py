"""The verdict on each candidate: MIGRATE, DO NOT MIGRATE or INCONCLUSIVE, with its reasons.

The verdict is the first of two answers a run gives per candidate: is it the better design than
the baseline, from what this machine measured? The second, whether it holds the checklist's
target load and on what (:mod:`.target`), is kept apart: a criterion whose load needs more
machine than this one (the service's or the bench's CPUs, the database ran out), or a level the
run did not include, is that answer's (:data:`~harness.terms.TARGET_REASONS`), never a reason
to withhold the verdict.

Rules, in order (the first that applies decides; every reason carries a code for logic and a
sentence that names the step, the figure and the threshold, so an engineer can defend the
verdict with the report in hand):

a. the candidate's delivery audit failed anywhere (lost, doubled, wrong-token or unexpected
   replies)                                                              -> DO NOT MIGRATE
b. the candidate fails a criterion judged on usable data                 -> DO NOT MIGRATE
c. the candidate is significantly worse than the baseline beyond the practical margin on p95,
   throughput or the service's CPU per request at a load level usable for both
                                                                         -> DO NOT MIGRATE
d. the run could not compare: the baseline's audit failed, the candidate's delivery was not
   audited, the run stopped early, no load level is usable for both, the machine was not quiet
   (another process or the VM's host took CPU) at a level either ran, or a criterion this
   machine could judge was not                                           -> INCONCLUSIVE
   except when criteria not judged are all that stands there, every level either service ran
   was compared and none shows a benefit: a criterion can only hold a migration back, never
   earn one, so judging it could not change rule f's answer              -> rule f
e. the candidate is significantly better beyond the margin (p95, throughput or CPU per
   request) at a level usable for both                                   -> MIGRATE
f. otherwise: no measurable benefit                                      -> DO NOT MIGRATE

"Beyond the practical margin" is 10 % for p95 and throughput and 20 % for CPU per request
(:func:`~harness.metrics.practical_margin`: CPU per request moves more with where the service runs).

At a level where both services filled their CPUs, p95 is not compared, only throughput
(:attr:`Ratio.is_evidence`): the latency there is the queue the load builds, not the design.

A verdict that rests on a knife edge says so in one line (``knife_edge``), with what would settle
it: every ratio that decided it has an interval reaching the margin, or a level the bench's guard
set aside could have changed it.

A run without a baseline and a candidate (``harness run``) gets no verdict; its criteria are
still judged (:mod:`.conclude` puts the pieces together).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..metrics import METRIC_LABELS, PRACTICAL_MARGIN, VERDICT_METRICS, higher_is_better, practical_margin
from ..results import AuditFigures, CriterionResult, Decision, DecisionReason, LevelSummary, Ratio, Results
from ..rounding import number, p_value
from ..terms import (
    BENCH_ADVICE,
    COMPONENT_LABELS,
    TARGET_REASONS,
    Component,
    CriterionReason,
    Direction,
    Outcome,
    ReasonCode,
    Unusable,
    Verdict,
    beyond_margin,
    load_label,
    margin_bound,
)

__all__ = ["acts_on", "decide", "key_ratio"]

_Level = tuple[int, float]
# What rules c and e read (VERDICT_METRICS, the registry's): how fast (p95, throughput) and what a
# message costs (the service's CPU per request, the checklist's own "76 % cost reduction").
_GUARDED = {Component.BENCH_CPUS, Component.MACHINE, Component.LOAD_GENERATOR}  # the bench guard's flags


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
    trials = results.settings.load.trials
    worse = [r for r in usable_ratios if acts_on(r, Direction.WORSE)]
    if worse:  # c
        reasons = [_ratio_reason(r, candidate, baseline, Direction.WORSE) for r in worse]
        edge = _edge_of(worse, Direction.WORSE, trials)
        return verdict(Verdict.DO_NOT_MIGRATE, [*reasons, *set_aside, *edge])
    wins = [r for r in usable_ratios if acts_on(r, Direction.BETTER)]
    uncompared = _uncompared(results.summaries, comparable, candidate, baseline)
    elsewhere = _target_elsewhere(own)
    immaterial: list[DecisionReason] = []
    if reasons := _inconclusive(results, own, comparable, candidate, baseline):  # d
        if wins or uncompared or not _only_criteria(reasons, own):
            advice = _advice(results.summaries, (candidate, baseline))
            return verdict(Verdict.INCONCLUSIVE, [*reasons, *advice, *elsewhere, *set_aside])
        immaterial = _immaterial(own, comparable, candidate)
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
                *_edge_of(wins, Direction.BETTER, trials),
                *elsewhere,
                *uncompared,
                *set_aside,
            ],
        )
    no_benefit = _no_benefit(usable_ratios, candidate, baseline)  # f
    near = _near_benefit(usable_ratios, trials)
    guarded = _guarded_levels(results.summaries, comparable, (candidate, baseline))
    return verdict(
        Verdict.DO_NOT_MIGRATE, [*no_benefit, *near, *guarded, *immaterial, *elsewhere, *set_aside, *uncompared]
    )


def acts_on(ratio: Ratio, direction: Direction) -> bool:
    """A ratio the verdict acts on: evidence, significant, and past the practical margin in
    ``direction`` (the one rule the verdict, the report, the self-test and the gate share)."""
    if ratio.metric not in VERDICT_METRICS or not ratio.significant or not ratio.is_evidence:
        return False
    return beyond_margin(ratio.metric, ratio.value.value, direction)


def key_ratio(decision: Decision) -> Ratio | None:
    """The one ratio that tells a verdict best: of those it acted on, one whose interval is clear of
    the margin, throughput first (the checklist's own claims lead with it), then the largest; None
    for a verdict no ratio decided."""
    direction = {Verdict.MIGRATE: Direction.BETTER}.get(decision.verdict)
    if decision.verdict is Verdict.DO_NOT_MIGRATE and decision.with_code(ReasonCode.SIGNIFICANTLY_WORSE):
        direction = Direction.WORSE
    if direction is None:
        return None
    code = ReasonCode.SIGNIFICANTLY_BETTER if direction is Direction.BETTER else ReasonCode.SIGNIFICANTLY_WORSE
    # The ratios the verdict acted on (levels usable for both), never a level it did not compare.
    acted = [r for reason in decision.with_code(code) for r in reason.ratios]
    if not acted:
        return None

    def strength(r: Ratio) -> tuple[bool, bool, float]:
        value = r.value.value or 1.0
        size = value if value >= 1 else 1 / value
        # An interval clear of the margin first (the figure the verdict stands on firmest), then
        # throughput, then the largest ratio.
        return (not _reaches(r, direction), r.metric == "throughput_rps", size)

    return max(acted, key=strength)


def _reason(code: ReasonCode, text: str, ratios: Sequence[Ratio] = (), levels: Iterable[_Level] = ()) -> DecisionReason:
    return DecisionReason(code=code, text=text, ratios=list(ratios), levels=sorted(set(levels)))


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


def _comparable_levels(summaries: Sequence[LevelSummary], candidate: str, baseline: str) -> set[_Level]:
    def usable(service: str) -> set[_Level]:
        return {(s.users, s.arrival_rate) for s in summaries if s.service == service and s.usable}

    return usable(candidate) & usable(baseline)


def _uncompared(
    summaries: Sequence[LevelSummary], comparable: set[_Level], candidate: str, baseline: str
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
        reasons.append(_reason(ReasonCode.NOT_COMPARED, text, levels=[(users, arrival_rate)]))
    return reasons


def _ratio_text(ratio: Ratio) -> str:
    # Rounded against the candidate, interval outwards (harness.rounding).
    estimate, better = ratio.value, "higher" if higher_is_better(ratio.metric) else "lower"
    details = []
    if estimate.ci_low is not None and estimate.ci_high is not None:
        details.append(f"95% CI {number(estimate.ci_low, 4, 'higher')}..{number(estimate.ci_high, 4, 'lower')}")
    if ratio.p_value is not None:
        details.append(f"Mann-Whitney p = {p_value(ratio.p_value)}")
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
    return _reason(code, text, [ratio], [(ratio.users, ratio.arrival_rate)])


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
    if disturbed := _disturbed(results.summaries, (candidate, baseline)):
        reasons.append(disturbed)
    unjudged: dict[str, list[str]] = {}  # one reason per cause, naming every criterion it hides
    for r in own:
        if r.outcome is Outcome.NOT_JUDGED and r.reason not in TARGET_REASONS:
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
        {(r.users, r.arrival_rate) for r in usable_ratios if r.metric in VERDICT_METRICS and r.queue_latency}
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


def _held(own: Sequence[CriterionResult]) -> list[CriterionResult]:
    """Criteria not judged that this machine could have judged: they hold a verdict."""
    return [r for r in own if r.outcome is Outcome.NOT_JUDGED and r.reason not in TARGET_REASONS]


def _immaterial(own: Sequence[CriterionResult], comparable: set[_Level], candidate: str) -> list[DecisionReason]:
    """Why criteria left unjudged do not hold a no-benefit verdict at INCONCLUSIVE."""
    names = sorted({f"'{r.criterion}'" for r in _held(own)})
    text = (
        f"{len(names)} criteria could not be judged for {candidate} ({', '.join(names)}), but a criterion can "
        f"only hold a migration back, never earn one: with no benefit at any of the {len(comparable)} load "
        "level(s) compared, judging them would not change this verdict"
    )
    return [_reason(ReasonCode.CRITERIA_IMMATERIAL, text)]


def _target_elsewhere(own: Sequence[CriterionResult]) -> list[DecisionReason]:
    """One line for the criteria this machine cannot judge: the target-load answer has them."""
    waiting: dict[str, list[str]] = {}
    for r in own:
        if r.outcome is Outcome.NOT_JUDGED and r.reason in TARGET_REASONS:
            where = waiting.setdefault(r.criterion, [])
            if r.users is not None:
                where.append(load_label(r.users, r.arrival_rate))
    if not waiting:
        return []
    named = "; ".join(f"'{name}'" + (f" at {', '.join(levels)}" if levels else "") for name, levels in waiting.items())
    text = (
        f"{len(waiting)} {'criterion needs' if len(waiting) == 1 else 'criteria need'} more machine than this "
        f"one, or a level this run left out ({named}): "
        "they are the target-load answer's, not the verdict's"
    )
    return [_reason(ReasonCode.TARGET_ELSEWHERE, text)]


def _disturbed(summaries: Sequence[LevelSummary], pair: Sequence[str]) -> DecisionReason | None:
    """The levels of the pair measured on a machine that was not quiet, in one reason."""
    hit = [
        (s, issue)
        for s in sorted(summaries, key=lambda s: (s.arrival_rate, s.users))
        if s.service in pair
        for issue in s.unusable
        if issue.code is Unusable.DISTURBED
    ]
    if not hit:
        return None
    found = [f"{load_label(s.users, s.arrival_rate)} ({s.service}: {issue.detail})" for s, issue in hit]
    text = (
        f"the machine was disturbed while it measured, at {'; '.join(found)}. This is a cause outside both "
        "designs: rerun on a quiet machine (no test suite, build or second benchmark beside it)"
    )
    return _reason(ReasonCode.MACHINE_DISTURBED, text, levels=[(s.users, s.arrival_rate) for s, _ in hit])


def _reaches(ratio: Ratio, direction: Direction) -> bool:
    """The ratio's interval reaches the margin's bound from the ``direction`` side (or has none)."""
    bound = margin_bound(ratio.metric, direction)
    low, high = ratio.value.ci_low, ratio.value.ci_high
    if low is None or high is None:
        return True
    return high >= bound if bound < 1 else low <= bound


def _margins(ratios: Sequence[Ratio]) -> str:
    """ "10 %" or "10 %, CPU per request 20 %": the margins the ratios were held to."""
    own = sorted({r.metric for r in ratios if practical_margin(r.metric) != PRACTICAL_MARGIN})
    return ", ".join([f"{PRACTICAL_MARGIN:.0%}", *(f"{METRIC_LABELS[m]} {practical_margin(m):.0%}" for m in own)])


def _settle(trials: int) -> str:
    return (
        "2 more trials (--trials 3, or --profile full) would settle it" if trials < 3 else "more trials would settle it"
    )


def _edge_of(deciding: Sequence[Ratio], direction: Direction, trials: int) -> list[DecisionReason]:
    """One line when every ratio that decided the verdict has an interval reaching the margin."""
    if not deciding or not all(_reaches(r, direction) for r in deciding):
        return []
    where = ", ".join(f"{METRIC_LABELS[r.metric]} at {load_label(r.users, r.arrival_rate)}" for r in deciding)
    text = (
        f"knife edge: the interval of every ratio that decided this ({where}) reaches its margin "
        f"({_margins(deciding)}); {_settle(trials)}"
    )
    return [_reason(ReasonCode.KNIFE_EDGE, text, deciding, [(r.users, r.arrival_rate) for r in deciding])]


def _near_benefit(usable_ratios: Sequence[Ratio], trials: int) -> list[DecisionReason]:
    """One line when a ratio's interval reaches past the margin towards a benefit: no benefit was
    shown, but more data could show one."""
    near = [
        r
        for r in usable_ratios
        if r.metric in VERDICT_METRICS
        and r.is_evidence
        and not acts_on(r, Direction.BETTER)
        and r.value.ci_low is not None
        and r.value.ci_high is not None
        and _past(r, Direction.BETTER)
    ]
    if not near:
        return []
    where = ", ".join(f"{METRIC_LABELS[r.metric]} at {load_label(r.users, r.arrival_rate)}" for r in near)
    text = f"knife edge: the interval of {where} reaches past its margin ({_margins(near)}) towards a benefit; "
    return [_reason(ReasonCode.KNIFE_EDGE, text + _settle(trials), near, [(r.users, r.arrival_rate) for r in near])]


def _past(ratio: Ratio, direction: Direction) -> bool:
    bound = margin_bound(ratio.metric, direction)
    low, high = ratio.value.ci_low, ratio.value.ci_high
    assert low is not None and high is not None
    return low < bound if bound < 1 else high > bound


def _guarded_levels(
    summaries: Sequence[LevelSummary], comparable: set[_Level], pair: Sequence[str]
) -> list[DecisionReason]:
    """One line when no benefit was found and the bench's guard set aside a level where one could
    have shown (its CPUs, the shared machine or the load generator ran out)."""
    found: dict[_Level, list[str]] = {}
    for s in summaries:
        level = (s.users, s.arrival_rate)
        if s.service not in pair or level in comparable:
            continue
        flags = [i for i in s.unusable if i.code is Unusable.BENCH_BOUND and i.component in _GUARDED]
        if flags and all(i.code is Unusable.BENCH_BOUND for i in s.unusable):
            found.setdefault(level, []).append(s.service)
    if not found:
        return []
    where = "; ".join(f"{load_label(*level)} ({', '.join(services)})" for level, services in sorted(found.items()))
    text = (
        f"knife edge: the bench guard set aside {where}, where a difference could have shown; "
        "add --locust-workers or a bigger machine to compare it"
    )
    return [_reason(ReasonCode.KNIFE_EDGE, text, levels=found)]


_CAUSE_ADVICE = {
    Unusable.TOO_FEW_REQUESTS: "too few requests per step: run longer steps or more trials",
    Unusable.INCOMPLETE: "some steps did not finish: rerun them (see the run's log)",
    Unusable.NO_RECORDS: "a level has no per-request records: see the step's Locust log",
}


def _advice(summaries: Sequence[LevelSummary], services: Sequence[str]) -> list[DecisionReason]:
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


def _no_benefit(usable_ratios: Sequence[Ratio], candidate: str, baseline: str) -> list[DecisionReason]:
    text = (
        f"no measurable benefit: at no load level usable for both was {candidate}'s p95 significantly below "
        f"{margin_bound('p95_ms', Direction.BETTER):g} x {baseline}'s, its CPU per request below "
        f"{margin_bound('service_cpu_ms_per_request', Direction.BETTER):g} x, nor its throughput above "
        f"{margin_bound('throughput_rps', Direction.BETTER):g} x"
    )
    if any(r.queue_latency for r in usable_ratios if r.metric in VERDICT_METRICS):
        text += " (p95 compared only where not both filled their CPUs)"
    if any(r.placement_cost for r in usable_ratios):
        text += " (CPU per request not compared: the services shared CPUs with the bench)"
    reasons = [_reason(ReasonCode.NO_BENEFIT, text)]
    for ratio in usable_ratios:
        if ratio.metric in VERDICT_METRICS:
            significance = "significant" if ratio.significant else "not significant"
            if ratio.queue_latency:
                significance += ", set aside: both filled their CPUs"
            elif ratio.placement_cost:
                significance += ", set aside: the services shared CPUs with the bench (not pinned)"
            text = (
                f"at {load_label(ratio.users, ratio.arrival_rate)}: {METRIC_LABELS[ratio.metric]} ratio "
                f"{_ratio_text(ratio)}, {significance}"
            )
            reasons.append(_reason(ReasonCode.RATIO, text, [ratio], [(ratio.users, ratio.arrival_rate)]))
    return reasons
