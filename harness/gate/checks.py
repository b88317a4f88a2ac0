"""The gate's checks: one row per criterion x service x load level, delivery audit and regression.

Every check ends in one of these outcomes, and the outcomes alone give the gate's exit code:
``fail`` fails the gate; ``not judged`` holds it at inconclusive (a criterion this machine could
have judged and did not, a possible regression that cannot be confirmed); the others never hold
it up: ``target`` is a criterion whose load needs more machine than this one, or a level the run
left out (:data:`harness.terms.TARGET_REASONS`): the run's second answer, the target load, has
it; ``advisory`` is a latency rise across two runs that their requests cannot confirm (see
:mod:`.regression`); ``skipped`` is not judged by design (no cache, ``when_missing = "skip"``,
the bench's own echo app, latency where the service filled its CPUs); ``pass`` passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..analysis import Criteria, evaluate
from ..metrics import FRACTION_METRICS, LATENCY_METRICS, METRIC_LABELS, METRIC_UNITS, higher_is_better
from ..results import AuditFigures, CriterionResult, Estimate, LevelSummary, Results
from ..rounding import Better, estimate, number, percent
from ..terms import ECHO, TARGET_REASONS, CriterionReason, load_label
from ..terms import Outcome as CriterionOutcome
from .regression import ACROSS_RUNS_FACTOR, Regression

__all__ = [
    "EXCLUDED_SERVICES",
    "GateCheck",
    "CheckOutcome",
    "Suite",
    "audit_checks",
    "completeness_check",
    "criteria_checks",
    "regression_checks",
]

CheckOutcome = Literal["pass", "fail", "not judged", "target", "advisory", "skipped"]
Suite = Literal["run", "criteria", "audit", "regression", "side by side"]

# The bench's reference app: its figures describe the machine, never the code under test.
EXCLUDED_SERVICES = frozenset({ECHO})


@dataclass(frozen=True)
class GateCheck:
    """One judged row, already worded for people: the console, Markdown and JUnit all print it."""

    suite: Suite
    name: str
    service: str
    load: str
    value: str
    threshold: str
    result: str  # the label shown: PASS, FAIL, NOT JUDGED, N/A, REGRESSION, IMPROVED, NO CHANGE
    outcome: CheckOutcome
    detail: str = ""
    metric: str | None = None  # the metric a regression check compared (for logic: the name is worded)
    cause: CriterionReason | None = None  # a criterion's: why it was judged as it was (for logic)


# -- the run itself -----------------------------------------------------------------------------
def completeness_check(results: Results) -> GateCheck:
    """A run that stopped early cannot pass: the steps it never ran were never judged."""
    row = {"suite": "run", "name": "run completed", "service": "all", "load": "all", "threshold": "complete"}
    if results.complete:
        return GateCheck(
            **row,
            value="complete",
            result="PASS",
            outcome="pass",
            detail=f"{len(results.steps)} steps ran to their end",
        )
    reason = results.incomplete_reason or "no reason recorded"
    return GateCheck(
        **row,
        value="INCOMPLETE",
        result="NOT JUDGED",
        outcome="not judged",
        detail=f"the run stopped early ({reason}); figures cover only the steps that ran",
    )


# -- criteria -----------------------------------------------------------------------------------
def criteria_checks(results: Results, criteria: Criteria) -> list[GateCheck]:
    """Judge ``criteria`` on ``results`` (harness.criteria.evaluate) and word each result."""
    return [_criterion_check(judged, results) for judged in evaluate(criteria, results)]


_CRITERION_OUTCOMES: dict[CriterionOutcome, tuple[CheckOutcome, str]] = {
    CriterionOutcome.PASS: ("pass", "PASS"),
    CriterionOutcome.FAIL: ("fail", "FAIL"),
    CriterionOutcome.NOT_APPLICABLE: ("skipped", "N/A"),
    CriterionOutcome.NOT_JUDGED: ("not judged", "NOT JUDGED"),
}


def _criterion_outcome(judged: CriterionResult) -> tuple[CheckOutcome, str]:
    if judged.outcome is CriterionOutcome.NOT_JUDGED and judged.reason in TARGET_REASONS:
        return "target", "TARGET LOAD"  # the second answer's, never the gate's
    return _CRITERION_OUTCOMES[judged.outcome]


def _target_detail(judged: CriterionResult, results: Results) -> str:
    target = results.target_for(judged.service)
    answer = f"{target.status.value}, {target.basis}" if target is not None else "not computed"
    return f"not judged here: the target-load answer has it ({answer}); {judged.detail}"


def _criterion_check(judged: CriterionResult, results: Results) -> GateCheck:
    outcome, label = _criterion_outcome(judged)
    relative, metric, baseline = judged.baseline is not None, judged.metric, judged.baseline or ""
    summary = _summary(results, judged.service, judged.users)
    interval = (
        _ratio_estimate(results, judged, metric, baseline)
        if relative
        else (getattr(summary, metric, None) if summary is not None else None)
    )
    interval = interval if isinstance(interval, Estimate) else None
    better: Better = judged.better  # rounded against the service
    shown = judged.value
    if shown is None and relative and interval is not None:
        shown = interval.value  # the run's own ratio: informative even where it cannot be judged
    value = _value_text(metric, relative, shown, interval, better)
    threshold = (
        f"{judged.op} {judged.threshold:g} x {baseline}"
        if relative
        else f"{judged.op} {_threshold_text(metric, judged.threshold)}"
    )
    detail = _target_detail(judged, results) if outcome == "target" else judged.detail
    if outcome in ("pass", "fail") and _threshold_inside(judged.threshold, interval):
        detail += "; the threshold lies inside the 95% CI: a re-run may judge it otherwise"
    return GateCheck(
        suite="criteria",
        name=judged.criterion,
        service=judged.service,
        load=_load_text(results, judged.users, summary),
        value=value,
        threshold=threshold,
        result=label,
        outcome=outcome,
        detail=detail,
        cause=judged.reason,
    )


def _summary(results: Results, service: str, users: int | None) -> LevelSummary | None:
    if users is None:
        return None
    matches = [s for s in results.summaries if s.service == service and s.users == users]
    return matches[0] if len(matches) == 1 else None  # open loop: several rates share users = 0


def _ratio_estimate(results: Results, judged: CriterionResult, metric: str, baseline: str) -> Estimate | None:
    """The interval of a relative criterion's ratio, when the run's own ratios computed it."""
    decision = results.decision_for(judged.service)
    if decision is None or decision.baseline != baseline:
        return None
    matches = [r.value for r in decision.ratios if r.metric == metric and r.users == judged.users]
    return matches[0] if len(matches) == 1 else None


def _decimals(value: float | None) -> int:
    return 2 if value is not None and abs(value) < 10 else 1


def _figure_text(metric: str, value: float | None, better: Better = "lower") -> str:
    if metric in FRACTION_METRICS:
        return percent(value, 3, better)
    return number(value, _decimals(value), better)


def _threshold_text(metric: str, threshold: float) -> str:
    # As written in the criteria file, never rounded: a rounded threshold would misstate the rule.
    return f"{threshold * 100:.10g} %" if metric in FRACTION_METRICS else f"{threshold:.10g}"


def _value_text(metric: str, relative: bool, value: float | None, interval: Estimate | None, better: Better) -> str:
    low, high = (interval.ci_low, interval.ci_high) if interval is not None else (None, None)
    if relative:
        return estimate(value, low, high, 4, better)
    if metric in FRACTION_METRICS:
        return _figure_text(metric, value, better)
    if value is not None and low is None and float(value).is_integer():
        return f"{value:.0f}"  # a count (connections): no decimals to round
    return estimate(value, low, high, _decimals(value), better)


def _threshold_inside(threshold: float, interval: Estimate | None) -> bool:
    if interval is None or interval.ci_low is None or interval.ci_high is None:
        return False
    return interval.ci_low <= threshold <= interval.ci_high


def _load_text(results: Results, users: int | None, summary: LevelSummary | None) -> str:
    if users is None:
        return "whole run"
    if summary is not None:
        return load_label(summary.users, summary.arrival_rate)
    return "open loop" if users == 0 and results.settings.arrival_rates else f"{users} users"


# -- delivery audit -----------------------------------------------------------------------------
def audit_checks(results: Results) -> list[GateCheck]:
    """Per service and load level: every acknowledged message answered exactly once, with the
    business's own token. A faster service that loses replies must not pass a gate."""
    return list(_audit_checks(results, results.summaries))


