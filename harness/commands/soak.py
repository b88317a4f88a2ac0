"""Soak: run each variant under constant load for a long window (250 users for 10 minutes by
default), sample the RSS of its processes every --sample-interval seconds after the warm-up,
and fit the slope. The memory is growing when even the low end of the slope's 95% interval
exceeds 0.5 MB/min; the decision's "no memory growth" criterion judges it, beside the others.
"""

from __future__ import annotations

import argparse

from ..report.console import report_console
from ..runs import default_run_dir
from ..runs.soak import DEFAULT_SAMPLE_INTERVAL_S, soak_plan
from ._runs import add_run_arguments, add_variants_argument, positive, run_with_console, variants_plan

HELP = "constant load for a long window; RSS over time and its slope (memory growth)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    soak = parser.add_argument_group("soak")
    soak.add_argument(
        "--duration",
        dest="step_duration",
        type=positive,
        metavar="S",
        help="seconds of load watched, after the warm-up (same as --step-duration)",
    )
    soak.add_argument(
        "--sample-interval",
        type=positive,
        default=DEFAULT_SAMPLE_INTERVAL_S,
        metavar="S",
        help="seconds between RSS samples",
    )
    add_variants_argument(parser)
    add_run_arguments(parser)
    parser.set_defaults(users=(250,), step_duration=600.0, warmup=30.0)


def run(args: argparse.Namespace) -> int:
    console = report_console()
    try:
        plan = variants_plan(args, "soak")
        plan = soak_plan(plan, args.sample_interval)
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        return 2
    return run_with_console(plan, args.out or default_run_dir(), console)
