"""The verdict: MIGRATE, DO NOT MIGRATE or INCONCLUSIVE, with the reasons that justify it.

Rules, in order (the first that applies decides; every reason names the step, the figure and
the threshold, so an engineer can defend the verdict with the report in hand):

a. the candidate's delivery audit failed anywhere (lost, doubled, wrong-token or unexpected
   replies)                                                              -> DO NOT MIGRATE
b. the candidate fails a criterion judged on usable data                 -> DO NOT MIGRATE
c. the candidate is significantly worse than the baseline beyond the 10% margin on p95 or
   throughput at a load level usable for both                            -> DO NOT MIGRATE
d. the baseline's audit failed, the candidate's delivery was not audited, the run stopped early,
   no load level is usable for both, or a criterion that must be judged could not be
                                                                         -> INCONCLUSIVE
e. the candidate is significantly better beyond the margin (p95 or throughput) at a level
   usable for both                                                       -> MIGRATE
f. otherwise: no measurable benefit                                      -> DO NOT MIGRATE

A run of one service only gets no migration verdict (INCONCLUSIVE) but its criteria are judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import pandas as pd

from .criteria import Criteria, evaluate
from .figures import BOUND_LABELS, ratios, summarize
from .report.format import number, p_value
from .results import (
    AuditFigures,
    CriterionResult,
    Decision,
    Ratio,
    Results,
    StepSummary,
    Verdict,
)

__all__ = [
    "BASELINE",
    "CANDIDATE",
    "DO_NOT_MIGRATE",
    "INCONCLUSIVE",
    "MIGRATE",
    "PRACTICAL_MARGIN",
    "conclude",
    "decide",
]

CANDIDATE = "optimized"
BASELINE = "original"
MIGRATE: Final = "MIGRATE"
DO_NOT_MIGRATE: Final = "DO NOT MIGRATE"
INCONCLUSIVE: Final = "INCONCLUSIVE"
# A difference smaller than this is not worth a migration (nor a reason to refuse one),
# however significant statistically.
PRACTICAL_MARGIN = 0.10

_ADVICE = {
    "load_generator": "add --locust-workers so the load generator is not the bottleneck",
    "database": "use a real mongod via MONGODB_URI instead of the embedded database",
    "upstream": "give the bench more cores or lower the load (the fake upstream saturated)",
    "machine": "run the bench's parts on other hosts (MONGODB_URI for the database, Locust workers "
    "elsewhere) or a bigger machine: the service competed with its own test bench for CPU",
}

_Level = tuple[int, float]


def conclude(
    results: Results,
    records: pd.DataFrame,
    criteria: Criteria,
    *,
    seed: int = 0,
    candidate: str = CANDIDATE,
    baseline: str = BASELINE,
) -> Results:
    """``results`` with its summaries and decision computed from its steps and ``records``."""
    summaries = summarize(results.steps, records, seed)
    with_summaries = results.model_copy(update={"summaries": summaries})
    compared = ratios(summaries, records, candidate=candidate, baseline=baseline, seed=seed)
    decision = decide(with_summaries, criteria, compared, candidate=candidate, baseline=baseline)
    return with_summaries.model_copy(update={"decision": decision})


def decide(
    results: Results,
    criteria: Criteria,
    ratios: Sequence[Ratio] | None = None,
    *,
    candidate: str = CANDIDATE,
    baseline: str = BASELINE,
) -> Decision:
    """Judge ``results`` (its summaries, steps, soak and fault results) against ``criteria``.

    ``ratios`` default to the ones a previous decision stored, so a finished run can be
    re-judged under edited criteria without its records.
    """
    if ratios is None:
        ratios = results.decision.ratios if results.decision else []
    ratios = list(ratios)
    judged = evaluate(criteria, results)

    def verdict(kind: Verdict, reasons: Iterable[str]) -> Decision:
        return Decision(verdict=kind, reasons=list(reasons), criteria=judged, ratios=ratios)

    services = _services(results)
    if candidate not in services or baseline not in services:
        measured = ", ".join(services) or "nothing"
        return verdict(
            INCONCLUSIVE,
            [
                f"one service only: the run measured {measured}, not both {candidate} and {baseline}; "
                "no verdict on migration (the criteria below are still judged)"
            ],
        )

    if reasons := _audit_failures(results, candidate):  # a
        return verdict(
            DO_NOT_MIGRATE,
            [*reasons, "a faster service that loses or doubles replies is not a migration"],
        )
    failed = [r for r in judged if r.service == candidate and r.passed is False]
    if failed:  # b
        return verdict(
            DO_NOT_MIGRATE,
            [f"{candidate} fails criterion '{r.criterion}': {r.detail}" for r in failed],
        )
    comparable = _comparable_levels(results.summaries, candidate, baseline)
    usable_ratios = [r for r in ratios if (r.users, r.arrival_rate) in comparable]
    worse = [_ratio_reason(r, candidate, baseline, "worse") for r in usable_ratios if _worse(r)]
    if worse:  # c
        return verdict(DO_NOT_MIGRATE, worse)
    if reasons := _inconclusive(results, judged, comparable, candidate, baseline):  # d
        return verdict(INCONCLUSIVE, [*reasons, *_advice(results.summaries)])
    wins = [r for r in usable_ratios if _better(r)]
    judged_count = sum(1 for r in judged if r.service == candidate and r.passed)
    uncompared = _uncompared(results.summaries, comparable, candidate, baseline)
    if wins:  # e
        return verdict(
            MIGRATE,
            [
                *(_ratio_reason(r, candidate, baseline, "better") for r in wins),
                (f"{candidate} passes all {judged_count} criteria judged on it" if judged_count
                 else f"no criterion in the criteria file applies to {candidate}")
                + ", with a clean delivery audit at every step",
                *uncompared,
            ],
        )
    return verdict(
        DO_NOT_MIGRATE, [*_no_benefit(usable_ratios, candidate, baseline), *uncompared]
    )  # f


def _services(results: Results) -> list[str]:
    seen = dict.fromkeys(results.settings.services)
    seen.update(dict.fromkeys(s.service for s in results.summaries))
    seen.update(dict.fromkeys(s.service for s in results.steps))
    return list(seen)


def _level(users: int, arrival_rate: float) -> str:
    return f"{arrival_rate:g} req/s" if arrival_rate > 0 else f"{users} users"


def _audit_text(audit: AuditFigures) -> str:
    return (
        f"{audit.lost} lost, {audit.doubled} doubled, {audit.wrong_token} wrong-token and "
        f"{audit.unexpected} unexpected replies (all must be 0) for {audit.expected} acknowledged messages"
    )


def _audit_failures(results: Results, service: str) -> list[str]:
    reasons = [
        f"{service} at {_level(step.users, step.arrival_rate)} (trial {step.trial}): delivery audit failed, "
        + _audit_text(step.audit)
        for step in results.steps
        if step.service == service and step.audit is not None and not step.audit.passed
    ]
    reasons += [
        f"{service} under fault '{fault.fault}': delivery audit failed, {_audit_text(fault.audit)}"
        for fault in results.faults
        if fault.service == service and not fault.audit.passed
    ]
    return reasons


def _comparable_levels(
    summaries: Sequence[StepSummary], candidate: str, baseline: str
) -> set[_Level]:
    def usable(service: str) -> set[_Level]:
        return {(s.users, s.arrival_rate) for s in summaries if s.service == service and s.usable}

    return usable(candidate) & usable(baseline)


def _uncompared(
    summaries: Sequence[StepSummary], comparable: set[_Level], candidate: str, baseline: str
) -> list[str]:
    """Load levels the verdict could not compare, and why: the verdict stands on the others."""
    levels = {(s.users, s.arrival_rate) for s in summaries if s.service in (candidate, baseline)}
    reasons = []
    for users, arrival_rate in sorted(levels - comparable):
        why = [
            f"{s.service} {'not usable: ' + ', '.join(_unusable_causes(s)) if not s.usable else 'usable'}"
            for s in summaries
            if (s.users, s.arrival_rate) == (users, arrival_rate)
            and s.service in (candidate, baseline)
        ]
        ran = {s.service for s in summaries if (s.users, s.arrival_rate) == (users, arrival_rate)}
        why += [f"{service} did not run" for service in (candidate, baseline) if service not in ran]
        reasons.append(f"not compared at {_level(users, arrival_rate)} ({'; '.join(why)})")
    return reasons


def _unusable_causes(summary: StepSummary) -> list[str]:
    return [
        note.removeprefix("not usable: ")
        for note in summary.notes
        if note.startswith("not usable: ")
    ]


def _worse(ratio: Ratio) -> bool:
    value = ratio.value.value
    if not ratio.significant or value is None:
        return False
    if ratio.metric == "p95_ms":
        return value > 1 + PRACTICAL_MARGIN
    return ratio.metric == "throughput_rps" and value < 1 - PRACTICAL_MARGIN


def _better(ratio: Ratio) -> bool:
    value = ratio.value.value
    if not ratio.significant or value is None:
        return False
    if ratio.metric == "p95_ms":
        return value < 1 - PRACTICAL_MARGIN
    return ratio.metric == "throughput_rps" and value > 1 + PRACTICAL_MARGIN


def _ratio_text(ratio: Ratio) -> str:
    # Rounded against the candidate, interval outwards (see harness.report.format).
    estimate, better = ratio.value, "higher" if ratio.metric == "throughput_rps" else "lower"
    details = []
    if estimate.ci_low is not None and estimate.ci_high is not None:
        details.append(
            f"95% CI {number(estimate.ci_low, 4, 'higher')}..{number(estimate.ci_high, 4, 'lower')}"
        )
    if ratio.p_value is not None:
        p = p_value(ratio.p_value)
        details.append(f"Mann-Whitney p {p}" if p.startswith("<") else f"Mann-Whitney p = {p}")
    text = f"{number(estimate.value, 4, better)} x" if estimate.value is not None else "n/a"
    return text + (f" ({', '.join(details)})" if details else "")


def _ratio_reason(ratio: Ratio, candidate: str, baseline: str, direction: str) -> str:
    figure = "p95 latency" if ratio.metric == "p95_ms" else "throughput"
    bound = (
        (1 + PRACTICAL_MARGIN if ratio.metric == "p95_ms" else 1 - PRACTICAL_MARGIN)
        if direction == "worse"
        else (1 - PRACTICAL_MARGIN if ratio.metric == "p95_ms" else 1 + PRACTICAL_MARGIN)
    )
    comparison = ">" if (ratio.metric == "p95_ms") == (direction == "worse") else "<"
    return (
        f"at {_level(ratio.users, ratio.arrival_rate)}: {candidate} {figure} is {_ratio_text(ratio)} "
        f"{baseline}'s, significantly {direction} (ratio {comparison} {bound:g})"
    )


def _inconclusive(
    results: Results,
    judged: Sequence[CriterionResult],
    comparable: set[_Level],
    candidate: str,
    baseline: str,
) -> list[str]:
    reasons = _audit_failures(results, baseline)
    if reasons:
        reasons.append(
            f"the baseline {baseline} loses or doubles replies: the bench cannot be trusted; check the upstream log"
        )
    unaudited = [s for s in results.steps if s.service == candidate and s.audit is None]
    if unaudited:
        where = ", ".join(f"{_level(s.users, s.arrival_rate)} trial {s.trial}" for s in unaudited)
        reasons.append(
            f"{candidate}'s replies were not audited at {where}: its delivery is unproven"
        )
    if not results.complete:
        reasons.append(
            f"the run stopped early ({results.incomplete_reason or 'no reason recorded'})"
        )
    if not comparable:
        reasons.append(f"no load level has usable data for both {candidate} and {baseline}")
    unjudged: dict[str, list[str]] = {}  # one reason per cause, naming every criterion it hides
    for r in judged:
        if r.service == candidate and r.passed is None and r.applicable:
            unjudged.setdefault(r.detail.removesuffix("; cannot be judged"), []).append(
                f"'{r.criterion}'"
            )
    reasons += [
        f"{cause}: {len(names)} criteria could not be judged for {candidate} ({', '.join(names)})"
        if len(names) > 1
        else f"{cause}: criterion {names[0]} could not be judged for {candidate}"
        for cause, names in unjudged.items()
    ]
    return reasons


def _advice(summaries: Sequence[StepSummary]) -> list[str]:
    todo: dict[str, None] = {}
    for summary in summaries:
        if summary.usable:
            continue
        for component in summary.bound_by:
            todo[
                f"{BOUND_LABELS[component]} saturated at {_level(summary.users, summary.arrival_rate)} "
                f"({summary.service}): {_ADVICE[component]}"
            ] = None
        if any("requests (<" in note for note in summary.notes):
            todo["too few requests per step: run longer steps or more trials"] = None
        if any("did not run to their end" in note for note in summary.notes):
            todo["some steps did not finish: rerun them (see the run's log)"] = None
    return [f"to decide: {item}" for item in todo]


def _no_benefit(usable_ratios: Sequence[Ratio], candidate: str, baseline: str) -> list[str]:
    reasons = [
        f"no measurable benefit: at no load level usable for both was {candidate}'s p95 significantly "
        f"below {1 - PRACTICAL_MARGIN:g} x {baseline}'s, nor its throughput significantly above "
        f"{1 + PRACTICAL_MARGIN:g} x"
    ]
    for ratio in usable_ratios:
        if ratio.metric in ("p95_ms", "throughput_rps"):
            figure = "p95 latency" if ratio.metric == "p95_ms" else "throughput"
            verdict = "significant" if ratio.significant else "not significant"
            reasons.append(
                f"at {_level(ratio.users, ratio.arrival_rate)}: {figure} ratio {_ratio_text(ratio)}, {verdict}"
            )
    return reasons
