"""Analysis: from per-request records and resource samples to figures, criteria and verdicts.

The layer reads the results schema and the harness's vocabulary only; it never imports the
report, the gate or anything that runs a process. One module per concept: :mod:`.steps` (one
step's figures), :mod:`.levels` (a service at one load level over its trials), :mod:`.ratios`
(candidate against baseline), :mod:`.audit` (the delivery audit), :mod:`.criteria` (the
criteria file and judging it), :mod:`.decision` (the verdict), :mod:`.stats` (the statistics
they share).
"""

from .audit import audit_figures
from .conclude import conclude, rejudge
from .criteria import (
    DEFAULT_CRITERIA_FILE,
    SUMMARY_METRICS,
    Criteria,
    CriteriaError,
    Criterion,
    RelativeCriterion,
    evaluate,
    load_criteria,
    summary_metric,
)
from .decision import decide
from .levels import MIN_REQUESTS, level_records, per_second_counts, summarize, summary_records
from .ratios import SIGNIFICANCE_LEVEL, ratios
from .steps import in_window, latency_column, step_result

__all__ = [
    "DEFAULT_CRITERIA_FILE",
    "MIN_REQUESTS",
    "SIGNIFICANCE_LEVEL",
    "SUMMARY_METRICS",
    "Criteria",
    "CriteriaError",
    "Criterion",
    "RelativeCriterion",
    "audit_figures",
    "conclude",
    "decide",
    "evaluate",
    "in_window",
    "latency_column",
    "level_records",
    "load_criteria",
    "per_second_counts",
    "ratios",
    "rejudge",
    "step_result",
    "summarize",
    "summary_metric",
    "summary_records",
]
