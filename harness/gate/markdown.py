"""The gate as Markdown, for GitHub's ``$GITHUB_STEP_SUMMARY`` (or any CI that shows Markdown).

The same shape as the run's ``summary.md``: the status and the rule first, the run's two answers
per candidate (shown, not gated), the tally of the checks, why the gate did not pass, then only
the checks that held it up (or, when it passed, the headline comparison against the baseline);
every check and its detail folded below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..metrics import CPU_METRIC, practical_margin
from .checks import GateCheck
from .regression import ACROSS_RUNS_FACTOR
from .result import GateResult

__all__ = [
    "ANSWERS_NOTE",
    "GATE_COLUMNS",
    "HEADLINE_ROWS",
    "STATUS_MARKS",
    "gate_frame",
    "render_markdown",
    "write_markdown",
]

STATUS_MARKS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}
_RESULT_MARKS = {"pass": "", "fail": "❌ ", "not judged": "⚠️ ", "advisory": "ℹ️ ", "target": "", "skipped": ""}
ANSWERS_NOTE = "verdict and target load as the run concluded them; shown, not gated"
GATE_COLUMNS = ["check", "service", "load", "value [95% CI]", "threshold", "result"]
HEADLINE_ROWS = 12  # the visible table's rows at most; every check is in the folded table


def gate_frame(gate: GateResult) -> pd.DataFrame:
    """One row per check, the columns every rendering of the gate shows."""
    rows = [[c.name, c.service, c.load, c.value, c.threshold, c.result] for c in gate.checks]
    return pd.DataFrame(rows, columns=GATE_COLUMNS)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(checks: Sequence[GateCheck]) -> str:
    rows = [[c.name, c.service, c.load, c.value, c.threshold, f"{_RESULT_MARKS[c.outcome]}{c.result}"] for c in checks]
    return pd.DataFrame(rows, columns=GATE_COLUMNS).map(_cell).to_markdown(index=False)


_TALLY = {
    "fail": "fail",
    "not judged": "not judged",
    "advisory": "advisory",
    "pass": "pass",
    "target": "target load (not judged on this machine)",
    "skipped": "N/A",
}


def _tally(gate: GateResult) -> str:
    counts = {outcome: len(gate.with_outcome(outcome)) for outcome in _TALLY}  # type: ignore[arg-type]
    shown = [f"{counts[o]} {label}" for o, label in _TALLY.items() if counts[o] or o in ("fail", "not judged", "pass")]
    return f"**{len(gate.checks)} checks:** " + " · ".join(shown)


def _headline(gate: GateResult) -> tuple[str, list[GateCheck]]:
    """The checks shown above the fold: what held the gate up, else the comparison with the
    baseline (the figures a reviewer asks for first)."""
    blocking = [c for c in gate.checks if c.outcome in ("fail", "not judged")]
    if blocking:
        return "**What held it up:**", blocking
    against = [c for c in gate.checks if c.suite == "regression" and c.outcome != "skipped"]
    if gate.side_by_side and not against:
        return "", []  # the side-by-side section shows the comparison
    if against:
        return f"**Against baseline `{gate.baseline_run_id}`:**", against
    return "", []


def _latency_margin(allowed: float | None) -> float:
    return practical_margin("p95_ms") if allowed is None else allowed


def _allowed(allowed: float | None) -> str:
    """The margin a change must pass: one given for all, or each metric's own."""
    if allowed is not None:
        return f"{allowed:.0%}"
    cpu = practical_margin(CPU_METRIC)
    return f"{_latency_margin(None):.0%} ({cpu:.0%} for CPU per request)"


def render_markdown(gate: GateResult) -> str:
    status = gate.status
    lines = [
        f"## {STATUS_MARKS[status]} Performance gate: {status} (exit {gate.exit_code})",
        "",
        f"Run `{gate.run_id}` judged under `{gate.criteria_source}`"
        + (
            f"; regressions against baseline `{gate.baseline_run_id}` in latency, throughput and cost "
            f"(CPU and database operations per request): a change beyond {_allowed(gate.max_regression)} "
            "that its 95% interval also shows. Latency is not judged where the service filled its CPUs; "
            "where it rests on one run's requests (fewer than 3 trials a level) it also needs Mann-Whitney "
            f"U p < {gate.alpha:g}, and a rise up to {ACROSS_RUNS_FACTOR * _latency_margin(gate.max_regression):.0%} "
            "is "
            "advisory: requests of one run share its machine state, so they cannot show run-to-run variance."
            if gate.baseline_run_id
            else "; no baseline run given, so no regression check across runs."
        )
        + (
            f" This change is judged against {', '.join(f'`{b}`' for b in gate.side_by_side)} measured side by "
            "side in this run by the verdict's rule: a ratio of p95 (where not both filled their CPUs), "
            "throughput, CPU or database operations per request, significant and past the margin, fails."
            if gate.side_by_side
            else ""
        ),
        "",
    ]
    if gate.answers:
        lines += [f"**The run's answers** ({ANSWERS_NOTE}):", "", *(f"- {_cell(a.line)}" for a in gate.answers), ""]
    lines += [_tally(gate), ""]
    if gate.reasons:
        lines += ["**Why:**", "", *(f"- {_cell(reason)}" for reason in gate.reasons), ""]
    title, shown = _headline(gate)
    if shown:
        lines += [title, "", _table(shown[:HEADLINE_ROWS]), ""]
        if len(shown) > HEADLINE_ROWS:
            lines += [f"_{len(shown) - HEADLINE_ROWS} more in the table of every check below._", ""]
    elif status == "PASS":
        lines += ["Every check passed.", ""]
    if gate.side_by_side:
        beside = [c for c in gate.checks if c.suite == "side by side"]
        lines += [f"**{gate.side_by_side_title[0].upper()}{gate.side_by_side_title[1:]}:**", "", _table(beside), ""]
    if gate.notes:
        lines += ["**Notes:**", "", *(f"- {_cell(note)}" for note in gate.notes), ""]
    lines += [
        f"<details><summary>Every check ({len(gate.checks)}) and its detail</summary>",
        "",
        _table(gate.checks),
        "",
        *(f"- **{_cell(c.name)}** ({c.service} at {c.load}) {c.result}: {_cell(c.detail)}" for c in gate.checks),
        "",
        "</details>",
        "",
        "Exit codes: 0 pass, 1 fail, 2 inconclusive. Values are rounded against the service, "
        "intervals outwards; N/A, TARGET LOAD and ADVISORY rows never hold the gate up.",
        "",
    ]
    return "\n".join(lines)


def write_markdown(gate: GateResult, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(gate), encoding="utf-8")
    return path
