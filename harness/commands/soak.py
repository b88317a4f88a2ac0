"""Soak: run each service under constant load for a long window (250 users for 10 minutes by
default), sample the RSS of its processes every --sample-interval seconds after the warm-up,
and fit the slope. The memory is growing when even the low end of the slope's 95% interval
exceeds 0.5 MB/min; the decision's "no memory growth" criterion judges it, beside the others.
"""

from __future__ import annotations

import argparse

from ..compare import BASELINE, CANDIDATE, default_run_dir
from ..report.console import report_console
from ..runner import add_run_arguments, plan_from_args, run_with_console
from ..soak import DEFAULT_SAMPLE_INTERVAL_S, soak_plan

HELP = "constant load for a long window; RSS over time and its slope (memory growth)"

_BOTH = "both"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    soak = parser.add_argument_group("soak")
    soak.add_argument("--service", choices=[BASELINE, CANDIDATE, _BOTH], default=_BOTH)
    soak.add_argument("--duration", dest="step_duration", type=_positive, metavar="S",
                      help="seconds of load watched, after the warm-up (same as --step-duration)")  # fmt: skip
    soak.add_argument("--sample-interval", type=_positive, default=DEFAULT_SAMPLE_INTERVAL_S, metavar="S",
                      help="seconds between RSS samples")  # fmt: skip
    add_run_arguments(parser)
    parser.set_defaults(users=(250,), step_duration=600.0, warmup=30.0)


def run(args: argparse.Namespace) -> int:
    console = report_console()
    services = (BASELINE, CANDIDATE) if args.service == _BOTH else (args.service,)
    try:
        plan = soak_plan(plan_from_args(args, services, "soak"), args.sample_interval)
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        return 2
    run_dir = args.out or default_run_dir()
    return run_with_console(plan, run_dir, console)
