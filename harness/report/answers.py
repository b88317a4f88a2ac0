"""The run's two answers per candidate, worded once for every place that shows them: the console
at the end of a run, ``summary.md``, ``report.html``'s first screen and the notebook.

* the **headline**: one line per candidate stating both answers, the verdict with the figure or
  the cause that tells it best, and the target load (measured or projected);
* its **top reasons**: at most :data:`TOP_REASONS`, one line each (about :data:`LINE_LIMIT`
  characters), a reason that repeats per load level merged into one line naming the levels. A
  knife edge and a disturbed machine are always among them. The full sentences stay in
  ``details.md`` and the report;
* the **target-load lines** for the baseline and every candidate: the capacity measured within
  the SLO per service CPU, what the checklist's target needs, measured or projected, the
  projection's assumptions in one short line, and the command that would measure it.

Everything here reads codes and figures (verdicts, reason codes, ratios, criteria, summaries,
target-load fields), never the analysis's sentences. Figures are rounded against the candidate
(:mod:`harness.rounding`), intervals outwards; a projected figure says so.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..analysis.decision import acts_on, key_ratio
from ..metrics import SHORT_LABELS, VERDICT_METRICS, higher_is_better, practical_margin, told_order
from ..results import (
    AuditFigures,
    CriterionResult,
    Decision,
    Estimate,
    LevelSummary,
    Ratio,
    Results,
    TargetLoad,
    UsabilityIssue,
)
from ..rounding import MISSING, Better, number
from ..terms import (
    BENCH_ADVICE,
    COMPONENT_LABELS,
    TARGET_REASONS,
    Component,
    CriterionReason,
    Direction,
    Outcome,
    ReasonCode,
    TargetStatus,
    Unusable,
    Verdict,
    load_label,
)

__all__ = [
    "LINE_LIMIT",
    "TOP_REASONS",
    "VERDICT_TONES",
    "Answer",
    "TargetLine",
    "Tone",
    "answer_lines",
    "answers",
    "issue_text",
    "level_key",
    "levels_text",
    "no_verdict",
    "ratio_text",
    "target_clause",
    "target_heading",
    "target_lines",
]

Tone = Literal["good", "bad", "warn", "neutral", "muted"]
VERDICT_TONES: dict[Verdict, Tone] = {
    Verdict.MIGRATE: "good",
    Verdict.DO_NOT_MIGRATE: "bad",
    Verdict.INCONCLUSIVE: "warn",
}
TOP_REASONS = 5
LINE_LIMIT = 110  # a reason fits a 120-column terminal with its indent
_Level = tuple[int, float]


# -- figures ------------------------------------------------------------------------------------
def level_key(users: int, arrival_rate: float) -> tuple[float, int]:
    """Sort order of load levels: closed loop by users, then open loop by rate."""
    return (arrival_rate, users)


def levels_text(levels: Iterable[_Level]) -> str:
    """ "50, 100 users", "200, 400 req/s", or both kinds: every level named once, in order."""
    ordered = sorted(set(levels), key=lambda level: level_key(*level))
    closed = [str(users) for users, rate in ordered if rate <= 0]
    opened = [f"{rate:g}" for _, rate in ordered if rate > 0]
    parts = ([f"{', '.join(closed)} users"] if closed else []) + ([f"{', '.join(opened)} req/s"] if opened else [])
    return ", ".join(parts)


def _decimals(value: float | None) -> int:
    return 3 if value is not None and abs(value) < 0.1 else 2


def ratio_text(value: Estimate, better: Better, unit: str = "×", interval: bool = True) -> str:
    """ "0.25× [0.22, 0.29]": the ratio rounded against the candidate, its interval outwards."""
    if value.value is None:
        return MISSING
    decimals = _decimals(value.value)
    text = f"{number(value.value, decimals, better)}{unit}"
    if interval and value.ci_low is not None and value.ci_high is not None:
        text += f" [{number(value.ci_low, decimals, 'higher')}, {number(value.ci_high, decimals, 'lower')}]"
    return text


def _short(metric: str) -> str:
    return SHORT_LABELS.get(metric, metric)


def _better(metric: str) -> Better:
    return "higher" if higher_is_better(metric) else "lower"


def _ratio(ratio: Ratio, interval: bool = True) -> str:
    return ratio_text(ratio.value, _better(ratio.metric), "x", interval)


def _places(value: float | None) -> int:
    """Decimals for a rate or a count: about three significant digits."""
    if value is None or abs(value) >= 100:
        return 0
    return 1 if abs(value) >= 10 else 2


def issue_text(issue: UsabilityIssue) -> str:
    """Why a level is not evidence, in a word or two."""
    if issue.code is Unusable.BENCH_BOUND:
        return "bench-bound" + (f" ({COMPONENT_LABELS[issue.component]})" if issue.component else "")
    return {
        Unusable.INCOMPLETE: "incomplete",
        Unusable.TOO_FEW_REQUESTS: "too few requests",
        Unusable.NO_RECORDS: "no per-request records",
        Unusable.DISTURBED: "machine disturbed",
    }[issue.code]


def _issues_text(summaries: Sequence[LevelSummary]) -> str:
    """What made these levels unusable, each cause once: "bench-bound (the bench's CPUs, database)"."""
    bound = dict.fromkeys(
        COMPONENT_LABELS[i.component]
        for s in summaries
        for i in s.unusable
        if i.code is Unusable.BENCH_BOUND and i.component is not None
    )
    other = dict.fromkeys(issue_text(i) for s in summaries for i in s.unusable if i.code is not Unusable.BENCH_BOUND)
    return ", ".join([*([f"bench-bound ({', '.join(bound)})"] if bound else []), *other])


def _fit(text: str, limit: int = LINE_LIMIT) -> str:
    """One line: a wording too long for it is cut at a word (the full sentence is in details.md)."""
    return text if len(text) <= limit else textwrap.shorten(text, width=limit, placeholder=" …")


# -- what a decision rests on ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Facts:
    """A decision with what its lines read: the run, the pair's comparable levels and ratios."""

    results: Results
    decision: Decision

    @property
    def pair(self) -> tuple[str, str]:
        return (self.decision.candidate, self.decision.baseline)

    @property
    def comparable(self) -> set[_Level]:
        def usable(service: str) -> set[_Level]:
            return {(s.users, s.arrival_rate) for s in self.results.summaries if s.service == service and s.usable}

        return usable(self.pair[0]) & usable(self.pair[1])

    @property
    def ratios(self) -> list[Ratio]:
        """The ratios at levels usable for both: the only ones the verdict reads."""
        comparable = self.comparable
        return [r for r in self.decision.ratios if (r.users, r.arrival_rate) in comparable]

    def acting(self, direction: Direction) -> list[Ratio]:
        return [r for r in self.ratios if acts_on(r, direction)]

    def summaries(self, services: Sequence[str] | None = None) -> list[LevelSummary]:
        wanted = services or self.pair
        return [s for s in self.results.summaries if s.service in wanted]


