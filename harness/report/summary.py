"""The run in Markdown: ``summary.md``, short enough for a PR comment, and ``details.md``, every
table.

``summary.md`` follows the report's first screen: the two answers per candidate (the headline
lines and the target-load lines, worded by :mod:`.answers` as the console prints them), each
verdict with its top reasons, what the evidence rests on and what next, the checklist's claims,
then links to the full report and the tables (and the screenshot when there is one). Every
reason in full and every ratio are in ``details.md``. It stays under :data:`SUMMARY_MAX_LINES`
lines.
``details.md`` has what the report's tables have.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..results import Results
from ..terms import load_label
from .answers import answers, no_verdict, target_heading, target_lines
from .capacity import capacity_cards, capacity_facts, capacity_headline
from .firstscreen import attribution_line, cards, claims_matrix
from .matrix import criteria_matrix
from .tables import (
    attribution_table,
    capacity_table,
    claims_table,
    costs_table,
    criteria_table,
    decision_table,
    faults_table,
    notes,
    ratios_table,
    settings_lines,
    soak_table,
)

__all__ = ["DETAILS_FILE", "SUMMARY_MAX_LINES", "render_details", "render_summary", "run_facts"]

DETAILS_FILE = "details.md"
SUMMARY_MAX_LINES = 60


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"_{empty}_"
    return frame.map(_cell).to_markdown(index=False, disable_numparse=True)  # numbers stay as formatted


def run_facts(results: Results) -> str:
    """The run in one line: what bounds every figure (levels, steps, trials, the machine)."""
    if results.capacity is not None:
        return capacity_facts(results)
    s, load, machine = results.settings, results.settings.load, results.machine
    levels = ", ".join(load_label(users, rate) for users, rate in load.levels)
    return (
        f"{s.command}, {results.created_at:%Y-%m-%d %H:%M} UTC: {levels}; {load.step_duration_s:g} s steps after "
        f"{load.warmup_s:g} s warm-up, {load.trials} trial(s); {machine.cpu_count} CPUs, CPU isolation: "
        f"{s.bench.pinning}"
    )


def _answers_section(results: Results) -> list[str]:
    """The two answers first: a headline per candidate, then the target load of every service."""
    lines = [f"- **{_cell(answer.headline)}**" for answer in answers(results)]
    if (missing := no_verdict(results)) is not None:
        lines.append(f"- **{missing}**")
    if (heading := target_heading(results)) is not None:
        lines += ["", f"**{_cell(heading)}**", ""]
        for line in target_lines(results):
            extra = [line.assumptions] if line.assumptions else []
            extra += [f"measure: `{line.command}`"] if line.command else []
            lines.append(f"- {_cell('; '.join([line.text, *extra]))}")
    return ["", *lines] if lines else []


def _verdict_section(results: Results, details: bool) -> list[str]:
    lines: list[str] = []
    for card in cards(results):
        lines += ["", f"## {card.candidate} against {card.baseline}: {card.verdict}", ""]
        lines += [f"- {_cell(reason)}" for reason in card.reasons]
        lines += ["", "Trust: " + " · ".join(_cell(item.text) for item in card.trust) + "  "]
        lines.append("Next: " + "; ".join(_cell(step) for step in card.next_steps))
    if results.decisions and details:
        lines += ["", f"_Every reason in full, and every ratio with its interval: [{DETAILS_FILE}]({DETAILS_FILE})_"]
    return lines


def _capacity_section(results: Results) -> list[str]:
    lines: list[str] = []
    for card in capacity_cards(results):
        lines += ["", f"## {card.service}: {card.capacity} at {card.workers} worker CPU(s)", ""]
        lines.append(f"- per CPU: {card.per_cpu}; {'validated by a longer run' if card.validated else 'not validated'}")
        lines += [f"- {_cell(text)}" for text in (card.against, card.projection, card.database) if text]
        lines += [f"- note: {_cell(note)}" for note in card.notes]
    return lines


def _claims_section(results: Results) -> list[str]:
    matrix = claims_matrix(results)
    if not matrix:
        return []
    header = ["claim", "promised", *matrix.candidates]
    rows = [
        [claim, promised, *(f"{cell.note}: {cell.text}" if cell else "" for cell in cells)]
        for claim, promised, cells in matrix.rows
    ]
    frame = pd.DataFrame(rows, columns=header)
    return ["", "## The checklist's claims", "", _table(frame, "no claims checked")]


def render_summary(results: Results, links: Sequence[str] = ()) -> str:
    """Markdown for a PR comment: the verdicts and their headline figures; ``links`` are the
    files beside it (report.html, details.md, report.png) that it names, relative to it."""
    title = f"# Migration benchmark {results.run_id}"
    if results.capacity is not None:
        title += f": {capacity_headline(results.capacity)[0]}"
    lines = [title, "", run_facts(results)]
    if not results.complete:
        lines += ["", f"**Run incomplete:** {_cell(results.incomplete_reason or 'stopped early')}"]
    lines += _answers_section(results)
    if results.capacity is not None:
        lines += _capacity_section(results)
    else:
        lines += _verdict_section(results, DETAILS_FILE in links)
    lines += _claims_section(results)
    if results.attribution is not None and (line := attribution_line(results.attribution)):
        lines += ["", f"Attribution ({results.attribution.baseline} -> {results.attribution.target}): {line}"]
    if results.faults:
        lines += ["", "## Faults", "", _table(faults_table(results), "no fault results")]
    if results.soak:
        lines += ["", "## Soak and memory", "", _table(soak_table(results), "no soak results")]
    settings = " · ".join(_cell(line) for line in settings_lines(results))
    lines += ["", "<details><summary>Machine and settings</summary>", "", settings, "", "</details>"]
    named = set(links)
    files = [
        f"[{name}]({name}) ({what})"
        for name, what in (
            ("report.html", "the full report, self-contained: open it in a browser"),
            (DETAILS_FILE, "every table"),
        )
        if name in named
    ]
    if files:
        lines += ["", "Full report: " + "; ".join(files)]
    if "report.png" in named:
        lines += ["", "![the report's first screen](report.png)"]
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


def _matrix_markdown(results: Results) -> str:
    matrix = criteria_matrix(results.criteria, results.settings.services)
    if not matrix:
        return "_no criteria judged_"
    header = ["criterion", *(f"{service} {level}" for service, level in matrix.columns)]
    rows = [
        [f"{row.criterion} ({row.rule})", *(f"{c.mark} {c.text}".strip() if c else "" for c in row.cells)]
        for row in matrix.rows
    ]
    return _table(pd.DataFrame(rows, columns=header), "no criteria judged")


def render_details(results: Results, plots: Sequence[Path] = (), base: Path | None = None) -> str:
    """Every table of the run in Markdown; ``plots`` are linked relative to ``base``."""
    lines = [f"# Migration benchmark {results.run_id}: every table", "", "## Machine and settings", ""]
    lines += [f"- {line}" for line in settings_lines(results)]
    for decision in results.decisions:
        lines += ["", f"## {decision.candidate} against {decision.baseline}: {decision.verdict}", ""]
        lines += [f"- {_cell(reason.text)}" for reason in decision.reasons]
    if (heading := target_heading(results)) is not None:
        lines += ["", "## Target load", "", heading, ""]
        for line, target in zip(target_lines(results), results.targets, strict=True):
            lines.append(f"- {_cell(line.text)}")
            lines += [f"  - {_cell(text)}" for text in (target.detail, target.assumptions) if text]
            lines += [f"  - measure: `{target.command}`"] if target.command else []
    lines += [
        "",
        "## Decision table",
        "",
        "Latencies in ms (nearest-rank percentiles of every measured request), throughput in answered "
        "requests/s, [95% bootstrap CI]. Figures are rounded against the service.",
        "",
        _table(decision_table(results), "no measured steps"),
    ]
    if results.faults:
        lines += ["", "## Faults", "", FAULTS_HINT, "", _table(faults_table(results), "no fault results")]
    if results.soak:
        lines += ["", "## Soak and memory", "", SOAK_HINT, "", _table(soak_table(results), "no soak results")]
    lines += [
        "",
        "## Criteria",
        "",
        "✓ pass, ✗ fail, ? not judged (holds the verdict at inconclusive), n/a not judged by design.",
        "",
        _matrix_markdown(results),
        "",
        "### Every criterion, one row per service and level",
        "",
        _table(criteria_table(results.criteria), "no criteria judged"),
        "",
        "## Ratios (candidate / baseline)",
        "",
        "Below 1 is better for latency, above 1 for throughput. Where both services filled their CPUs "
        '("both saturated"), latency is the queue the load builds: the verdict compares only throughput there.',
        "",
        _table(ratios_table(results), "no load level ran both services"),
    ]
    if results.claims:
        lines += ["", "## The checklist's claims", "", _table(claims_table(results), "no claims checked")]
    if results.costs:
        lines += ["", "## Cost per message", "", _table(costs_table(results), "no costs")]
    if results.capacity is not None:
        lines += ["", "## Capacity", "", _table(capacity_table(results), "no capacity measured")]
    if results.attribution is not None:
        lines += ["", "## Attribution", ""]
        if line := attribution_line(results.attribution):
            detail = results.attribution.minimal.detail if results.attribution.minimal else ""
            lines += [f"{_cell(line)}: {_cell(detail)}", ""]
        lines += [_table(attribution_table(results), "no change measured")]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{path.stem}]({path.relative_to(base) if base else path})" for path in plots]
    run_notes = notes(results)
    if run_notes:
        lines += ["", "## Notes", ""] + [f"- {_cell(note)}" for note in run_notes]
    return "\n".join(lines) + "\n"
