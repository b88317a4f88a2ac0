"""The gate on the terminal: the run's answers, one rich table coloured by outcome, then why it
did not pass."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .markdown import ANSWERS_NOTE, GATE_COLUMNS
from .result import GateResult

__all__ = ["gate_table", "print_gate"]

_STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}
_ROW_STYLE = {
    "pass": None,
    "fail": "red",
    "not judged": "yellow",
    "advisory": "magenta",
    "target": "cyan",
    "skipped": "dim",
}


def gate_table(gate: GateResult, *, side_by_side: bool = False) -> Table:
    """The gate's checks; ``side_by_side``: only those of this change against its base revision,
    measured in the same run (their own section), else every other check."""
    baseline = f" vs baseline {gate.baseline_run_id}" if gate.baseline_run_id else ""
    title = f"harness gate {gate.run_id}{baseline}: [{_STATUS_STYLE[gate.status]}]{gate.status}[/]"
    table = Table(
        title=gate.side_by_side_title if side_by_side else title,
        caption=f"criteria: {gate.criteria_source}; [95% CI] bootstrap intervals; red fails, "
        "yellow is not judged (inconclusive), magenta is advisory, cyan is the target load's "
        "(not judged on this machine), dim is not judged by design",
    )
    for column in GATE_COLUMNS:
        table.add_column(column, justify="right" if column == "value [95% CI]" else "left")
    for check in gate.checks:
        if (check.suite == "side by side") != side_by_side:
            continue
        table.add_row(
            check.name,
            check.service,
            check.load,
            check.value,
            check.threshold,
            check.result,
            style=_ROW_STYLE[check.outcome],
        )
    return table


def print_gate(gate: GateResult, console: Console) -> None:
    if gate.answers:
        console.print(f"[bold]The run's answers[/] ({ANSWERS_NOTE}):")
        for answer in gate.answers:
            console.print(f"  {answer.line}", markup=False)
    console.print(gate_table(gate))
    if gate.side_by_side:
        console.print(gate_table(gate, side_by_side=True))
    for note in gate.notes:
        console.print(f"[dim]note: {note}[/]")
    colour = _STATUS_STYLE[gate.status]
    console.print(f"\n[{colour}]Gate: {gate.status}[/] (exit {gate.exit_code})")
    for reason in gate.reasons:
        console.print(f"  - {reason}", markup=False)
