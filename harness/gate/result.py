"""The gate's result: every check of a run, the exit code they give, and the run's two answers.

Exit codes (what CI reads): 0 pass; 1 fail (a criterion failed on usable data, a delivery audit
failed, a significant regression against the base revision measured side by side or against the
baseline run, cost included); 2 inconclusive
(nothing failed, but something this machine could have judged was not: a criterion on a level
that was not usable, a suspected regression that could not be confirmed, a run that stopped
early). A criterion whose load needs more machine than this one, or a level the run left out,
is the target-load answer's and never gives 2. ``harness gate`` also answers 2 when its inputs
cannot be read.

Beside the checks, each candidate's verdict and target load as the run concluded them
(:mod:`.answers`): shown, not gated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pandas as pd

from ..analysis import Criteria, summarize
from ..results import Results
from ..terms import CriterionReason, load_label
from .answers import Answer, run_answers
from .checks import (
    EXCLUDED_SERVICES,
    CheckOutcome,
    GateCheck,
    audit_checks,
    completeness_check,
    criteria_checks,
    regression_checks,
)
from .regression import (
    DEFAULT_ALPHA,
    DEFAULT_MAX_REGRESSION,
    Regression,
    across_runs_notes,
    compare_runs,
    levels_not_compared,
    run_differences,
)
from .sidebyside import relative_pairs, side_by_side_checks, side_by_side_title

__all__ = [
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "GateResult",
    "GateStatus",
    "judge_run",
]

EXIT_PASS: Final = 0
EXIT_FAIL: Final = 1
EXIT_INCONCLUSIVE: Final = 2
GateStatus = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class GateResult:
    run_id: str
    criteria_source: str
    checks: tuple[GateCheck, ...]
    baseline_run_id: str | None = None
    max_regression: float | None = DEFAULT_MAX_REGRESSION  # None: each metric's own margin
    alpha: float = DEFAULT_ALPHA
    notes: tuple[str, ...] = field(default=())
    answers: tuple[Answer, ...] = field(default=())  # the run's verdict and target load per candidate
    side_by_side: tuple[str, ...] = field(default=())  # the base revisions this change was measured beside

    @property
    def side_by_side_title(self) -> str:
        return side_by_side_title(list(self.side_by_side))

    @property
    def status(self) -> GateStatus:
        if self.with_outcome("fail"):
            return "FAIL"
        if self.with_outcome("not judged"):
            return "INCONCLUSIVE"
        return "PASS"

    @property
    def exit_code(self) -> int:
        return {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}[self.status]

    def with_outcome(self, outcome: CheckOutcome) -> list[GateCheck]:
        return [check for check in self.checks if check.outcome == outcome]

    @property
    def reasons(self) -> list[str]:
        """Why the gate did not pass: every failed check, else every check not judged; the checks
        an unusable level held up are named together under it (the level's problem, not theirs)."""
        blocking = self.with_outcome("fail") or self.with_outcome("not judged")
        groups: dict[tuple[object, ...], list[GateCheck]] = {}
        for n, check in enumerate(blocking):
            shared = check.cause is CriterionReason.LEVEL_UNUSABLE
            groups.setdefault((check.service, check.load) if shared else (n,), []).append(check)
        return [_reason(checks) for checks in groups.values()]


def _reason(checks: list[GateCheck]) -> str:
    first = checks[0]
    if len(checks) == 1:
        return f"'{first.name}' ({first.service} at {first.load}): {first.detail}"
    names = ", ".join(f"'{check.name}'" for check in checks)
    return f"{len(checks)} checks of {first.service} at {first.load} ({names}): {first.detail}"


def judge_run(
    results: Results,
    criteria: Criteria,
    *,
    records: pd.DataFrame | None = None,
    baseline: Results | None = None,
    baseline_records: pd.DataFrame | None = None,
    max_regression: float | None = DEFAULT_MAX_REGRESSION,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> GateResult:
    """Judge a finished run: its completeness, ``criteria``, the delivery audit, this change
    against its base revision where the run measured both (:mod:`harness.gate.sidebyside`) and,
    given a ``baseline`` run, regressions against it (see :mod:`harness.gate.regression`)."""
    notes: list[str] = []
    results = _with_summaries(results, records, seed, notes)
    checks = [completeness_check(results), *criteria_checks(results, criteria), *audit_checks(results)]
    checks += side_by_side_checks(results)  # this change against its base revision, in this run
    baseline_id = None
    if baseline is not None:
        baseline = _with_summaries(baseline, baseline_records, seed, notes)
        baseline_id = baseline.run_id
        regressions = compare_runs(
            results, baseline, records, baseline_records, max_regression=max_regression, alpha=alpha, seed=seed
        )
        checks += regression_checks(regressions)
        notes += _baseline_notes(results, baseline, regressions, records, baseline_records)
        notes += across_runs_notes(regressions, max_regression)
    return GateResult(
        run_id=results.run_id,
        criteria_source=criteria.source,
        checks=tuple(checks),
        baseline_run_id=baseline_id,
        max_regression=max_regression,
        alpha=alpha,
        notes=tuple(notes),
        answers=run_answers(results),
        side_by_side=tuple(dict.fromkeys(d.baseline for d in relative_pairs(results))),
    )


def _with_summaries(results: Results, records: pd.DataFrame | None, seed: int, notes: list[str]) -> Results:
    """A run stopped before its analysis has steps but no summaries: compute them in memory."""
    if results.summaries or not results.steps:
        return results
    notes.append(f"{results.run_id} had no summaries (stopped before its analysis); computed them from its steps")
    summaries = summarize(results.steps, records if records is not None else pd.DataFrame(), seed)
    return results.model_copy(update={"summaries": summaries})


def _baseline_notes(
    results: Results,
    baseline: Results,
    regressions: Sequence[Regression],
    records: pd.DataFrame | None,
    baseline_records: pd.DataFrame | None,
) -> list[str]:
    notes = []
    if not regressions:
        notes.append(
            f"no service and load level is in both this run and the baseline {baseline.run_id}: "
            "nothing was checked for regression"
        )
    for run, frame in ((results.run_id, records), (baseline.run_id, baseline_records)):
        if regressions and (frame is None or frame.empty):
            notes.append(
                f"{run} has no per-request records: regressions were judged on the two runs' "
                "95% intervals (non-overlapping = significant), a blunter test"
            )
    notes += [f"not compared: {level}" for level in levels_not_compared(results, baseline)]
    notes += [f"differs from the baseline: {difference}" for difference in run_differences(results, baseline)]
    for r in regressions:
        if r.service in EXCLUDED_SERVICES and r.verdict in ("regression", "improvement") and r.change is not None:
            notes.append(
                f"the bench's {r.service} app (the machine's ceiling) changed {r.metric} by {r.change:+.1%} "
                f"at {load_label(r.users, r.arrival_rate)}: the machine, not the code, may explain the "
                "services' changes too"
            )
    return notes
