"""The decision table for the terminal (``rich``), printed by ``compare`` at the end of a run."""

from __future__ import annotations

from rich.table import Table

from ..results import Results
from .tables import decision_table

__all__ = ["CONSOLE_COLUMNS", "console_table"]

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
    "bound by",
    "audit",
)
_VERDICT_STYLE = {
    "MIGRATE": "bold green",
    "DO NOT MIGRATE": "bold red",
    "INCONCLUSIVE": "bold yellow",
}


def console_table(results: Results) -> Table:
    verdict = results.decision.verdict if results.decision else "not decided"
    table = Table(
        title=f"{results.run_id}: [{_VERDICT_STYLE.get(verdict, 'bold')}]{verdict}[/]",
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