def _key_ratio(facts: _Facts) -> Ratio | None:
    """The analysis's key ratio: among the ratios the verdict acted on (levels usable for both)."""
    return key_ratio(facts.decision)


def _ratios_line(prefix: str, ratios: Sequence[Ratio]) -> str:
    """ "better at 50, 100 users: throughput 3.82x [3.29, 4.59], 7.28x [5.83, 9.52]; p95 0.11x, 0.067x":
    one line for ratios that repeat per level, intervals kept while the line has room."""
    levels = {(r.users, r.arrival_rate) for r in ratios}
    metrics = told_order(r.metric for r in ratios)

    def told(metric: str, interval: bool) -> str:
        own = sorted((r for r in ratios if r.metric == metric), key=lambda r: level_key(r.users, r.arrival_rate))
        where = {(r.users, r.arrival_rate) for r in own}
        at = f" at {levels_text(where)}" if where != levels else ""
        return f"{_short(metric)} {', '.join(_ratio(r, interval) for r in own)}{at}"

    head = f"{prefix} at {levels_text(levels)}: "
    for intervals in (len(metrics), 1, 0):  # every metric's intervals, the first one's, none
        line = head + "; ".join(told(m, i < intervals) for i, m in enumerate(metrics))
        if len(line) <= LINE_LIMIT:
            return line
    return line


def _criteria_where(criteria: Sequence[CriterionResult]) -> str:
    levels = {(r.users, r.arrival_rate) for r in criteria if r.users is not None}
    return f" at {levels_text(levels)}" if levels else ""


def _audit_sum(audits: Sequence[AuditFigures]) -> AuditFigures:
    return AuditFigures(**{name: sum(getattr(a, name) for a in audits) for name in AuditFigures.model_fields})


