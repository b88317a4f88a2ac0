"""Drive both services with Locust at each user step on a real MongoDB wire server, report
p50/p95/p99, throughput, cache hit rate, CPU, memory and a delivery audit, and decide:
MIGRATE, DO NOT MIGRATE or INCONCLUSIVE.

quick (the default, what `make compare` runs): short steps, one trial. full: longer steps with
warm-up and three interleaved trials per step, for confidence intervals.
"""

from __future__ import annotations

import argparse

from ..compare import BASELINE, CANDIDATE
from ..runner import add_run_arguments, run_from_args

HELP = "compare original vs optimized under load and decide the migration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_from_args(args, services=(BASELINE, CANDIDATE), command="compare")
