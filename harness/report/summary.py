"""``summary.md``: the run in Markdown: settings first, then the verdict, then the evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..results import Results
from .tables import criteria_table, decision_table, notes, ratios_table, settings_lines

__all__ = ["render_summary"]


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"_{empty}_"
    return frame.to_markdown(index=False, disable_numparse=True)  # numbers stay as formatted


def render_summary(results: Results, plots: Sequence[Path] = (), base: Path | None = None) -> str:
    """Markdown of the run; ``plots`` are linked relative to ``base`` (the run directory)."""
    decision = results.decision
    lines = [f"# Migration benchmark {results.run_id}", "", "## Machine and settings", ""]
    lines += [f"- {line}" for line in settings_lines(results)]
    lines += ["", f"## Verdict: {decision.verdict if decision else 'not decided'}", ""]
    lines += (
        [f"- {reason}" for reason in decision.reasons] if decision else ["_No decision recorded._"]
    )
    lines += [
        "",
        "## Decision table",
        "",
        "Latencies in ms (nearest-rank percentiles of every measured request), throughput in answered "
        "requests/s, [95% bootstrap CI]. Figures are rounded against the service.",
        "",
        _table(decision_table(results), "no measured steps"),
        "",
        "## Criteria",
        "",
        _table(criteria_table(decision), "no criteria judged"),
        "",
        "## Ratios (optimized / original)",
        "",
        "Below 1 is better for latency, above 1 for throughput.",
        "",
        _table(ratios_table(decision), "no load level ran both services"),
    ]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{path.stem}]({path.relative_to(base) if base else path})" for path in plots]
    run_notes = notes(results)
    if run_notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in run_notes]
    return "\n".join(lines) + "\n"