def _audit_failures(results: Results, service: str) -> tuple[set[_Level], list[str], AuditFigures | None]:
    steps = [s for s in results.steps if s.service == service and s.audit is not None and not s.audit.passed]
    faults = [f for f in results.faults if f.service == service and not f.audit.passed]
    audits = [s.audit for s in steps if s.audit is not None] + [f.audit for f in faults]
    total = _audit_sum(audits) if audits else None
    return {(s.users, s.arrival_rate) for s in steps}, [f.fault for f in faults], total


def _audit_where(levels: set[_Level], faults: Sequence[str]) -> str:
    parts = ([f"at {levels_text(levels)}"] if levels else []) + [f"under fault '{f}'" for f in dict.fromkeys(faults)]
    return " and ".join(parts)


# -- the top reasons, one wording per code ----------------------------------------------------------
def _better_line(facts: _Facts) -> str | None:
    wins = facts.acting(Direction.BETTER)
    return _ratios_line("better", wins) if wins else None


def _worse_line(facts: _Facts) -> str | None:
    losses = facts.acting(Direction.WORSE)
    return _ratios_line("worse", losses) if losses else None


def _no_benefit_line(facts: _Facts) -> str | None:
    shown = [r for r in facts.ratios if r.metric in VERDICT_METRICS and r.is_evidence]
    if not shown:
        return "no measurable benefit at any level usable for both"
    return _ratios_line("no measurable benefit", shown)


def _passed_line(facts: _Facts) -> str:
    passed = sum(1 for r in facts.decision.criteria if r.outcome is Outcome.PASS)
    audited = [s.audit for s in facts.results.steps if s.service == facts.pair[0] and s.audit is not None]
    replies = f" ({sum(a.expected for a in audited)} replies)" if audited else ""
    criteria = f"passes all {passed} criteria judged on it" if passed else "no criterion applies to it"
    return f"{criteria}; delivery audit clean at every step{replies}"


def _audit_line(facts: _Facts) -> str | None:
    levels, faults, total = _audit_failures(facts.results, facts.pair[0])
    if total is None:
        return None
    return (
        f"delivery audit failed {_audit_where(levels, faults)}: {total.lost} lost, {total.doubled_unexplained} "
        f"doubled, {total.wrong_token} wrong-token, {total.unexpected} unexpected"
    )


def _baseline_audit_line(facts: _Facts) -> str | None:
    levels, faults, total = _audit_failures(facts.results, facts.pair[1])
    if total is None:
        return None
    return f"{facts.pair[1]}'s delivery audit failed {_audit_where(levels, faults)}: the bench cannot be trusted"


def _failed_line(facts: _Facts) -> str | None:
    failed = [r for r in facts.decision.criteria if r.outcome is Outcome.FAIL]
    if not failed:
        return None
    names = dict.fromkeys(r.criterion for r in failed)
    told = "; ".join(f"'{name}'{_criteria_where([r for r in failed if r.criterion == name])}" for name in names)
    return f"fails {told}"


def _not_audited_line(facts: _Facts) -> str | None:
    steps = [s for s in facts.results.steps if s.service == facts.pair[0] and s.audit is None]
    if not steps:
        return None
    return f"delivery not audited at {levels_text({(s.users, s.arrival_rate) for s in steps})}: unproven"


def _incomplete_line(facts: _Facts) -> str:
    why = facts.results.incomplete_reason
    return "the run stopped early" + (f": {why}" if why else "")


def _no_level_line(facts: _Facts) -> str:
    return f"no load level usable for both {facts.pair[0]} and {facts.pair[1]}"


def _disturbed_levels(facts: _Facts) -> dict[_Level, list[str]]:
    found: dict[_Level, list[str]] = {}
    for s in facts.summaries():
        if any(i.code is Unusable.DISTURBED for i in s.unusable):
            found.setdefault((s.users, s.arrival_rate), []).append(s.service)
    return found


def _disturbed_line(facts: _Facts) -> str:
    found = _disturbed_levels(facts)
    if not found:
        return "machine disturbed while it measured: a cause outside both designs; rerun on a quiet machine"
    services = ", ".join(dict.fromkeys(s for names in found.values() for s in names))
    return (
        f"machine disturbed at {levels_text(found)} ({services}): a cause outside both designs; "
        "rerun on a quiet machine"
    )


