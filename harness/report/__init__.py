"""The run's report, from ``results.json`` (and the per-request records when present):

* ``report.html``: one self-contained file (the plots embedded), first screen first;
* ``summary.md``: short, for a PR comment; ``details.md``: every table;
* ``plots/*.png``: the same plots as files, linked from the Markdown;
* ``report.png``: the report's first screen, whenever a Chromium is installed.

Rendering is pure: the figures and the verdicts are already in :class:`~harness.results.Results`;
the per-request records only add the latency CDF and the plots over time. ``docs/report.md``
says how to read the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..records import load_run_records
from ..results import Results
from .console import console_table
from .html import render_html
from .plots import PLOTS, PLOTS_DIR, render_plots, write_plots
from .screenshot import SCREENSHOT_FILE, find_chromium, no_chromium_hint, save_screenshot
from .summary import DETAILS_FILE, SUMMARY_MAX_LINES, render_details, render_summary

__all__ = [
    "DETAILS_FILE",
    "HTML_FILE",
    "PLOTS",
    "PLOTS_DIR",
    "SCREENSHOT_FILE",
    "SUMMARY_FILE",
    "SUMMARY_MAX_LINES",
    "console_table",
    "find_chromium",
    "no_chromium_hint",
    "render_details",
    "render_html",
    "render_plots",
    "render_summary",
    "save_screenshot",
    "write_plots",
    "write_report",
]

SUMMARY_FILE = "summary.md"
HTML_FILE = "report.html"
_log = logging.getLogger(__name__)


def write_report(
    results: Results,
    run_dir: Path | str,
    records: pd.DataFrame | None = None,
    *,
    screenshot: bool = True,
    note: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write ``summary.md``, ``details.md``, ``report.html``, ``plots/*.png`` and, when a Chromium
    is found (and ``screenshot``), ``report.png`` into ``run_dir``.

    ``records`` default to the run directory's own. Without a browser, ``note`` (default: this
    module's log, which the command line prints) is told how to get one; the report is complete
    either way. Returns the paths written: the summary, the report, the screenshot, the details,
    then the plots.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if records is None:
        records = load_run_records(run_dir, results.records_file)
    plots = render_plots(results, records)
    plot_files = write_plots(plots, run_dir / PLOTS_DIR)
    html = run_dir / HTML_FILE
    html.write_text(render_html(results, plots), encoding="utf-8")
    png: Path | None = None
    if screenshot:
        png, why_not = save_screenshot(html, run_dir / SCREENSHOT_FILE)
        if png is None and why_not:
            (note or _log.info)(why_not)
    else:
        (run_dir / SCREENSHOT_FILE).unlink(missing_ok=True)  # never a stale first screen
    details = run_dir / DETAILS_FILE
    details.write_text(render_details(results, plot_files, run_dir), encoding="utf-8")
    summary = run_dir / SUMMARY_FILE
    links = [HTML_FILE, DETAILS_FILE, *([SCREENSHOT_FILE] if png else [])]
    summary.write_text(render_summary(results, links), encoding="utf-8")
    return [summary, html, *([png] if png else []), details, *plot_files]
