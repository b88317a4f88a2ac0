"""The CI performance gate: judge a finished run, and flag regressions against a baseline run.

:func:`judge_run` gives a :class:`GateResult` (its ``exit_code``: 0 pass, 1 fail, 2
inconclusive) with the run's two answers per candidate beside it (:func:`run_answers`: shown, not
gated); :func:`junit_xml`, :func:`render_markdown` and :func:`gate_table` show it to CI systems,
GitHub's step summary and the terminal. ``harness gate`` is the command.
"""

from __future__ import annotations

from .answers import Answer, run_answers
from .checks import CheckOutcome, GateCheck, audit_checks, completeness_check, criteria_checks, regression_checks
from .console import gate_table, print_gate
from .junit import junit_xml, write_junit
from .markdown import gate_frame, render_markdown, write_markdown
from .regression import (
    ACROSS_RUNS_FACTOR,
    DEFAULT_ALPHA,
    DEFAULT_MAX_REGRESSION,
    Regression,
    compare_runs,
)
from .result import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, GateResult, GateStatus, judge_run

__all__ = [
    "ACROSS_RUNS_FACTOR",
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_REGRESSION",
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "Answer",
    "GateCheck",
    "GateResult",
    "GateStatus",
    "CheckOutcome",
    "Regression",
    "audit_checks",
    "compare_runs",
    "completeness_check",
    "criteria_checks",
    "gate_frame",
    "gate_table",
    "judge_run",
    "junit_xml",
    "print_gate",
    "regression_checks",
    "render_markdown",
    "run_answers",
    "write_junit",
    "write_markdown",
]