_CRITERION_CAUSES = {
    CriterionReason.LEVEL_UNUSABLE: "level not usable",
    CriterionReason.NOT_MEASURED: "figure not measured",
    CriterionReason.NO_STEP: "no step measured",
    CriterionReason.NO_METRICS: "no /metrics",
    CriterionReason.METRICS_UNANSWERED: "/metrics did not answer",
    CriterionReason.SERVICE_ABSENT: "service not in the run",
    CriterionReason.NO_SOAK: "no soak",
}


def _held(facts: _Facts) -> list[CriterionResult]:
    """Criteria this machine could have judged and did not: they hold a verdict."""
    return [r for r in facts.decision.criteria if r.outcome is Outcome.NOT_JUDGED and r.reason not in TARGET_REASONS]


def _not_judged_line(facts: _Facts) -> str | None:
    held = _held(facts)
    if not held:
        return None
    causes = dict.fromkeys(_CRITERION_CAUSES.get(r.reason, r.reason.value) for r in held)
    unusable = [
        s
        for s in facts.summaries((facts.pair[0],))
        if (s.users, s.arrival_rate) in {(r.users, r.arrival_rate) for r in held}
    ]
    why = "; ".join(causes)
    if CriterionReason.LEVEL_UNUSABLE in {r.reason for r in held} and (issues := _issues_text(unusable)):
        why += f": {issues}"
    return f"{len(held)} criteria not judged{_criteria_where(held)} ({why})"


def _immaterial_line(facts: _Facts) -> str:
    held = _held(facts)
    return f"{len(held)} criteria not judged, but with no benefit at any level compared they could not change this"


def _target_elsewhere_line(facts: _Facts) -> str | None:
    waiting = [r for r in facts.decision.criteria if r.outcome is Outcome.NOT_JUDGED and r.reason in TARGET_REASONS]
    if not waiting:
        return None
    reasons = {r.reason for r in waiting}
    if reasons == {CriterionReason.TARGET_NOT_RUN}:
        need = "name a level this run left out"
    elif CriterionReason.TARGET_NOT_RUN in reasons:
        need = "need more machine than this one, or a level this run left out"
    else:
        need = "need more machine than this one"
    count = len(dict.fromkeys(r.criterion for r in waiting))
    return f"{count} criteria {need}{_criteria_where(waiting)}: the target load answers them"


def _not_compared_line(facts: _Facts) -> str | None:
    pair = facts.pair
    ran = {(s.users, s.arrival_rate) for s in facts.summaries()}
    apart = ran - facts.comparable
    if not apart:
        return None
    parts = []
    for service in pair:
        own = [s for s in facts.summaries((service,)) if (s.users, s.arrival_rate) in apart and not s.usable]
        if own:
            parts.append(f"{service} {_issues_text(own)}")
        missing = apart - {(s.users, s.arrival_rate) for s in facts.summaries((service,))}
        if missing:
            parts.append(f"{service} did not run at {levels_text(missing)}")
    return f"not compared at {levels_text(apart)}: {'; '.join(parts)}"


def _both_saturated_line(facts: _Facts) -> str | None:
    levels = {(r.users, r.arrival_rate) for r in facts.ratios if r.metric in VERDICT_METRICS and r.queue_latency}
    if not levels:
        return None
    return f"both filled their CPUs at {levels_text(levels)}: latency not compared there (it is the queue)"


def _to_decide_line(facts: _Facts) -> str | None:
    bound: dict[Component, dict[_Level, None]] = {}
    other: dict[str, dict[_Level, None]] = {}
    for s in facts.summaries():
        for issue in s.unusable:
            level = (s.users, s.arrival_rate)
            if issue.code is Unusable.BENCH_BOUND and issue.component is not None:
                bound.setdefault(issue.component, {})[level] = None
            elif issue.code in (Unusable.TOO_FEW_REQUESTS, Unusable.INCOMPLETE, Unusable.NO_RECORDS):
                other.setdefault(issue_text(issue), {})[level] = None
    parts = [
        f"{COMPONENT_LABELS[c]} saturated at {levels_text(levels)}: {BENCH_ADVICE[c]}" for c, levels in bound.items()
    ]
    parts += [f"{what} at {levels_text(levels)}" for what, levels in other.items()]
    return "; ".join(parts) or None


