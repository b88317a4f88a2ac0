"""The run's report: ``summary.md``, ``report.html`` and PNG plots, from ``results.json``.

Rendering is pure: the figures and the verdict are already in :class:`~harness.results.Results`;
the per-request records, when present, only add the latency CDF.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..records import load_run_records
from ..results import Results
from .console import console_table
from .html import render_html
from .plots import PLOTS_DIR, write_plots
from .summary import render_summary

__all__ = [
    "HTML_FILE",
    "SUMMARY_FILE",
    "console_table",
    "render_html",
    "render_summary",
    "write_plots",
    "write_report",
]

SUMMARY_FILE = "summary.md"
HTML_FILE = "report.html"


def write_report(results: Results, run_dir: Path | str, records: pd.DataFrame | None = None) -> list[Path]:
    """Write ``summary.md``, ``report.html`` and ``plots/*.png`` into ``run_dir``.

    ``records`` default to the run directory's own. Returns the paths written, the two
    documents first.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if records is None:
        records = load_run_records(run_dir, results.records_file)
    plots = write_plots(results, records, run_dir / PLOTS_DIR)
    summary = run_dir / SUMMARY_FILE
    summary.write_text(render_summary(results, plots, run_dir), encoding="utf-8")
    html = run_dir / HTML_FILE
    html.write_text(render_html(results, plots, run_dir), encoding="utf-8")
    return [summary, html, *plots]
