"""The criteria as a matrix: one row per criterion, one column per service and load level.

A cell is coloured by its outcome (PASS, FAIL, NOT JUDGED, n/a), holds the figure judged and
tells the rule, the reason code and the detail on hover. Built once, rendered as HTML (the
report) and Markdown (``details.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..metrics import FRACTION_METRICS
from ..results import CriterionResult
from ..rounding import MISSING, number, percent
from ..terms import Outcome, load_label
from .firstscreen import Tone, level_key

__all__ = ["OUTCOME_MARKS", "OUTCOME_TONES", "Matrix", "MatrixCell", "criteria_matrix", "criterion_value", "rule_text"]

OUTCOME_TONES: dict[Outcome, Tone] = {
    Outcome.PASS: "good",
    Outcome.FAIL: "bad",
    Outcome.NOT_JUDGED: "warn",
    Outcome.NOT_APPLICABLE: "muted",
}
OUTCOME_MARKS = {Outcome.PASS: "✓", Outcome.FAIL: "✗", Outcome.NOT_JUDGED: "?", Outcome.NOT_APPLICABLE: ""}
RUN_WIDE = "whole run"


def criterion_value(result: CriterionResult) -> str:
    """The judged figure, rounded against the service (up where the rule caps it)."""
    better = result.better
    value = result.value
    if value is None:
        return MISSING
    if result.metric in FRACTION_METRICS and result.baseline is None:
        return percent(value, 2, better)
    size = abs(value)
    decimals = 0 if size >= 1000 else 1 if size >= 10 else 2 if size >= 0.1 else 4
    return number(value, decimals, better)


def rule_text(result: CriterionResult) -> str:
    fraction = result.metric in FRACTION_METRICS and result.baseline is None
    threshold = f"{result.threshold * 100:.10g} %" if fraction else f"{result.threshold:.10g}"
    return f"{result.rule_metric} {result.op} {threshold}"


@dataclass(frozen=True)
class MatrixCell:
    text: str
    mark: str
    outcome: Outcome
    tone: Tone
    title: str


@dataclass(frozen=True)
class MatrixRow:
    criterion: str
    rule: str
    cells: tuple[MatrixCell | None, ...]


@dataclass(frozen=True)
class Matrix:
    services: tuple[tuple[str, int], ...]  # service, how many columns it spans
    columns: tuple[tuple[str, str], ...]  # service, level label
    rows: tuple[MatrixRow, ...]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def counts(self) -> dict[Outcome, int]:
        cells = [cell for row in self.rows for cell in row.cells if cell is not None]
        return {outcome: sum(1 for c in cells if c.outcome is outcome) for outcome in Outcome}


def _level(result: CriterionResult) -> tuple[tuple[float, int], str]:
    if result.users is None:
        return (float("inf"), 0), RUN_WIDE  # run-wide criteria (soak) after every level
    return level_key(result.users, result.arrival_rate), load_label(result.users, result.arrival_rate)


def criteria_matrix(criteria: Sequence[CriterionResult], services: Sequence[str] = ()) -> Matrix:
    """``services`` orders the columns (the run's own order); others follow as they come."""
    order = {service: i for i, service in enumerate(dict.fromkeys([*services, *(r.service for r in criteria)]))}
    keys: dict[tuple[int, tuple[float, int], str], tuple[str, str]] = {}
    for result in criteria:
        sort, label = _level(result)
        keys[(order[result.service], sort, label)] = (result.service, label)
    columns = tuple(keys[key] for key in sorted(keys))
    index = {column: i for i, column in enumerate(columns)}
    spans: dict[str, int] = {}
    for service, _ in columns:
        spans[service] = spans.get(service, 0) + 1
    rows: dict[str, tuple[str, list[MatrixCell | None]]] = {}
    for result in criteria:
        rule, cells = rows.setdefault(result.criterion, (rule_text(result), [None] * len(columns)))
        at = index[(result.service, _level(result)[1])]
        if cells[at] is not None:
            continue
        value = criterion_value(result)
        text = "n/a" if result.outcome is Outcome.NOT_APPLICABLE else value
        where = f"{result.service} at {_level(result)[1]}"
        title = f"{result.outcome.name.replace('_', ' ')} ({result.reason.value}), {where}: {rule_text(result)}"
        title += f", measured {value}" + (f". {result.detail}" if result.detail else "")
        cells[at] = MatrixCell(
            text, OUTCOME_MARKS[result.outcome], result.outcome, OUTCOME_TONES[result.outcome], title
        )
    return Matrix(
        services=tuple(spans.items()),
        columns=columns,
        rows=tuple(MatrixRow(name, rule, tuple(cells)) for name, (rule, cells) in rows.items()),
    )
