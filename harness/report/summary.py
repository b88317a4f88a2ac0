"""``summary.md``: the run in Markdown: settings first, then the verdict, then the evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..results import Results
from .tables import (
    criteria_table,
    decision_table,
    faults_table,
    notes,
    ratios_table,
    settings_lines,
    soak_table,
)

__all__ = ["render_summary"]


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"_{empty}_"
    return frame.to_markdown(index=False, disable_numparse=True)  # numbers stay as formatted


def render_summary(results: Results, plots: Sequence[Path] = (), base: Path | None = None) -> str:
    """Markdown of the run; ``plots`` are linked relative to ``base`` (the run directory)."""
    lines = [f"# Migration benchmark {results.run_id}", "", "## Machine and settings", ""]
    lines += [f"- {line}" for line in settings_lines(results)]
    for decision in results.decisions:
        lines += ["", f"## {decision.candidate} against {decision.baseline}: {decision.verdict}", ""]
        lines += [f"- {reason.text}" for reason in decision.reasons]
    if not results.decisions:
        lines += ["", "## Verdict: not decided", "", "_No candidate was compared with a baseline._"]
    lines += [
        "",
        "## Decision table",
        "",
        "Latencies in ms (nearest-rank percentiles of every measured request), throughput in answered "
        "requests/s, [95% bootstrap CI]. Figures are rounded against the service.",
        "",
        _table(decision_table(results), "no measured steps"),
        "",
        *_fault_and_soak_sections(results),
        "## Criteria",
        "",
        _table(criteria_table(results.criteria), "no criteria judged"),
        "",
        "## Ratios (candidate / baseline)",
        "",
        "Below 1 is better for latency, above 1 for throughput.",
        "",
        _table(ratios_table(results), "no load level ran both services"),
    ]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{path.stem}]({path.relative_to(base) if base else path})" for path in plots]
    run_notes = notes(results)
    if run_notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in run_notes]
    return "\n".join(lines) + "\n"


FAULTS_HINT = (
    "Errors: requests in flight while the fault was in force that were answered 5xx or not at all. "
    "Recovery: from the fault's end to the first full second in which every request succeeded. /ready "
    "is polled every 250 ms. The audit must show 0 lost, 0 doubled and 0 wrong-token replies; messages "
    "never acknowledged were cut off by the step's end (Meta would retry them): neither lost nor doubled."
)
SOAK_HINT = (
    "RSS of the service's processes sampled through the measured window (warm-up excluded); Theil-Sen "
    "slope with its 95% interval. Memory is GROWING when even the interval's low end exceeds 0.5 MB/min."
)


def _fault_and_soak_sections(results: Results) -> list[str]:
    lines: list[str] = []
    if results.faults:
        lines += ["## Faults", "", FAULTS_HINT, "", _table(faults_table(results), "no fault results"), ""]
    if results.soak:
        lines += ["## Soak and memory", "", SOAK_HINT, "", _table(soak_table(results), "no soak results"), ""]
    return lines
