"""What the report's first screen says, built once for ``report.html`` and ``summary.md``.

Above the cards, the two answers per candidate (:mod:`.answers`: the headline line and the
target-load lines). Per candidate a verdict card answers which, how much, can I trust it and what
next: the verdict, its top reasons (the same lines the console prints; every sentence in full
folded below), the headline ratios (p95 and throughput, candidate over baseline, with their 95%
intervals) at every level usable for both, what the evidence rests on, and what to do next.
Beside the cards, the checklist's claims as a matrix (one row per promise, one column per
candidate) and, where ``harness attribute`` ran, what each change earns.

Everything here reads codes and fields (verdicts, reason codes, outcomes, usability codes),
never the sentences; the sentences are only shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..metrics import HEADLINE_METRICS, METRIC_LABELS, higher_is_better, practical_margin
from ..results import (
    Attribution,
    ClaimCheck,
    Decision,
    LevelSummary,
    Ratio,
    Results,
)
from ..rounding import MISSING, Better, number, p_value, percent
from ..terms import Direction, Outcome, ReasonCode, Verdict, beyond_margin, load_label
from .answers import VERDICT_TONES, Answer, Tone, answers, issue_text, level_key, ratio_text

__all__ = [
    "CLAIM_LABELS",
    "VERDICT_TONES",
    "Card",
    "Cell",
    "ClaimsMatrix",
    "Item",
    "RatioRow",
    "Tone",
    "attribution_line",
    "cards",
    "claims_matrix",
    "issue_text",
    "level_key",
    "ratio_text",
]

_NEXT = (ReasonCode.TO_DECIDE, ReasonCode.NEEDS_BIGGER_MACHINE)
_Level = tuple[int, float]


@dataclass(frozen=True)
class Cell:
    """One figure as shown: its text, its tone (the cell's colour) and what hovering tells."""

    text: str
    tone: Tone = "neutral"
    note: str = ""  # a word under the figure ("better", "not significant")
    title: str = ""


@dataclass(frozen=True)
class Item:
    text: str
    tone: Tone = "neutral"
    title: str = ""


@dataclass(frozen=True)
class RatioRow:
    """A load level of the card: its ratios, or (not compared) why not."""

    load: str
    cells: tuple[Cell, ...] = ()  # one per HEADLINE_METRICS; empty: not compared
    why: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Card:
    candidate: str
    baseline: str
    verdict: Verdict
    tone: Tone
    headline: str  # both answers in one line (:mod:`.answers`)
    reasons: tuple[str, ...]  # the top reasons, one line each
    full_reasons: tuple[str, ...]  # every reason's sentence, as the analysis wrote it
    ratios: tuple[RatioRow, ...]  # every level either service ran, in order
    trust: tuple[Item, ...]
    next_steps: tuple[str, ...]
    metrics: tuple[str, ...] = HEADLINE_METRICS

    @property
    def metric_labels(self) -> tuple[str, ...]:
        return tuple(METRIC_LABELS[m] for m in self.metrics)

    @property
    def compared(self) -> tuple[RatioRow, ...]:
        return tuple(row for row in self.ratios if row.cells)

    @property
    def not_compared(self) -> tuple[RatioRow, ...]:
        return tuple(row for row in self.ratios if not row.cells)


def _ratio_cell(ratio: Ratio | None) -> Cell:
    if ratio is None:
        return Cell(MISSING, "muted", "not measured")
    better: Better = "higher" if higher_is_better(ratio.metric) else "lower"
    text = ratio_text(ratio.value, better)
    title = f"{METRIC_LABELS.get(ratio.metric, ratio.metric)} ratio, candidate / baseline, 95% CI"
    if ratio.p_value is not None:
        title += f"; Mann-Whitney p {p_value(ratio.p_value)}"
    title += f"; significant: {'yes' if ratio.significant else 'no' if ratio.significant is False else MISSING}"
    if ratio.queue_latency:
        title += "; both services filled their CPUs here: the latency is the queue the load builds, not compared"
        return Cell(text, "muted", "both saturated", title)
    if ratio.placement_cost:
        title += "; the services shared CPUs with the bench (not pinned): not compared"
        return Cell(text, "muted", "CPUs shared", title)
    if ratio.significant and beyond_margin(ratio.metric, ratio.value.value, Direction.BETTER):
        return Cell(text, "good", "better", title)
    if ratio.significant and beyond_margin(ratio.metric, ratio.value.value, Direction.WORSE):
        return Cell(text, "bad", "worse", title)
    if ratio.significant:
        return Cell(text, "neutral", f"within ±{practical_margin(ratio.metric):.0%}", title)
    return Cell(text, "neutral", "not significant", title)


def _usable_levels(summaries: Sequence[LevelSummary], service: str) -> set[_Level]:
    return {(s.users, s.arrival_rate) for s in summaries if s.service == service and s.usable}


def _not_compared(summaries: Sequence[LevelSummary], level: _Level, pair: tuple[str, str]) -> RatioRow:
    at = {s.service: s for s in summaries if (s.users, s.arrival_rate) == level}
    why, details = [], []
    for service in pair:
        summary = at.get(service)
        if summary is None:
            why.append(f"{service} did not run")
        elif not summary.usable:
            why.append(f"{service} {', '.join(dict.fromkeys(issue_text(i) for i in summary.unusable))}")
            details += [issue.detail for issue in summary.unusable]
    return RatioRow(load_label(*level), why="not compared: " + "; ".join(why), detail="; ".join(details))


def _audit_item(results: Results, candidate: str) -> Item:
    steps = [s for s in results.steps if s.service == candidate]
    audited = [s for s in steps if s.audit is not None]
    failed = sum(1 for s in audited if not s.audit.passed)
    failed += sum(1 for f in results.faults if f.service == candidate and not f.audit.passed)
    if failed:
        return Item(f"delivery audit FAILED ({failed} step(s) lost, doubled or mis-sent replies)", "bad")
    if not audited:
        return Item("delivery not audited", "warn")
    expected = sum(s.audit.expected for s in audited)
    missing = len(steps) - len(audited)
    if missing:
        return Item(f"delivery audit clean where audited; {missing} step(s) not audited", "warn")
    return Item(f"delivery audit clean at every step ({expected} replies)", "good")


def _criteria_item(decision: Decision) -> Item:
    counts = {outcome: sum(1 for r in decision.criteria if r.outcome is outcome) for outcome in Outcome}
    text = (
        f"criteria: {counts[Outcome.PASS]} pass, {counts[Outcome.FAIL]} fail, {counts[Outcome.NOT_JUDGED]} not judged"
    )
    tone: Tone = "bad" if counts[Outcome.FAIL] else "warn" if counts[Outcome.NOT_JUDGED] else "good"
    if not any(counts[o] for o in (Outcome.PASS, Outcome.FAIL, Outcome.NOT_JUDGED)):
        text, tone = "no criterion applies", "warn"
    return Item(text + (f" ({counts[Outcome.NOT_APPLICABLE]} n/a)" if counts[Outcome.NOT_APPLICABLE] else ""), tone)


def _trials_item(results: Results, candidate: str, baseline: str) -> Item:
    trials = results.settings.load.trials
    levels = [s for s in results.summaries if s.service in (candidate, baseline)]
    if levels and all(s.interval_basis == "trials" for s in levels):
        return Item(f"{trials} interleaved trials per level: intervals over trials", "good")
    return Item(
        f"{trials} trial(s) per level: intervals resample requests, not repeated runs",
        "warn" if trials < 3 else "neutral",
        "intervals over trials need 3 or more trials per level (harness compare --profile full)",
    )


def _trust(results: Results, decision: Decision, comparable: set[_Level], levels: set[_Level]) -> list[Item]:
    candidate, baseline = decision.candidate, decision.baseline
    usable = len(comparable)
    items = [
        Item(
            f"{usable} of {len(levels)} load levels usable for both",
            "good" if usable == len(levels) and usable else "warn" if usable else "bad",
        ),
        _trials_item(results, candidate, baseline),
        _audit_item(results, candidate),
        _criteria_item(decision),
        Item(f"CPU isolation: {results.settings.bench.pinning}", "neutral"),
    ]
    if not results.complete:
        items.insert(0, Item(f"run stopped early: {results.incomplete_reason or 'no reason recorded'}", "bad"))
    return items


def _next_steps(results: Results, decision: Decision, comparable: set[_Level], levels: set[_Level]) -> list[str]:
    told = [r.text for r in decision.reasons if r.code in _NEXT]
    if told:
        return told
    codes = {r.code for r in decision.reasons}
    candidate, baseline = decision.candidate, decision.baseline
    steps: list[str] = []
    if decision.verdict is Verdict.MIGRATE:
        minimal = _minimal_for(results.attribution, candidate)
        if minimal:
            steps.append(minimal)
        if results.settings.load.trials < 3:
            steps.append("confirm before migrating: `harness compare --profile full` (3 interleaved trials per level)")
        else:
            steps.append(f"migrate to {candidate}, and keep `harness gate` on it in CI")
    elif ReasonCode.AUDIT_FAILED in codes:
        steps.append(f"fix {candidate}'s lost or doubled replies first (the audit column of the decision table)")
    elif ReasonCode.CRITERION_FAILED in codes:
        steps.append(
            f"fix what the failing criteria name (the matrix below), or keep {baseline}; re-judge under other "
            "criteria with `harness report DIR --criteria FILE`"
        )
    elif ReasonCode.SIGNIFICANTLY_WORSE in codes:
        steps.append(f"keep {baseline}: {candidate} is measurably worse (see the plots)")
    elif ReasonCode.NO_BENEFIT in codes:
        steps.append(f"keep {baseline}: {candidate} brings no measurable benefit at these loads")
    else:
        steps.append("rerun with longer steps or more trials (`--profile full`)")
    if decision.verdict is not Verdict.INCONCLUSIVE and len(comparable) < len(levels):
        steps.append("the verdict stands on the levels compared; the others need the bench fixed (see trust)")
    return steps


_MINIMAL_LABELS = {
    "baseline_passes": "the baseline already passes",
    "single_change": "one change suffices",
    "confirmed": "confirmed",
    "not_confirmed": "not confirmed",
    "target_fails": "the target fails the criteria",
    "undetermined": "undetermined",
}


def _minimal_for(attribution: Attribution | None, candidate: str) -> str | None:
    if attribution is None or attribution.minimal is None or attribution.target != candidate:
        return None
    return attribution_line(attribution)


def attribution_line(attribution: Attribution) -> str | None:
    """The smallest migration found, in one line (None: not determined)."""
    minimal = attribution.minimal
    if minimal is None:
        return None
    status = _MINIMAL_LABELS[minimal.status]
    if minimal.changes:
        return f"smallest migration: {' + '.join(minimal.changes)} ({status})"
    return f"smallest migration: {status}"


def _card(results: Results, decision: Decision, answer: Answer) -> Card:
    pair = (decision.candidate, decision.baseline)
    comparable = _usable_levels(results.summaries, pair[0]) & _usable_levels(results.summaries, pair[1])
    levels = {(s.users, s.arrival_rate) for s in results.summaries if s.service in pair}
    ratios = {(r.users, r.arrival_rate, r.metric): r for r in decision.ratios}
    rows = tuple(
        RatioRow(load_label(*level), tuple(_ratio_cell(ratios.get((*level, m))) for m in HEADLINE_METRICS))
        if level in comparable
        else _not_compared(results.summaries, level, pair)
        for level in sorted(levels, key=lambda level: level_key(*level))
    )
    return Card(
        candidate=decision.candidate,
        baseline=decision.baseline,
        verdict=decision.verdict,
        tone=VERDICT_TONES[decision.verdict],
        headline=answer.headline,
        reasons=answer.reasons,
        full_reasons=tuple(r.text for r in decision.reasons),
        ratios=rows,
        trust=tuple(_trust(results, decision, comparable, levels)),
        next_steps=tuple(_next_steps(results, decision, comparable, levels)),
    )


def cards(results: Results) -> list[Card]:
    """A card per candidate, its reasons the same lines as its answer's."""
    return [
        _card(results, decision, answer) for decision, answer in zip(results.decisions, answers(results), strict=True)
    ]


# -- the checklist's claims ------------------------------------------------------------------------
CLAIM_LABELS = {"held": "HELD", "not_held": "NOT HELD", "cannot_judge": "CANNOT JUDGE"}
_CLAIM_TONES: dict[str, Tone] = {"held": "good", "not_held": "bad", "cannot_judge": "warn"}


def _measured(claim: ClaimCheck, value: float | None, better: Better = "higher") -> str:
    if claim.unit == "share":
        return percent(value, 1, better)
    if claim.unit == "users":
        return number(value, 0, better)
    return number(value, 3 if value is not None and abs(value) < 0.1 else 2, better)


def claim_figure(claim: ClaimCheck) -> str:
    """What was measured, in the claim's unit, with its interval (rounded against the candidate)."""
    measured = claim.measured
    if measured is None or measured.value is None:
        return MISSING
    if claim.unit == "x":
        return ratio_text(measured, "higher")
    text = _measured(claim, measured.value)
    if measured.ci_low is not None and measured.ci_high is not None:
        text += f" [{_measured(claim, measured.ci_low)}, {_measured(claim, measured.ci_high, 'lower')}]"
    return text + (" users" if claim.unit == "users" else "")


def promised_text(claim: ClaimCheck) -> str:
    if claim.unit == "share":
        return f"{claim.promised * 100:.10g} %"
    if claim.unit == "users":
        return f"{claim.promised:.10g} users"
    return f"{claim.promised:.10g}×"


@dataclass(frozen=True)
class ClaimsMatrix:
    candidates: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[Cell | None, ...]], ...] = field(default=())  # claim, promised, cells

    def __bool__(self) -> bool:
        return bool(self.rows)


def claims_matrix(results: Results) -> ClaimsMatrix:
    """One row per claim, one column per candidate: held / not held / cannot judge, the figure."""
    candidates = tuple(dict.fromkeys(c.candidate for c in results.claims))
    by_code: dict[str, dict[str, ClaimCheck]] = {}
    for claim in results.claims:
        by_code.setdefault(claim.code, {})[claim.candidate] = claim
    rows = []
    for checks in by_code.values():
        first = next(iter(checks.values()))
        cells = []
        for candidate in candidates:
            claim = checks.get(candidate)
            if claim is None:
                cells.append(None)
                continue
            where = f" at {claim.level}" if claim.level else ""
            cells.append(
                Cell(
                    claim_figure(claim),
                    _CLAIM_TONES[claim.outcome],
                    CLAIM_LABELS[claim.outcome],
                    f"{CLAIM_LABELS[claim.outcome]}{where}: {claim.reason}",
                )
            )
        rows.append((first.claim, promised_text(first), tuple(cells)))
    return ClaimsMatrix(candidates, tuple(rows))
