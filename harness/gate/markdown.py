"""The gate as Markdown, for GitHub's ``$GITHUB_STEP_SUMMARY`` (or any CI that shows Markdown)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .result import GateResult

__all__ = ["GATE_COLUMNS", "STATUS_MARKS", "gate_frame", "render_markdown", "write_markdown"]

STATUS_MARKS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}
_RESULT_MARKS = {"pass": "", "fail": "❌ ", "not judged": "⚠️ ", "skipped": ""}
GATE_COLUMNS = ["check", "service", "load", "value [95% CI]", "threshold", "result"]


def gate_frame(gate: GateResult) -> pd.DataFrame:
    """One row per check, the columns every rendering of the gate shows."""
    rows = [[c.name, c.service, c.load, c.value, c.threshold, c.result] for c in gate.checks]
    return pd.DataFrame(rows, columns=GATE_COLUMNS)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(gate: GateResult) -> str:
    status = gate.status
    lines = [
        f"## {STATUS_MARKS[status]} Performance gate: {status} (exit {gate.exit_code})",
        "",
        f"Run `{gate.run_id}` judged under `{gate.criteria_source}`"
        + (
            f"; regressions against baseline `{gate.baseline_run_id}`: a change beyond "
            f"{gate.max_regression:.0%} that is also significant (Mann-Whitney U p < {gate.alpha:g} "
            "and a bootstrap 95% interval beyond 1)."
            if gate.baseline_run_id
            else "; no baseline given, so no regression check."
        ),
        "",
    ]
    if gate.reasons:
        lines += ["**Why:**", "", *(f"- {_cell(reason)}" for reason in gate.reasons), ""]
    frame = gate_frame(gate)
    frame["result"] = [f"{_RESULT_MARKS[c.outcome]}{c.result}" for c in gate.checks]
    lines += [frame.map(_cell).to_markdown(index=False), ""]
    if gate.notes:
        lines += ["**Notes:**", "", *(f"- {_cell(note)}" for note in gate.notes), ""]
    lines += [
        "<details><summary>Details of every check</summary>",
        "",
        *(f"- **{_cell(c.name)}** ({c.service} at {c.load}) {c.result}: {_cell(c.detail)}" for c in gate.checks),
        "",
        "</details>",
        "",
        "Exit codes: 0 pass, 1 fail, 2 inconclusive. Values are rounded against the service, "
        "intervals outwards; N/A rows are not judged by design and never hold the gate up.",
        "",
    ]
    return "\n".join(lines)


def write_markdown(gate: GateResult, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(gate), encoding="utf-8")
    return path
