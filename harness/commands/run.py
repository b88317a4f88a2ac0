"""Measure one service alone, with the same steps and outputs as `harness compare` (no
migration verdict: that needs both)."""

from __future__ import annotations

import argparse

from ..runner import add_run_arguments, run_from_args

HELP = "measure one service alone (same outputs as compare)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", required=True, choices=["original", "optimized"])
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_from_args(args, services=(args.service,), command="run")
