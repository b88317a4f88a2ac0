"""``report.html``: the same content as ``summary.md`` in one HTML file (inline style, no
scripts, nothing fetched); the PNG plots beside it are referenced by relative path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2
import pandas as pd

from ..results import Results
from .summary import FAULTS_HINT, SOAK_HINT
from .tables import (
    criteria_table,
    decision_table,
    faults_table,
    notes,
    ratios_table,
    settings_lines,
    soak_table,
)

__all__ = ["render_html"]

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,  # every value from the run is escaped; only our own table markup is trusted
    undefined=jinja2.StrictUndefined,
)
_VERDICT_CLASS = {"MIGRATE": "migrate", "DO NOT MIGRATE": "refuse", "INCONCLUSIVE": "inconclusive"}


def _html_table(frame: pd.DataFrame) -> str | None:
    return None if frame.empty else frame.to_html(index=False, escape=True, border=0, classes="figures")


def render_html(results: Results, plots: Sequence[Path] = (), base: Path | None = None) -> str:
    verdict = " / ".join(f"{d.candidate}: {d.verdict}" for d in results.decisions) or "not decided"
    return _ENVIRONMENT.get_template("report.html.j2").render(
        results=results,
        settings=settings_lines(results),
        verdict=verdict,
        verdicts=[
            (d.candidate, d.baseline, d.verdict, _VERDICT_CLASS[d.verdict], [r.text for r in d.reasons])
            for d in results.decisions
        ],
        decision_table=_html_table(decision_table(results)),
        criteria_table=_html_table(criteria_table(results.criteria)),
        ratios_table=_html_table(ratios_table(results)),
        faults_table=_html_table(faults_table(results)),
        faults_hint=FAULTS_HINT,
        soak_table=_html_table(soak_table(results)),
        soak_hint=SOAK_HINT,
        plots=[(path.stem.replace("_", " "), str(path.relative_to(base) if base else path)) for path in plots],
        notes=notes(results),
    )
