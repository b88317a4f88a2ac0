"""CI performance gate: judge a finished run (results.json or its run directory) against success
criteria and, with --baseline, flag regressions in latency, throughput and cost against another
run the way asv and Bencher do (a change beyond --max-regression that its interval also shows;
see harness.gate.regression for what two runs can and cannot show). Prints the run's verdict and
target load per candidate (not gated), a table, and writes JUnit XML and a Markdown summary
($GITHUB_STEP_SUMMARY).

Exit codes: 0 pass, 1 fail (a criterion or delivery audit failed, or a significant regression),
2 inconclusive (something this machine could have judged was not, or the inputs cannot be read).
A criterion whose load needs a bigger machine, or a level the run left out, never gives 2: the
run's target-load answer has it.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from ..analysis import CriteriaError, load_criteria
from ..gate import (
    ACROSS_RUNS_FACTOR,
    DEFAULT_ALPHA,
    DEFAULT_MAX_REGRESSION,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    judge_run,
    print_gate,
    write_junit,
    write_markdown,
)
from ..records import load_run_records
from ..report.console import report_console
from ..results import Results, load_results

HELP = "CI performance gate: criteria, audit, regressions and cost vs a baseline; exit 0 pass, 1 fail, 2 inconclusive"

JUNIT_FILE = "gate-junit.xml"
MARKDOWN_FILE = "gate-summary.md"


def _positive(below_one: bool) -> object:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (0 < value < 1 if below_one else value > 0):
            raise argparse.ArgumentTypeError(f"must be {'between 0 and 1' if below_one else '> 0'}: {text!r}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", metavar="RESULTS", type=Path, help="a run's results.json, or the run directory holding it"
    )
    parser.add_argument(
        "--criteria",
        type=Path,
        default=None,
        metavar="FILE",
        help="criteria TOML (default: the shipped harness/criteria.toml; the shipped "
        "criteria-ci.toml suits noisy CI machines, found by name from anywhere)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="BASELINE",
        help="another run's results.json or directory (e.g. from main): flag regressions",
    )
    parser.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"JUnit XML output (default: {JUNIT_FILE} next to RESULTS)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"Markdown summary output (default: {MARKDOWN_FILE} next to RESULTS)",
    )
    parser.add_argument(
        "--max-regression",
        type=_positive(below_one=False),
        default=DEFAULT_MAX_REGRESSION,
        metavar="FACTOR",
        help="relative change allowed before a significant one fails, for every metric (default: each "
        "metric's own margin, the verdict's: 0.1, CPU per request 0.2); a latency rise across runs with fewer "
        f"than 3 trials a level is advisory up to {ACROSS_RUNS_FACTOR:g}x it",
    )
    parser.add_argument(
        "--alpha",
        type=_positive(below_one=True),
        default=DEFAULT_ALPHA,
        help="significance level of the Mann-Whitney U test on per-request latencies (default %(default)g)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the bootstrap resampling")


class _Unreadable(Exception):
    """An input the gate cannot read; the message says which and why."""


def _run_dir(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _read_run(path: Path, what: str) -> tuple[Results, pd.DataFrame | None]:
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise _Unreadable(f"{what} {file} not found: give a results.json or a run directory holding one")
    try:
        results = load_results(file)
    except (OSError, ValueError, ValidationError) as error:  # JSON syntax, schema version, content
        raise _Unreadable(f"{what} {file} is not a valid results file: {error}") from None
    return results, load_run_records(_run_dir(path), results.records_file)


def _criteria_file(path: Path | None) -> Path | None:
    """``path``, or the criteria file shipped with the harness under that name (so
    ``--criteria criteria-ci.toml`` works from any directory and from an installed package)."""
    if path is None or path.exists():
        return path
    shipped = resources.files("harness").joinpath(path.name)
    return Path(str(shipped)) if shipped.is_file() and path.suffix == ".toml" else path


def run(args: argparse.Namespace) -> int:
    console = report_console()
    try:
        results, records = _read_run(args.results, "results")
        baseline, baseline_records = _read_run(args.baseline, "baseline") if args.baseline is not None else (None, None)
        criteria = load_criteria(_criteria_file(args.criteria))
    except (_Unreadable, CriteriaError) as error:
        print(f"harness gate: {error} (exit {EXIT_INCONCLUSIVE}: nothing was judged)", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    gate = judge_run(
        results,
        criteria,
        records=records,
        baseline=baseline,
        baseline_records=baseline_records,
        max_regression=args.max_regression,
        alpha=args.alpha,
        seed=args.seed,
    )
    print_gate(gate, console)
    here = _run_dir(args.results)
    try:
        junit = write_junit(gate, args.junit or here / JUNIT_FILE)
        markdown = write_markdown(gate, args.markdown or here / MARKDOWN_FILE)
    except OSError as error:
        print(f"harness gate: cannot write the gate's reports: {error}", file=sys.stderr)
        return gate.exit_code if gate.exit_code == EXIT_FAIL else EXIT_INCONCLUSIVE
    console.print(f"JUnit: {junit}\nMarkdown: {markdown}")
    return gate.exit_code
