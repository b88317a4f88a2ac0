"""The success criteria: an editable TOML file, and judging a run's results against it.

The format is documented in the packaged ``criteria.toml`` (the default). :func:`evaluate`
works on any :class:`~harness.results.Results`, with one service or several, so the decision
and the CI gate share it. Every result has an :class:`~harness.terms.Outcome` and a
:class:`~harness.terms.CriterionReason`: ``not_judged`` holds a verdict at inconclusive unless
its reason is the target-load answer's (:data:`~harness.terms.TARGET_REASONS`: the machine is
too small for it, or the run left its level out), ``not_applicable`` never holds anything up (a
service without a cache, missing data under ``when_missing = "skip"``, a service absent from the
run). The rules: docs/compare.md.
"""

from __future__ import annotations

import operator
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..metrics import CPU_BOUND_METRICS, DATABASE_BOUND_METRICS
from ..results import CriterionResult, Estimate, FaultResult, LevelSummary, Results, SoakResult
from ..terms import ECHO, Component, CriterionReason, Outcome, Unusable, load_label
from .projection import CpuNeed, bench_short_of_cpu, cpu_need, short_of_cpu
from .steps import DATABASE_SLOW_FACTOR

__all__ = [
    "DEFAULT_CRITERIA_FILE",
    "FAULT_METRICS",
    "OPERATORS",
    "RSS_SLOPE_METRIC",
    "SUMMARY_METRICS",
    "Criteria",
    "CriteriaError",
    "Criterion",
    "RelativeCriterion",
    "evaluate",
    "load_criteria",
    "summary_metric",
    "variant_has_cache",
]

DEFAULT_CRITERIA_FILE = "criteria.toml"  # packaged beside this module
RSS_SLOPE_METRIC = "rss_slope_mb_per_min"
# Judged on a fault run's findings (harness chaos), one per fault step: the doubles a fault
# explains by its nature, as a share of what it exposed to them.
FAULT_METRICS: tuple[str, ...] = FaultResult.METRICS
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_IDENTITY_FIELDS = {"users", "arrival_rate", "trials"}
_EXCLUDED_SERVICES = {ECHO}  # the bench's own reference app is never judged by default


def _is_figure(annotation: Any) -> bool:
    kinds = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) else {annotation}
    kinds.discard(type(None))
    return bool(kinds) and kinds <= {Estimate, float, int}


# Every numeric figure of a LevelSummary can be a criterion's metric.
SUMMARY_METRICS: tuple[str, ...] = tuple(
    name
    for name, field in LevelSummary.model_fields.items()
    if name not in _IDENTITY_FIELDS and _is_figure(field.annotation)
)


class CriteriaError(ValueError):
    """The criteria file is unreadable or malformed; the message names the table and key."""


