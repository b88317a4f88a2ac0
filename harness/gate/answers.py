"""The run's two answers per candidate, read from the same fields the report reads (schema v3).

The verdict (``Results.decisions``: :attr:`Decision.verdict` and its reasons' codes) says whether
the candidate is the better design, from what this machine measured; the target load
(``Results.targets``: :class:`TargetLoad` status and basis) says whether it holds the checklist's
500 users on its deployment, measured or projected. The gate shows both, one line per candidate,
and gates on neither: a CI run judges the change under review with its criteria, its delivery
audit and its regressions, and a candidate known to be worse (the checklist's design) must not
fail every build.

The line is worded as the report's headline (:mod:`harness.report.answers`, which the gate may
not import: docs/architecture.md): the same where a ratio, a failed criterion or no benefit tells
the verdict; otherwise the gate names the first cause by its code, where the report also names
its levels.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.decision import key_ratio
from ..results import Decision, Ratio, Results, TargetLoad
from ..rounding import Better, number
from ..terms import Outcome, ReasonCode, TargetStatus, Verdict, higher_is_better, load_label

__all__ = ["Answer", "run_answers"]

# As the report words them (harness.report.answers; the gate may not import the report).
_SHORT_METRICS = {
    "throughput_rps": "throughput",
    "p95_ms": "p95",
    "p99_ms": "p99",
    "service_cpu_ms_per_request": "CPU/request",
}
# Reasons that tell no cause of their own: context, advice, or said elsewhere on the line.
_NOT_A_CAUSE = frozenset(
    {
        ReasonCode.EXPLANATION,
        ReasonCode.RATIO,
        ReasonCode.NOT_COMPARED,
        ReasonCode.TO_DECIDE,
        ReasonCode.NEEDS_BIGGER_MACHINE,
        ReasonCode.TARGET_ELSEWHERE,
        ReasonCode.KNIFE_EDGE,
        ReasonCode.BOTH_SATURATED,
    }
)


@dataclass(frozen=True)
class Answer:
    """One candidate's two answers (or, in a run without a verdict, one service's target load)."""

    service: str
    verdict: Verdict | None  # None: the run compared no candidate with a baseline
    codes: tuple[ReasonCode, ...]
    target: TargetStatus | None  # None: the run computed no target load for it
    basis: str | None  # "measured" or "projected"
    line: str


def run_answers(results: Results) -> tuple[Answer, ...]:
    """One answer per candidate; a run without candidates (``harness run``): one per service."""
    if results.decisions:
        return tuple(_answer(results, d.candidate, d) for d in results.decisions)
    return tuple(_answer(results, t.service, None) for t in results.targets)


def _answer(results: Results, service: str, decision: Decision | None) -> Answer:
    target = results.target_for(service)
    line = f"{service}: {_verdict_text(results, decision)}; {_target_text(target)}"
    return Answer(
        service=service,
        verdict=decision.verdict if decision else None,
        codes=tuple(r.code for r in decision.reasons) if decision else (),
        target=target.status if target else None,
        basis=target.basis if target else None,
        line=line,
    )


def _comparable(results: Results, decision: Decision) -> set[tuple[int, float]]:
    def usable(service: str) -> set[tuple[int, float]]:
        return {(s.users, s.arrival_rate) for s in results.summaries if s.service == service and s.usable}

    return usable(decision.candidate) & usable(decision.baseline)


def _key_ratio(results: Results, decision: Decision) -> Ratio | None:
    """The analysis's key ratio among the levels usable for both, as the report tells it (a level
    not compared is no evidence)."""
    comparable = _comparable(results, decision)
    ratios = [r for r in decision.ratios if (r.users, r.arrival_rate) in comparable]
    return key_ratio(decision.model_copy(update={"ratios": ratios}))


def _verdict_text(results: Results, decision: Decision | None) -> str:
    if decision is None:
        return "no verdict (the run compared no candidate with a baseline)"
    ratio = _key_ratio(results, decision)
    if ratio is not None and ratio.value.value is not None:
        value = ratio.value.value
        better: Better = "higher" if higher_is_better(ratio.metric) else "lower"  # rounded against the candidate
        shown = f"{number(value, 3 if abs(value) < 0.1 else 2, better)}x"
        metric, where = _SHORT_METRICS.get(ratio.metric, ratio.metric), load_label(ratio.users, ratio.arrival_rate)
        why = f"{shown} {metric} at {where}" if decision.verdict is Verdict.MIGRATE else f"{metric} {shown} at {where}"
    elif decision.verdict is not Verdict.INCONCLUSIVE and decision.with_code(ReasonCode.CRITERION_FAILED):
        failed = list(dict.fromkeys(r.criterion for r in decision.criteria if r.outcome is Outcome.FAIL))
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        why = f"fails '{failed[0]}'{more}" if failed else "fails a criterion"
    elif decision.verdict is Verdict.DO_NOT_MIGRATE and decision.with_code(ReasonCode.NO_BENEFIT):
        why = "no measurable benefit"
    else:  # the first cause, by its code (the report names its levels too)
        causes = [r.code for r in decision.reasons if r.code not in _NOT_A_CAUSE]
        why = causes[0].value.replace("_", " ") if causes else "see its reasons"
    return f"{decision.verdict.value} ({why})"


def _cpus(value: float | None) -> str:
    """CPUs, rounded up (against the service): whole when many or when counted."""
    if value is not None and float(value).is_integer():
        return str(int(value))
    return number(value, 0 if value is not None and value >= 10 else 1, "lower")


def _target_text(target: TargetLoad | None) -> str:
    if target is None:
        return "no target load computed"
    goal = f"the {target.users}-user target"
    cpus = target.service_cpus.value if target.service_cpus else None
    if target.status in (TargetStatus.HOLDS, TargetStatus.FAILS):
        verb = "holds" if target.status is TargetStatus.HOLDS else "misses"
        return f"{verb} {goal} on {_cpus(cpus)} CPUs ({target.basis})"
    if target.status is TargetStatus.UNKNOWN or cpus is None:
        return f"{goal}: not known (nothing trusted to project from)"
    database = target.database_cores.value if target.database_cores else None
    db = f" + {number(database, 1)} DB cores" if database is not None else ""
    fits = "fits" if target.status is TargetStatus.FITS else "exceeds"
    workers = f"{fits} the checklist's {target.deployment_workers} workers"
    return f"{goal} needs ~{_cpus(cpus)} service CPUs{db} ({target.basis}; {workers})"