def _one_service_line(facts: _Facts) -> str:
    return f"the run did not measure both {facts.pair[0]} and {facts.pair[1]}: no verdict"


def _margin_of(ratios: Sequence[Ratio]) -> str:
    """ "the 10 % margin", or "the 20 % margin" when all are CPU per request, else "the margin"."""
    margins = {practical_margin(r.metric) for r in ratios}
    return f"the {margins.pop():.0%} margin" if len(margins) == 1 else "their margins"


def _knife_edge_line(facts: _Facts) -> str:
    """What the verdict rests on at its threshold, and what would settle it: the knife-edge
    reasons' own ratios and levels."""
    reasons = facts.decision.with_code(ReasonCode.KNIFE_EDGE)
    edge = list({(r.users, r.arrival_rate, r.metric): r for reason in reasons for r in reason.ratios}.values())
    guarded = {level for reason in reasons if not reason.ratios for level in reason.levels}
    parts, fixes = [], []
    deciding = facts.decision.verdict is Verdict.MIGRATE or facts.decision.with_code(ReasonCode.SIGNIFICANTLY_WORSE)
    if edge and deciding:  # every ratio that decided the verdict reaches the margin
        told = ", ".join(f"{_short(r.metric)} {_ratio(r)} at {load_label(r.users, r.arrival_rate)}" for r in edge)
        parts.append(f"{told} reach{'es' if len(edge) == 1 else ''} {_margin_of(edge)}")
    elif edge:  # no benefit shown, but an interval reaches past the margin towards one
        metrics = ", ".join(dict.fromkeys(_short(r.metric) for r in edge))
        where = levels_text({(r.users, r.arrival_rate) for r in edge})
        parts.append(f"{metrics} at {where} near {_margin_of(edge)}")
    if edge:
        fixes.append("2 more trials (--trials 3)" if facts.results.settings.load.trials < 3 else "more trials")
    if guarded:
        parts.append(f"the bench guard set aside {levels_text(guarded)}")
        fixes.append("--locust-workers or a bigger machine")
    what = "; ".join(parts) or "the verdict rests on a figure at its threshold"
    head, settle = "knife edge: ", f"{' or '.join(fixes) or 'a longer run'} settle it"
    return f"{head}{_fit(what, LINE_LIMIT - len(head) - len(settle) - 2)}; {settle}"  # what settles it stays whole


_Wording = Callable[[_Facts], str | None]
_WORDINGS: dict[ReasonCode, _Wording] = {
    ReasonCode.AUDIT_FAILED: _audit_line,
    ReasonCode.CRITERION_FAILED: _failed_line,
    ReasonCode.SIGNIFICANTLY_WORSE: _worse_line,
    ReasonCode.BASELINE_AUDIT_FAILED: _baseline_audit_line,
    ReasonCode.NOT_AUDITED: _not_audited_line,
    ReasonCode.RUN_INCOMPLETE: _incomplete_line,
    ReasonCode.NO_COMPARABLE_LEVEL: _no_level_line,
    ReasonCode.CRITERIA_NOT_JUDGED: _not_judged_line,
    ReasonCode.SIGNIFICANTLY_BETTER: _better_line,
    ReasonCode.CRITERIA_PASSED: _passed_line,
    ReasonCode.NO_BENEFIT: _no_benefit_line,
    ReasonCode.CRITERIA_IMMATERIAL: _immaterial_line,
    ReasonCode.BOTH_SATURATED: _both_saturated_line,
    ReasonCode.NOT_COMPARED: _not_compared_line,
    ReasonCode.TO_DECIDE: _to_decide_line,
    ReasonCode.ONE_SERVICE: _one_service_line,
    ReasonCode.MACHINE_DISTURBED: _disturbed_line,
    ReasonCode.KNIFE_EDGE: _knife_edge_line,
    ReasonCode.TARGET_ELSEWHERE: _target_elsewhere_line,
    # RATIO is told inside NO_BENEFIT's line; EXPLANATION and NEEDS_BIGGER_MACHINE carry no figure
    # of their own: their sentences are in details.md.
}
_CAUSES = (  # an INCONCLUSIVE's causes, as the headline names the first
    ReasonCode.RUN_INCOMPLETE,
    ReasonCode.BASELINE_AUDIT_FAILED,
    ReasonCode.NOT_AUDITED,
    ReasonCode.NO_COMPARABLE_LEVEL,
    ReasonCode.MACHINE_DISTURBED,
    ReasonCode.CRITERIA_NOT_JUDGED,
    ReasonCode.ONE_SERVICE,
)