Op = Literal["<", "<=", ">", ">="]
WhenMissing = Literal["inconclusive", "skip"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Criterion(_Table):
    name: str
    metric: str
    op: Op
    threshold: float
    services: list[str] | None = None
    at_users: int | None = None
    when_missing: WhenMissing = "inconclusive"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        known = (*SUMMARY_METRICS, RSS_SLOPE_METRIC, *FAULT_METRICS)
        if metric not in known:
            raise ValueError(f"unknown metric; use one of {', '.join(known)}")
        return metric


class RelativeCriterion(_Table):
    name: str
    metric: str
    service: str
    baseline: str
    op: Op
    factor: float
    when_missing: WhenMissing = "inconclusive"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in SUMMARY_METRICS:
            raise ValueError(f"unknown metric; use one of {', '.join(SUMMARY_METRICS)}")
        return metric


class Criteria(_Table):
    absolute: list[Criterion] = Field([], alias="criterion")
    relative: list[RelativeCriterion] = []
    source: str = Field("", description="the file they were read from")


def load_criteria(path: Path | str | None = None) -> Criteria:
    """Read a criteria file; None reads the packaged default. Raises :class:`CriteriaError`."""
    if path is None:
        resource = resources.files("harness").joinpath(DEFAULT_CRITERIA_FILE)
        text, source = resource.read_text(encoding="utf-8"), f"harness/{DEFAULT_CRITERIA_FILE} (default)"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CriteriaError(f"{source}: cannot read the criteria file ({error.strerror})") from error
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CriteriaError(f"{source}: not valid TOML: {error}") from error
    try:
        criteria = Criteria.model_validate({**raw, "source": source})
    except ValidationError as error:
        raise CriteriaError(_explain(source, raw, error)) from None
    if not criteria.absolute and not criteria.relative:
        raise CriteriaError(f"{source}: no [[criterion]] or [[relative]] table")
    return criteria


def _explain(source: str, raw: dict[str, Any], error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = item["loc"]
        table = location[0] if location else "?"
        if len(location) == 1 and item["type"] == "extra_forbidden":
            problems.append(f"unknown table or key {table!r} (use [[criterion]] or [[relative]])")
        elif len(location) == 1:
            problems.append(f"{table!r} must be an array of tables ([[{table}]]): {item['msg']}")
        else:
            index = location[1]
            entry = raw.get(table, [])
            name = entry[index].get("name") if isinstance(entry, list) and isinstance(entry[index], dict) else None
            label = f"[[{table}]] #{index + 1}" + (f" ({name!r})" if name else "")
            key = ".".join(str(part) for part in location[2:]) or "(table)"
            message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
            problems.append(f"{label}, key {key!r}: {message}")
    return f"{source}: " + "; ".join(problems)


# -- judging ------------------------------------------------------------------------------------
def summary_metric(summary: LevelSummary, metric: str) -> float | None:
    """The value of one figure of a summary (an :class:`Estimate`'s point value)."""
    value = getattr(summary, metric)
    if isinstance(value, Estimate):
        value = value.value
    return None if value is None else float(value)


def evaluate(criteria: Criteria, results: Results) -> list[CriterionResult]:
    services = _run_services(results)
    judged: list[CriterionResult] = []
    for criterion in criteria.absolute:
        for service in criterion.services or [s for s in services if s not in _EXCLUDED_SERVICES]:
            judged.extend(_judge(criterion, service, results, services))
    for relative in criteria.relative:
        judged.extend(_judge_relative(relative, results, services))
    return judged


def _run_services(results: Results) -> list[str]:
    seen = dict.fromkeys(results.settings.services)
    seen.update(dict.fromkeys(s.service for s in results.summaries))
    return list(seen)


def _result(
    criterion: Criterion,
    service: str,
    users: int | None,
    value: float | None,
    outcome: Outcome,
    reason: CriterionReason,
    detail: str,
    arrival_rate: float = 0.0,
) -> CriterionResult:
    return CriterionResult(
        criterion=criterion.name,
        service=service,
        users=users,
        arrival_rate=arrival_rate,
        metric=criterion.metric,
        op=criterion.op,
        threshold=criterion.threshold,
        value=value,
        outcome=outcome,
        reason=reason,
        detail=detail,
    )


def _missing(criterion: Criterion | RelativeCriterion, detail: str) -> tuple[Outcome, str]:
    """The outcome and detail of a criterion that could not be judged."""
    if criterion.when_missing == "skip":
        return Outcome.NOT_APPLICABLE, f"{detail}; not judged (when_missing = skip)"
    return Outcome.NOT_JUDGED, detail


def _verdict(passed: bool) -> Outcome:
    return Outcome.PASS if passed else Outcome.FAIL


def _judge(criterion: Criterion, service: str, results: Results, services: Sequence[str]) -> Iterator[CriterionResult]:
    if service not in services:
        yield _result(
            criterion,
            service,
            criterion.at_users,
            None,
            Outcome.NOT_APPLICABLE,
            CriterionReason.SERVICE_ABSENT,
            f"{service} is not in this run",
        )
        return
    if criterion.metric == RSS_SLOPE_METRIC:
        yield from _judge_soak(criterion, service, results.soak)
        return
    if criterion.metric in FAULT_METRICS:
        yield from _judge_faults(criterion, service, results.faults)
        return
    levels = [s for s in results.summaries if s.service == service and criterion.at_users in (None, s.users)]
    if not levels:
        where = f" at {criterion.at_users} users" if criterion.at_users is not None else ""
        measured = any(s.service == service for s in results.summaries)
        open_loop = any(s.arrival_rate > 0 for s in results.summaries if s.service == service)
        if where and open_loop:  # open-loop steps have no user count to match
            where += " (an open-loop run: remove at_users or judge it in a closed-loop run)"
        # A load level the run left out is the target-load answer's to project, not a gap in the
        # verdict: this run measured the service, only not at that level.
        reason = CriterionReason.TARGET_NOT_RUN if where and measured else CriterionReason.NO_STEP
        outcome, detail = _missing(criterion, f"no measured step of {service}{where}")
        yield _result(criterion, service, criterion.at_users, None, outcome, reason, detail)
        return
    for summary in levels:
        yield _judge_level(criterion, summary, results)


def variant_has_cache(results: Results, service: str) -> bool | None:
    """Whether the variant has a business cache, from its choices (None: not a known variant)."""
    variant = results.settings.variants.get(service)
    if variant is None or "BUSINESS_CACHE" not in variant.choices:
        return None
    return variant.choices["BUSINESS_CACHE"] != "none"


def _serves_metrics(results: Results, service: str) -> bool:
    variant = results.settings.variants.get(service)
    return variant is not None and variant.choices.get("OPERATIONS_ROUTES") == "on"


def _database_bound(summary: LevelSummary) -> bool:
    return any(
        issue.code is Unusable.BENCH_BOUND and issue.component is Component.DATABASE for issue in summary.unusable
    )


def _needs_more_cpu(criterion: Criterion, summary: LevelSummary, results: Results) -> CpuNeed | None:
    """The projection when the level ran short of CPU for a figure that CPU decides, and the
    service needs more CPUs than it had."""
    if criterion.metric not in CPU_BOUND_METRICS or not short_of_cpu(summary):
        return None
    need = cpu_need(results, summary)
    had = max(len(results.settings.bench.service_cpus), 1)
    return need if need is not None and need.service_cpus > had else None


def _short_of_machine(summary: LevelSummary) -> str | None:
    """Why an unusable level says nothing about the design, when the machine is too small for it:
    the bench's CPUs, the shared machine or the database ran out (never a disturbance, a short
    step or a saturated load generator, which this machine can fix, even where the service also
    filled its CPUs)."""
    if not bench_short_of_cpu(summary):
        return None
    return "; ".join(issue.detail for issue in summary.unusable)


def _judge_level(criterion: Criterion, summary: LevelSummary, results: Results) -> CriterionResult:
    has_cache = variant_has_cache(results, summary.service)
    value = summary_metric(summary, criterion.metric)
    level = _level_name(summary)

    def result(value: float | None, outcome: Outcome, reason: CriterionReason, detail: str) -> CriterionResult:
        return _result(criterion, summary.service, summary.users, value, outcome, reason, detail, summary.arrival_rate)

    if criterion.metric == "cache_hit_rate" and summary.has_cache is False:
        if has_cache and _serves_metrics(results, summary.service):
            # A saturated service queues /metrics behind its webhook requests: the figure exists,
            # this run could not read it. Where it filled its CPUs, more of them would answer.
            detail = f"not judged: {summary.service}'s /metrics did not answer in time at {level}"
            if summary.service_saturated or _short_of_machine(summary):
                detail += " (the level ran short of CPU: the target-load answer has it)"
                return result(None, Outcome.NOT_JUDGED, CriterionReason.NEEDS_MORE_CPU, detail)
            return result(None, Outcome.NOT_JUDGED, CriterionReason.METRICS_UNANSWERED, detail)
        if has_cache:  # it has one, but no /metrics to read the hit rate from
            detail = f"not measured: {summary.service} serves no /metrics to read its cache's hit rate from"
            return result(None, Outcome.NOT_APPLICABLE, CriterionReason.NO_METRICS, detail)
        detail = f"not applicable: {summary.service} has no cache"
        return result(None, Outcome.NOT_APPLICABLE, CriterionReason.NO_CACHE, detail)
    if not summary.usable:
        why = "; ".join(issue.detail for issue in summary.unusable)
        if summary.slowed_by_bench and value is not None and OPERATORS[criterion.op](value, criterion.threshold):
            # The bench only made the service look worse; passing anyway is a fair pass.
            detail = (
                f"{level}: {criterion.metric} = {value:.10g} meets {criterion.op} "
                f"{criterion.threshold:.10g} even though the bench slowed the service ({why})"
            )
            return result(value, Outcome.PASS, CriterionReason.SLOWED_BY_BENCH, detail)
        if criterion.metric in DATABASE_BOUND_METRICS and _database_bound(summary):
            # A pool grows with the database's latency: the bench's database, not the design, set it.
            detail = f"{level}: the database was the bound ({why}); a connection count taken then is not judged"
            outcome, detail = _missing(criterion, detail)
            return result(value, outcome, CriterionReason.DATABASE_BOUND, detail)
        if need := _needs_more_cpu(criterion, summary, results):
            outcome, detail = _missing(criterion, f"{level} ran short of CPU ({why}): {need.describe()}")
            return result(value, outcome, CriterionReason.NEEDS_MORE_CPU, detail)
        if _short_of_machine(summary):
            # The bench's side of this machine ran out (its CPUs, the database): a bigger machine
            # or a real database judges it; the target-load answer projects it.
            outcome, detail = _missing(criterion, f"{level} ran short of machine ({why})")
            return result(value, outcome, CriterionReason.NEEDS_MORE_CPU, detail)
        outcome, detail = _missing(criterion, f"{level} is not usable ({why})")
        return result(value, outcome, CriterionReason.LEVEL_UNUSABLE, detail)
    if value is None:
        outcome, detail = _missing(criterion, f"{criterion.metric} not measured {level}")
        return result(None, outcome, CriterionReason.NOT_MEASURED, detail)
    passed = OPERATORS[criterion.op](value, criterion.threshold)
    verb = "meets" if passed else "fails"
    detail = f"{level}: {criterion.metric} = {value:.10g} {verb} {criterion.op} {criterion.threshold:.10g}"
    if not passed and (need := _needs_more_cpu(criterion, summary, results)):
        # It filled its CPUs and the load needs more of them: this machine cannot judge it.
        outcome, detail = _missing(criterion, f"{detail} with the service's CPUs full: {need.describe()}")
        return result(value, outcome, CriterionReason.NEEDS_MORE_CPU, detail)
    if (
        not passed
        and criterion.metric in DATABASE_BOUND_METRICS
        and (queued := _embedded_database_queued(results, summary))
    ):
        # A pool grows with the database's latency, and the embedded database's under load is the
        # bench's, not production's: a real database (MONGODB_URI) judges the count. A pass stands.
        outcome, detail = _missing(
            criterion, f"{detail} while {queued.describe()}; a real database (MONGODB_URI) judges it"
        )
        return result(value, outcome, CriterionReason.DATABASE_BOUND, detail)
    return result(value, _verdict(passed), CriterionReason.MEASURED, detail)


@dataclass(frozen=True)
class _DatabaseQueue:
    """The embedded database's one-document read at a level where it queued: p90 and idle (ms)."""

    p90_ms: float
    idle_ms: float

    def describe(self) -> str:
        return (
            f"the embedded database queued (a one-document read: {self.p90_ms:.1f} ms at p90, "
            f"{self.p90_ms / self.idle_ms:.0f}x idle)"
        )


def _embedded_database_queued(results: Results, summary: LevelSummary) -> _DatabaseQueue | None:
    """How the embedded database queued at the level: its one-document read took
    DATABASE_SLOW_FACTOR x its idle time at p90 (the step guard's factor, without its floor, which
    keeps the level's other figures usable); None where it did not, or the database is external."""
    if not results.settings.bench.embedded_database:
        return None
    idle = next(
        (
            step.database.probe_idle_ms
            for step in results.steps
            if step.service == summary.service and step.database is not None and step.database.probe_idle_ms
        ),
        None,
    )
    p90 = summary.database_probe_p90_ms
    if idle is None or p90 is None or p90 < DATABASE_SLOW_FACTOR * idle:
        return None
    return _DatabaseQueue(p90, idle)


def _judge_soak(criterion: Criterion, service: str, soaks: Sequence[SoakResult]) -> Iterator[CriterionResult]:
    mine = [s for s in soaks if s.service == service and criterion.at_users in (None, s.users)]
    if not mine:
        outcome, detail = _missing(criterion, f"no soak results for {service}")
        yield _result(criterion, service, criterion.at_users, None, outcome, CriterionReason.NO_SOAK, detail)
        return
    for soak in mine:
        # The interval's low end: memory fails the criterion when growth is shown, not when
        # noise merely allows it.
        judged = soak.rss_slope_ci[0] if soak.rss_slope_ci else soak.rss_slope_mb_per_min
        passed = OPERATORS[criterion.op](judged, criterion.threshold)
        interval = (
            f" (95% CI {soak.rss_slope_ci[0]:g}..{soak.rss_slope_ci[1]:g}; judged on its low end)"
            if soak.rss_slope_ci
            else " (no interval; judged on the slope)"
        )
        detail = (
            f"soak of {soak.duration_s:g} s at {soak.users} users: RSS slope {soak.rss_slope_mb_per_min:g} MB/min"
            f"{interval}"
        )
        yield _result(criterion, service, soak.users, judged, _verdict(passed), CriterionReason.MEASURED, detail)


def _judge_faults(criterion: Criterion, service: str, faults: Sequence[FaultResult]) -> Iterator[CriterionResult]:
    measured = [
        (fault, value)
        for fault in faults
        if fault.service == service
        and criterion.at_users in (None, fault.users)
        and (value := fault.figure(criterion.metric)) is not None
    ]
    if not measured:
        outcome, detail = _missing(criterion, f"no fault run of {service} measures {criterion.metric}")
        yield _result(criterion, service, criterion.at_users, None, outcome, CriterionReason.NOT_MEASURED, detail)
        return
    for fault, value in measured:
        passed = OPERATORS[criterion.op](value, criterion.threshold)
        audit = fault.audit
        if criterion.metric == "doubled_in_crash_window_share":
            what = (
                f"{audit.doubled_in_crash_window} of {fault.messages_cut} messages cut by {fault.kills} kills doubled"
            )
        else:
            what = f"{audit.doubled_at_timeout_edge} of {fault.edge_sends} sends answered at the timeout's edge doubled"
        detail = (
            f"{service} under fault '{fault.fault}' at {load_label(fault.users or 0, fault.arrival_rate)} "
            f"(trial {fault.trial}): {what}, {criterion.metric} = {value:.4g} "
            f"{'meets' if passed else 'fails'} {criterion.op} {criterion.threshold:.10g}"
        )
        yield _result(
            criterion,
            service,
            fault.users,
            value,
            _verdict(passed),
            CriterionReason.MEASURED,
            detail,
            fault.arrival_rate,
        )


def _judge_relative(
    relative: RelativeCriterion, results: Results, services: Sequence[str]
) -> Iterator[CriterionResult]:
    def result(
        summary: LevelSummary | None, value: float | None, outcome: Outcome, reason: CriterionReason, detail: str
    ) -> CriterionResult:
        return CriterionResult(
            criterion=relative.name,
            service=relative.service,
            users=summary.users if summary else None,
            arrival_rate=summary.arrival_rate if summary else 0.0,
            metric=relative.metric,
            baseline=relative.baseline,
            op=relative.op,
            threshold=relative.factor,
            value=value,
            outcome=outcome,
            reason=reason,
            detail=detail,
        )

    absent = [s for s in (relative.service, relative.baseline) if s not in services]
    if absent:
        detail = f"{' and '.join(absent)} not in this run"
        yield result(None, None, Outcome.NOT_APPLICABLE, CriterionReason.SERVICE_ABSENT, detail)
        return
    baselines = {(s.users, s.arrival_rate): s for s in results.summaries if s.service == relative.baseline}
    pairs = [
        (s, baselines[(s.users, s.arrival_rate)])
        for s in results.summaries
        if s.service == relative.service and (s.users, s.arrival_rate) in baselines
    ]
    if not pairs:
        outcome, detail = _missing(relative, f"no load level with both {relative.service} and {relative.baseline}")
        yield result(None, None, outcome, CriterionReason.NO_STEP, detail)
        return
    for candidate, baseline in pairs:
        level = _level_name(candidate)
        top, bottom = (
            summary_metric(candidate, relative.metric),
            summary_metric(baseline, relative.metric),
        )
        if not (candidate.usable and baseline.usable):
            unusable = [s for s in (candidate, baseline) if not s.usable]
            if all(_short_of_machine(s) for s in unusable):
                # The machine is too small for the level (its bench CPUs or the database ran out).
                why = "; ".join(f"{s.service}: {_short_of_machine(s)}" for s in unusable)
                outcome, detail = _missing(relative, f"{level}: ran short of machine ({why})")
                yield result(candidate, None, outcome, CriterionReason.NEEDS_MORE_CPU, detail)
                continue
            outcome, detail = _missing(relative, f"{level}: the level is not usable for both services")
            yield result(candidate, None, outcome, CriterionReason.LEVEL_UNUSABLE, detail)
            continue
        if top is None or not bottom:
            outcome, detail = _missing(relative, f"{level}: no {relative.metric} for both services")
            yield result(candidate, None, outcome, CriterionReason.NOT_MEASURED, detail)
            continue
        ratio = top / bottom
        passed = OPERATORS[relative.op](ratio, relative.factor)
        detail = (
            f"{level}: {relative.service} {relative.metric} {top:.10g} / {relative.baseline} {bottom:.10g} = "
            f"{ratio:.10g}, {'meets' if passed else 'fails'} {relative.op} {relative.factor:.10g}"
        )
        yield result(candidate, ratio, _verdict(passed), CriterionReason.MEASURED, detail)


def _level_name(summary: LevelSummary) -> str:
    return f"{summary.service} at {load_label(summary.users, summary.arrival_rate)}"