def _audit_checks(results: Results, summaries: Sequence[LevelSummary]) -> Iterator[GateCheck]:
    for summary in summaries:
        if summary.service in EXCLUDED_SERVICES:
            continue
        level = (summary.service, summary.users, summary.arrival_rate)
        audits = [
            step.audit
            for step in results.steps
            if (step.service, step.users, step.arrival_rate) == level and step.audit is not None
        ]
        row = {
            "suite": "audit",
            "name": "delivery audit",
            "service": summary.service,
            "load": load_label(summary.users, summary.arrival_rate),
            "threshold": "0 lost, doubled, wrong-token, unexpected",
        }
        if not audits:
            yield GateCheck(
                **row,
                value="not audited",
                result="N/A",
                outcome="skipped",
                detail="the fake upstream did not audit this level's replies",
            )
            continue
        total = _sum_audits(audits)
        delivered = f"{total.delivered}/{total.expected} delivered"
        if total.passed:
            yield GateCheck(
                **row,
                value=delivered,
                result="PASS",
                outcome="pass",
                detail=f"{delivered}; no lost, doubled, wrong-token or unexpected reply",
            )
            continue
        faults = {
            "lost": total.lost,
            "doubled": total.doubled,
            "wrong-token": total.wrong_token,
            "unexpected": total.unexpected,
        }
        found = ", ".join(f"{n} {what}" for what, n in faults.items() if n)
        yield GateCheck(
            **row,
            value=found,
            result="FAIL",
            outcome="fail",
            detail=f"{found} replies for {total.expected} acknowledged messages",
        )


