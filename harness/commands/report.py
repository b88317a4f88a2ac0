"""Re-render a run's report from DIR/results.json (and the run's per-request records when
present): report.html (self-contained, first screen first), summary.md (short, for a PR
comment), details.md (every table), plots/*.png and, when a Chromium is installed (or
$HARNESS_CHROMIUM names one), report.png, the report's first screen. With --criteria,
re-judge the run under another criteria file first (from its stored figures; nothing is run
again) and store the new decision. docs/report.md says how to read the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from ..analysis import CriteriaError, conclude, load_criteria, rejudge
from ..analysis.claims import repriced
from ..records import load_run_records
from ..report import write_report
from ..results import load_results, save_results
from ._runs import add_price_argument

HELP = "re-render a run's report from its results.json"

EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", type=Path, help="run directory holding results.json")
    parser.add_argument(
        "--criteria",
        type=Path,
        default=None,
        metavar="FILE",
        help="re-judge the run under this criteria file (updates the decision in results.json)",
    )
    add_price_argument(parser)


def _records_or_empty(directory: Path, named: str | None) -> pd.DataFrame:
    records = load_run_records(directory, named)
    return records if records is not None else pd.DataFrame()


def _fail(message: str) -> int:
    print(f"harness report: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _verdicts(results: object) -> str:
    decisions = getattr(results, "decisions", [])
    return ", ".join(f"{d.candidate}: {d.verdict}" for d in decisions) or "no candidate decided"


def run(args: argparse.Namespace) -> int:
    path = args.directory / "results.json"
    if not path.is_file():
        return _fail(f"{path} not found: is {args.directory} a run directory?")
    try:
        results = load_results(path)
    except (ValueError, ValidationError) as error:  # JSON syntax, schema version, or content
        return _fail(f"{path} is not a valid results file: {error}")
    if args.criteria is not None:
        try:
            criteria = load_criteria(args.criteria)
        except CriteriaError as error:
            return _fail(str(error))
        results = rejudge(results, criteria).model_copy(
            update={"settings": results.settings.model_copy(update={"criteria_file": criteria.source})}
        )
        save_results(results, args.directory)
        print(f"re-judged under {criteria.source}: {_verdicts(results)}")
    elif not results.summaries and results.steps and results.capacity is None:
        # The run stopped before its analysis (a crash, Ctrl-C): finish it from what it measured.
        records = _records_or_empty(args.directory, results.records_file)
        results = conclude(results, records, load_criteria(None), seed=results.settings.load.seed)
        save_results(results, args.directory)
        print(f"analysed the stored steps: {_verdicts(results)}")
    elif results.decisions:
        print(f"verdicts: {_verdicts(results)}")
    if args.price_per_vcpu_hour is not None:
        results = repriced(results, args.price_per_vcpu_hour)
        save_results(results, args.directory)
        print(f"cost figures at {args.price_per_vcpu_hour:g} USD per vCPU-hour")
    # Without a browser the report is complete; the line printed says how to get report.png.
    for written in write_report(results, args.directory, note=print):
        print(written)
    return 0