# The order a verdict's reasons are told in: what decided it first.
_RANK: dict[Verdict, tuple[ReasonCode, ...]] = {
    Verdict.MIGRATE: (
        ReasonCode.SIGNIFICANTLY_BETTER,
        ReasonCode.KNIFE_EDGE,
        ReasonCode.MACHINE_DISTURBED,
        ReasonCode.CRITERIA_PASSED,
        ReasonCode.TARGET_ELSEWHERE,
        ReasonCode.NOT_COMPARED,
        ReasonCode.BOTH_SATURATED,
    ),
    Verdict.DO_NOT_MIGRATE: (
        ReasonCode.AUDIT_FAILED,
        ReasonCode.CRITERION_FAILED,
        ReasonCode.SIGNIFICANTLY_WORSE,
        ReasonCode.NO_BENEFIT,
        ReasonCode.KNIFE_EDGE,
        ReasonCode.MACHINE_DISTURBED,
        ReasonCode.BOTH_SATURATED,
        ReasonCode.CRITERIA_IMMATERIAL,
        ReasonCode.TARGET_ELSEWHERE,
        ReasonCode.NOT_COMPARED,
    ),
    Verdict.INCONCLUSIVE: (
        *_CAUSES,
        ReasonCode.KNIFE_EDGE,
        ReasonCode.TO_DECIDE,
        ReasonCode.TARGET_ELSEWHERE,
        ReasonCode.BOTH_SATURATED,
        ReasonCode.NOT_COMPARED,
    ),
}
_ALWAYS = (ReasonCode.KNIFE_EDGE, ReasonCode.MACHINE_DISTURBED)  # shown whenever present


def _top_reasons(facts: _Facts) -> tuple[str, ...]:
    present = {r.code for r in facts.decision.reasons}
    ranked = [c for c in _RANK[facts.decision.verdict] if c in present]
    ranked += [c for c in dict.fromkeys(r.code for r in facts.decision.reasons) if c not in ranked]
    worded = {code: line for code in ranked if code in _WORDINGS and (line := _WORDINGS[code](facts))}
    must = [c for c in _ALWAYS if c in worded]
    rest = [c for c in worded if c not in must][: TOP_REASONS - len(must)]
    return tuple(_fit(worded[c]) for c in ranked if c in must or c in rest)


# -- the headline ------------------------------------------------------------------------------------
def _cause(facts: _Facts, code: ReasonCode) -> str:
    if code is ReasonCode.RUN_INCOMPLETE:
        return "the run stopped early"
    if code is ReasonCode.BASELINE_AUDIT_FAILED:
        return f"{facts.pair[1]}'s delivery audit failed"
    if code is ReasonCode.NOT_AUDITED:
        steps = [s for s in facts.results.steps if s.service == facts.pair[0] and s.audit is None]
        return f"delivery not audited at {levels_text({(s.users, s.arrival_rate) for s in steps})}"
    if code is ReasonCode.NO_COMPARABLE_LEVEL:
        return "no level usable for both"
    if code is ReasonCode.MACHINE_DISTURBED:
        found = _disturbed_levels(facts)
        return f"machine disturbed at {levels_text(found)}" if found else "machine disturbed"
    if code is ReasonCode.CRITERIA_NOT_JUDGED:
        held = _held(facts)
        return f"{len(held)} criteria not judged{_criteria_where(held)}"
    return "the run did not measure both"


def _verdict_why(facts: _Facts) -> str:
    decision = facts.decision
    key = _key_ratio(facts)
    if key is not None:
        metric, where = _short(key.metric), load_label(key.users, key.arrival_rate)
        ratio = _ratio(key, interval=False)
        return f"{ratio} {metric} at {where}" if decision.verdict is Verdict.MIGRATE else f"{metric} {ratio} at {where}"
    codes = [r.code for r in decision.reasons]
    if decision.verdict is Verdict.INCONCLUSIVE:
        first = next((c for c in codes if c in _CAUSES), None)
        return _cause(facts, first) if first else "see its reasons"
    if ReasonCode.AUDIT_FAILED in codes:
        levels, faults, _ = _audit_failures(facts.results, facts.pair[0])
        return f"delivery audit failed {_audit_where(levels, faults)}".strip()
    if ReasonCode.CRITERION_FAILED in codes:
        failed = list(dict.fromkeys(r.criterion for r in decision.criteria if r.outcome is Outcome.FAIL))
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        return f"fails '{failed[0]}'{more}" if failed else "fails a criterion"
    if ReasonCode.NO_BENEFIT in codes:
        return "no measurable benefit"
    return "see its reasons"