def _sum_audits(audits: Iterable[AuditFigures]) -> AuditFigures:
    audits = list(audits)
    return AuditFigures(**{name: sum(getattr(a, name) for a in audits) for name in AuditFigures.model_fields})


# -- regression against a baseline --------------------------------------------------------------
_REGRESSION_LABELS: dict[str, tuple[str, CheckOutcome]] = {
    "regression": ("REGRESSION", "fail"),
    "advisory": ("ADVISORY", "advisory"),
    "improvement": ("IMPROVED", "pass"),
    "no change": ("NO CHANGE", "pass"),
    "set aside": ("N/A (saturated)", "skipped"),
}


def regression_checks(regressions: Iterable[Regression]) -> list[GateCheck]:
    return [_regression_check(r) for r in regressions]


def _regression_threshold(regression: Regression) -> str:
    margin = regression.margin
    if higher_is_better(regression.metric):
        return f">= {1 - margin:g} x, or not significant"
    if regression.metric in LATENCY_METRICS and regression.verdict == "set aside":
        return "not judged where the service filled its CPUs"
    if regression.advisory_only:
        return f"<= {1 + margin:g} x (advisory to {1 + ACROSS_RUNS_FACTOR * margin:g} x)"
    return f"<= {1 + margin:g} x, or not significant"


def _regression_check(regression: Regression) -> GateCheck:
    metric = regression.metric
    better: Better = "higher" if higher_is_better(metric) else "lower"
    ratio = regression.ratio
    value = estimate(ratio.value, ratio.ci_low, ratio.ci_high, 3, better) + " x"
    unit = METRIC_UNITS.get(metric, "")
    label = METRIC_LABELS.get(metric, metric)
    figures = (
        f"{label} {number(regression.current, _decimals(regression.current), better)} {unit} vs "
        f"{number(regression.baseline, _decimals(regression.baseline), better)} {unit} in the baseline"
    )
    detail = f"{figures}: {regression.reason} [{regression.method}]"
    if regression.verdict == "not judged":
        result, outcome = ("NOT JUDGED", "not judged") if regression.suspect else ("N/A", "skipped")
    else:
        result, outcome = _REGRESSION_LABELS[regression.verdict]
    if regression.service in EXCLUDED_SERVICES and outcome in ("fail", "not judged", "advisory"):
        # The echo app is the machine's ceiling: its change describes the machine, not the code.
        result, outcome = f"{result} (machine)", "skipped"
        detail += "; the echo app measures the machine: never a failure, but a reason to doubt the others"
    return GateCheck(
        suite="regression",
        name=f"{label} vs baseline",
        service=regression.service,
        load=load_label(regression.users, regression.arrival_rate),
        value=value,
        threshold=_regression_threshold(regression),
        result=result,
        outcome=outcome,
        detail=detail,
        metric=metric,
    )
