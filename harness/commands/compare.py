"""Drive the baseline and every candidate with Locust at each user step on a real MongoDB wire
server, report p50/p95/p99, throughput, cache hit rate, CPU, memory and a delivery audit, and
decide each candidate: MIGRATE, DO NOT MIGRATE or INCONCLUSIVE.

By default the baseline is the original design and the candidates are the checklist's design as
written and the optimized one (the checklist with a shared outbound client, and the other choices
`harness variants` lists), interleaved in one run. quick (the default, what `make compare` runs):
short steps, one trial. full: longer steps with warm-up and three interleaved trials per step, for
confidence intervals.
"""

from __future__ import annotations

import argparse

from ._runs import add_run_arguments, add_variant_arguments, run_from_args

HELP = "compare the baseline with every candidate under load and decide each migration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_variant_arguments(parser)
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    candidates = tuple(name for name in args.candidates if name != args.baseline)
    return run_from_args(
        args, services=(args.baseline, *candidates), baseline=args.baseline, candidates=candidates, command="compare"
    )
