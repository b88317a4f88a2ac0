"""Measure one variant alone, with the same steps and outputs as `harness compare` (no
migration verdict: that needs a baseline and a candidate; its criteria are still judged)."""

from __future__ import annotations

import argparse

from ._runs import add_run_arguments, run_from_args, variant_name

HELP = "measure one variant alone (same outputs as compare)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--variant",
        required=True,
        type=variant_name,
        metavar="VARIANT",
        help="original, checklist, optimized, or NAME+TOKEN+... (see `harness variants`)",
    )
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_from_args(args, services=(args.variant,), baseline=None, candidates=(), command="run")
