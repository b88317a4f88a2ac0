"""``report.html``: one self-contained file (inline style, the plots embedded as PNG, no script,
nothing fetched), so it shows everything when mailed or attached to a CI run.

Reading order: the first screen (the two answers per candidate, a verdict card per candidate,
the checklist's claims, what each change earns), then the plots (against the load level, then
over time), then the tables (the criteria matrix, the decision table, the rest folded).
``docs/report.md`` says how to read it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import jinja2
import pandas as pd

from ..results import Results
from .answers import answers, no_verdict, target_heading, target_lines
from .capacity import capacity_cards, capacity_headline
from .firstscreen import attribution_line, cards, claims_matrix
from .matrix import criteria_matrix
from .plots import RenderedPlot
from .summary import FAULTS_HINT, SOAK_HINT, run_facts
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

__all__ = ["render_html"]

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,  # every value from the run is escaped; only our own table markup is trusted
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_VERDICT_CLASS = {"MIGRATE": "migrate", "DO NOT MIGRATE": "refuse", "INCONCLUSIVE": "inconclusive"}


def _html_table(frame: pd.DataFrame) -> str | None:
    return None if frame.empty else frame.to_html(index=False, escape=True, border=0, classes="figures")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _images(plots: Sequence[RenderedPlot], section: str) -> list[tuple[str, str]]:
    return [(plot.title, _data_uri(plot.png)) for plot in plots if plot.section == section]


def render_html(results: Results, plots: Sequence[RenderedPlot] = ()) -> str:
    verdict = " / ".join(f"{d.candidate}: {d.verdict}" for d in results.decisions) or "not decided"
    lead = capacity_headline(results.capacity) if results.capacity is not None else None
    return _ENVIRONMENT.get_template("report.html.j2").render(
        results=results,
        verdict=verdict,
        verdict_class=_VERDICT_CLASS,
        answers=answers(results),
        no_verdict=no_verdict(results),
        lead=lead,
        target_heading=target_heading(results),
        targets=target_lines(results),
        facts=run_facts(results),
        cards=cards(results),
        capacity_cards=capacity_cards(results),
        claims=claims_matrix(results),
        attribution_images=_images(plots, "first_screen"),
        attribution_line=attribution_line(results.attribution) if results.attribution else None,
        level_images=_images(plots, "levels"),
        time_images=_images(plots, "over_time"),
        matrix=criteria_matrix(results.criteria, results.settings.services),
        criteria_rows=len(results.criteria),
        criteria_table=_html_table(criteria_table(results.criteria)),
        decision_table=_html_table(decision_table(results)),
        ratios_table=_html_table(ratios_table(results)),
        claims_table=_html_table(claims_table(results)),
        costs_table=_html_table(costs_table(results)),
        attribution_table=_html_table(attribution_table(results)),
        capacity_table=_html_table(capacity_table(results)),
        faults_table=_html_table(faults_table(results)),
        faults_hint=FAULTS_HINT,
        soak_table=_html_table(soak_table(results)),
        soak_hint=SOAK_HINT,
        settings=settings_lines(results),
        notes=notes(results),
    )