def _cpus(value: float | None) -> str:
    """CPUs, rounded up (against the service): whole when many or when counted."""
    if value is not None and float(value).is_integer():
        return str(int(value))
    return number(value, 0 if value is not None and value >= 10 else 1, "lower")


def target_clause(target: TargetLoad) -> str:
    """The second answer as the headline words it."""
    goal = f"the {target.users}-user target"
    cpus = target.service_cpus.value if target.service_cpus else None
    if target.status is TargetStatus.HOLDS:
        return f"holds {goal} on {_cpus(cpus)} CPUs (measured)"
    if target.status is TargetStatus.FAILS:
        return f"misses {goal} on {_cpus(cpus)} CPUs (measured)"
    if target.status is TargetStatus.UNKNOWN or cpus is None:
        return f"{goal}: not known (nothing trusted to project from)"
    database = target.database_cores.value if target.database_cores else None
    db = f" + {number(database, 1, 'lower')} DB cores" if database is not None else ""
    fits = "fits" if target.status is TargetStatus.FITS else "exceeds"
    # Short enough that "name: VERDICT (why); this" stays on one 120-column line.
    workers = target.deployment_workers
    return f"{target.users} users need ~{_cpus(cpus)} CPUs{db}, {fits} {workers} workers ({target.basis})"


# -- the target-load lines ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetLine:
    """The target-load answer for one service, in pieces each place lays out its own way."""

    service: str
    role: str  # "baseline", "candidate", or "" in a run without a verdict
    status: TargetStatus
    basis: str  # "measured" or "projected"
    tone: Tone
    capacity: str  # the highest throughput measured within the SLO, per service CPU
    need: str  # what the target needs (or how it held), measured or projected
    cost: str  # a month of it at the run's price ("" when not known)
    assumptions: str  # the projection's, in one short line ("" when measured)
    command: str  # what would measure it ("" when measured)

    @property
    def label(self) -> str:
        return f"{self.service} ({self.role})" if self.role else self.service

    @property
    def text(self) -> str:
        """The capacity, the need and the cost in one line."""
        return f"{self.label}: " + "; ".join(part for part in (self.capacity, self.need, self.cost) if part)


_TARGET_TONES: dict[TargetStatus, Tone] = {
    TargetStatus.HOLDS: "good",
    TargetStatus.FITS: "good",
    TargetStatus.FAILS: "bad",
    TargetStatus.EXCEEDS: "warn",
    TargetStatus.UNKNOWN: "muted",
}


def _capacity_text(target: TargetLoad) -> str:
    per_cpu = target.capacity_rps_per_cpu
    if per_cpu is None or per_cpu.value is None:
        return "no capacity measured within the SLO"
    places = _places(per_cpu.value)
    text = f"{number(per_cpu.value, places, 'higher')} req/s per service CPU"
    if per_cpu.ci_low is not None and per_cpu.ci_high is not None:
        text += f" [{number(per_cpu.ci_low, places, 'higher')}, {number(per_cpu.ci_high, places, 'lower')}]"
    where = target.capacity_level or "a measured level"
    if not target.capacity_within_slo:
        return f"{text} at {where}, over the SLO (measured)"
    if target.capacity_saturated:
        return f"{text} within the SLO at {where} (measured)"
    return f"at least {text} within the SLO at {where} (measured)"  # CPU to spare: a lower bound


