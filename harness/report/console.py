"""The decision table for the terminal (``rich``), printed by ``compare`` at the end of a run, and
the fault and soak tables ``chaos`` and ``soak`` print after it."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from ..results import Results
from .tables import decision_table, faults_table, soak_table

__all__ = [
    "CONSOLE_COLUMNS",
    "console_table",
    "faults_console_table",
    "report_console",
    "soak_console_table",
]

# The terminal is narrow: the figures the verdict leans on; the report has the rest.
CONSOLE_COLUMNS = (
    "service",
    "load",
    "p95 ms [95% CI]",
    "p99 ms [95% CI]",
    "throughput rps [95% CI]",
    "errors",
    "cache hit",
    "CPU ms/req",
    "bench ms/req",
    "bound by",
    "audit",
)
# CI logs are not terminals; rich would wrap the tables at 80 columns.
_LOG_WIDTH = 160


def report_console() -> Console:
    """The console commands print their tables to: the terminal's width, or wide in a CI log."""
    console = Console()
    return console if console.is_terminal else Console(width=_LOG_WIDTH)


_VERDICT_STYLE = {
    "MIGRATE": "bold green",
    "DO NOT MIGRATE": "bold red",
    "INCONCLUSIVE": "bold yellow",
}


def console_table(results: Results) -> Table:
    verdicts = (
        ", ".join(f"{d.candidate} [{_VERDICT_STYLE[d.verdict]}]{d.verdict}[/]" for d in results.decisions)
        or "not decided"
    )
    table = Table(
        title=f"{results.run_id}: {verdicts}",
        caption="latency in ms, throughput in answered requests/s, [95% CI]; dim rows are not usable "
        "for the verdict (see the report)",
    )
    frame = decision_table(results)
    columns = [c for c in CONSOLE_COLUMNS if c in frame.columns]
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in ("service", "load", "bound by", "audit") else "right",
        )
    for _, row in frame.iterrows():
        style = None if row["usable"] == "yes" else "dim"
        table.add_row(*(str(row[c]) for c in columns), style=style)
    return table


def _frame_table(frame: pd.DataFrame, title: str, failing: str) -> Table:
    """A rich table of a report frame; rows whose ``failing`` column reads FAIL/GROWING in red."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column)
    for _, row in frame.iterrows():
        bad = str(row[failing]).startswith(("FAIL", "GROWING"))
        table.add_row(*(str(value) for value in row), style="red" if bad else None)
    return table


def faults_console_table(results: Results) -> Table:
    return _frame_table(faults_table(results), "Faults: errors, recovery, /ready and the delivery audit", "audit")


def soak_console_table(results: Results) -> Table:
    return _frame_table(soak_table(results), "Soak: RSS over the measured window", "memory")
