"""The console at the end of a run (``rich``): the two answers first, then the step table, then
the fault and soak tables ``chaos`` and ``soak`` print.

The answers (:mod:`.answers`) come first so they fit one screen of a 120-column terminal: each
candidate's headline and top reasons, then the target-load lines of every service. The step
table follows with one line per row (short columns, no intervals: those are in details.md and
the report).
"""

from __future__ import annotations

import textwrap

import pandas as pd
from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..results import Results
from ..terms import Verdict
from .answers import answers, no_verdict, target_heading, target_lines
from .tables import faults_table, soak_table, steps_table

__all__ = [
    "CONSOLE_WIDTH",
    "console_table",
    "faults_console_table",
    "print_answers",
    "report_console",
    "soak_console_table",
]

# A CI log is not a terminal; rich would wrap at 80 columns. The answers are laid out for this.
CONSOLE_WIDTH = 120
_INDENT = 4
_VERDICT_COLOURS = {Verdict.MIGRATE: "green", Verdict.DO_NOT_MIGRATE: "red", Verdict.INCONCLUSIVE: "yellow"}
_LEFT = ("svc", "load", "bound", "audit", "usable")
_SHRINKS = ("svc", "bound")  # in a narrow terminal these are cut, never a figure


def report_console() -> Console:
    """The console commands print to: the terminal's width, or 120 columns in a CI log."""
    console = Console()
    return console if console.is_terminal else Console(width=CONSOLE_WIDTH)


def _indented(text: str | Text, indent: int = _INDENT) -> Padding:
    """A line indented; rich wraps what is too long under the indent, not at the margin."""
    return Padding(text, (0, 0, 0, indent), expand=False)


def _command_lines(command: str, width: int) -> list[str]:
    """The command wrapped for a shell: every line but the last ends in a backslash."""
    room = max(width - _INDENT - 4, 40)
    parts = textwrap.wrap(f"measure: {command}", room, break_long_words=False, break_on_hyphens=False)
    return [("" if i == 0 else "  ") + part + (" \\" if i < len(parts) - 1 else "") for i, part in enumerate(parts)]


def print_answers(console: Console, results: Results) -> None:
    """Each candidate's headline and top reasons, then the target load of every service."""
    for answer in answers(results):
        console.print(Text(answer.headline, style=f"bold {_VERDICT_COLOURS[answer.verdict]}"))
        for reason in answer.reasons:
            console.print(_indented(Text(f"- {reason}"), 2))
    if (missing := no_verdict(results)) is not None:
        console.print(Text(missing, style="bold"))
    heading = target_heading(results)
    if heading is None:
        return
    console.print()
    console.print(Text(heading, style="bold"))
    for line in target_lines(results):
        console.print(Text.assemble((line.label, "bold"), f": {line.capacity}"))
        console.print(_indented(Text(line.need)))
        more = "; ".join(part for part in (line.cost, line.assumptions) if part)
        if more:
            console.print(_indented(Text(more)))
        for part in _command_lines(line.command, console.width) if line.command else []:
            console.print(_indented(Text(part, style="dim")))


def console_table(results: Results) -> Table:
    """The step table, one line per row however narrow the terminal: a cell too long is cut."""
    table = Table(
        title="Steps: one row per service and load (intervals in details.md and report.html)",
        title_justify="left",
        caption="dim rows are not usable for the verdict",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    frame = steps_table(results)
    for column in frame.columns:
        widest = max([len(column), *(len(str(value)) for value in frame[column])])
        table.add_column(
            column,
            justify="left" if column in _LEFT else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=None if column in _SHRINKS else widest,
        )
    for _, row in frame.iterrows():
        table.add_row(*(str(value) for value in row), style=None if row["usable"] == "yes" else "dim")
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