def _need_text(target: TargetLoad) -> str:
    offered = f" ({number(target.offered_rps, 0, 'lower')} req/s)" if target.offered_rps else ""
    head = f"{target.users} users{offered}"
    cpus = target.service_cpus
    if target.status is TargetStatus.HOLDS:
        return f"{head} held on {_cpus(cpus.value if cpus else None)} service CPUs (measured)"
    if target.status is TargetStatus.FAILS:
        return f"{head} missed on {_cpus(cpus.value if cpus else None)} service CPUs with CPU to spare (measured)"
    if target.status is TargetStatus.UNKNOWN or cpus is None or cpus.value is None:
        return f"{head}: not known (nothing trusted to project from)"
    decimals = 0 if cpus.value >= 10 else 1
    figure = f"{number(cpus.value, decimals, 'lower')} service CPUs"
    if cpus.ci_low is not None and cpus.ci_high is not None:
        figure += f" [{number(cpus.ci_low, decimals, 'higher')}, {number(cpus.ci_high, decimals, 'lower')}]"
    database = target.database_cores.value if target.database_cores else None
    db = f" + {number(database, 1, 'lower')} DB cores" if database is not None else ""
    fits = "fits" if target.status is TargetStatus.FITS else "exceeds"
    return f"{head} need {figure}{db} ({target.basis}; {fits} the checklist's {target.deployment_workers} workers)"


def _cost_text(target: TargetLoad) -> str:
    """A month of it, at the price the heading states."""
    return "" if target.monthly_usd is None else f"${number(target.monthly_usd, 0, 'lower')}/month"


def _assumptions_text(target: TargetLoad) -> str:
    if target.basis != "projected" or target.status is TargetStatus.UNKNOWN:
        return ""
    ms = number(target.cpu_ms_per_request, 2, "lower")
    level = target.cpu_measured_at
    return f"projected from {ms} ms CPU/request at {level}; linear scaling; DB, upstream, Locust on own hosts"


def _target_line(results: Results, target: TargetLoad) -> TargetLine:
    role = (
        "baseline"
        if target.service == results.settings.baseline
        else "candidate"
        if target.service in results.settings.candidates
        else ""
    )
    return TargetLine(
        service=target.service,
        role=role,
        status=target.status,
        basis=target.basis,
        tone=_TARGET_TONES[target.status],
        capacity=_capacity_text(target),
        need=_need_text(target),
        cost=_cost_text(target),
        assumptions=_assumptions_text(target),
        command=target.command,
    )


def target_lines(results: Results) -> list[TargetLine]:
    """The target-load answer for the baseline and every candidate, in the run's order."""
    return [_target_line(results, target) for target in results.targets]


def target_heading(results: Results) -> str | None:
    """What the target is, in one line (None: the run has no target-load answer)."""
    if not results.targets:
        return None
    target = results.targets[0]
    return (
        f"Target load: {target.users} users at the checklist's pacing on its {target.deployment_workers} gunicorn "
        f"workers; costs at ${target.price_per_vcpu_hour:g} per vCPU-hour"
    )


# -- the answers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """Both answers for one candidate: the headline, its top reasons and its target load."""

    candidate: str
    baseline: str
    verdict: Verdict
    tone: Tone
    headline: str
    reasons: tuple[str, ...]
    target: TargetLine | None


def _answer(results: Results, decision: Decision) -> Answer:
    facts = _Facts(results, decision)
    target = results.target_for(decision.candidate)
    headline = f"{decision.candidate}: {decision.verdict} ({_verdict_why(facts)})"
    if target is not None:
        headline += f"; {target_clause(target)}"
    return Answer(
        candidate=decision.candidate,
        baseline=decision.baseline,
        verdict=decision.verdict,
        tone=VERDICT_TONES[decision.verdict],
        headline=headline,
        reasons=_top_reasons(facts),
        target=_target_line(results, target) if target is not None else None,
    )


def answers(results: Results) -> list[Answer]:
    """One per candidate, in the run's order."""
    return [_answer(results, decision) for decision in results.decisions]


def no_verdict(results: Results) -> str | None:
    """The line that stands for the headlines in a comparison without a verdict (None otherwise)."""
    if results.decisions or results.capacity is not None:
        return None
    return "No verdict: the run compared no candidate with a baseline"


def answer_lines(results: Results) -> list[str]:
    """The answers as plain lines (the notebook prints them): each headline with its reasons, then
    the target-load lines with their assumptions and commands."""
    lines: list[str] = []
    for answer in answers(results):
        lines += [answer.headline, *(f"  - {reason}" for reason in answer.reasons)]
    if (missing := no_verdict(results)) is not None:
        lines.append(missing)
    if (heading := target_heading(results)) is not None:
        lines += ["", heading]
    for line in target_lines(results):
        lines.append(line.text)
        lines += [
            f"  {part}" for part in (line.assumptions, f"measure: {line.command}" if line.command else "") if part
        ]
    return lines
