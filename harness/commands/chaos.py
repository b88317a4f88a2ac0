"""Inject a fault into every measured step and show how each variant weathers it: errors during
the fault, time to recover after it, /ready turning 503 and back, and the delivery audit
(0 replies lost, 0 doubled, 0 sent with a wrong token).

The Locust users retry failed deliveries as Meta does, for longer than the fault lasts, so the
messages it failed are delivered after it. A fault run is judged by fault_criteria.toml unless
--criteria says otherwise. The kinds:
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from ..report.console import report_console
from ..runs import default_run_dir
from ..runs.faults import FAULTS, FaultUnavailable, Timeline, fault_plan, recommended_window_s
from ._runs import add_run_arguments, add_variants_argument, run_with_console, share, variants_plan

HELP = "inject a fault (" + ", ".join(FAULTS) + ") and audit every reply"
__doc__ += "\n".join(f"  {kind:22} {fault.summary}" for kind, fault in FAULTS.items())

FAULT_CRITERIA_FILE = Path(__file__).resolve().parents[1] / "fault_criteria.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    fault = parser.add_argument_group("fault")
    fault.add_argument("--fault", required=True, choices=list(FAULTS))
    fault.add_argument("--fault-start", type=float, default=10.0, metavar="S", help="seconds into each measured window")
    fault.add_argument("--fault-duration", type=float, default=10.0, metavar="S")
    fault.add_argument(
        "--graph-timeout", type=float, default=2.0, metavar="S", help="the services' GRAPH_API_TIMEOUT in this run"
    )
    for flag, (option, kinds) in _fault_options().items():
        fault.add_argument(
            flag,
            dest=option.name,
            type=share if option.share else float,
            default=None,
            help="; ".join(f"{kind}: {help}" for kind, help in kinds),
        )
    add_variants_argument(parser)
    add_run_arguments(parser)
    # One load level by default; the window defaults to the fault's recommended one (see run).
    parser.set_defaults(users=(100,))


def _fault_options() -> dict[str, tuple[object, list[tuple[str, str]]]]:
    """Every fault kind's options by flag: one option, the kinds that read it and their help."""
    options: dict[str, tuple[object, list[tuple[str, str]]]] = {}
    for kind, fault in FAULTS.items():
        for option in fault.options:
            first, kinds = options.setdefault(option.flag, (option, []))
            if first.name != option.name or first.share != option.share:  # type: ignore[attr-defined]
                raise RuntimeError(f"fault option {option.flag} means two things")
            kinds.append((kind, option.help))
    return options


def run(args: argparse.Namespace) -> int:
    console = report_console()
    kind = FAULTS[args.fault]
    values = {option.name: getattr(args, option.name) for option in kind.options}
    values = {name: value for name, value in values.items() if value is not None}
    try:
        fault = kind(Timeline(args.fault_start, args.fault_duration, args.graph_timeout), values)
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        return 2
    plan = variants_plan(args, "chaos")
    window = recommended_window_s(fault)
    if args.step_duration is None:
        plan = replace(plan, load=plan.load.model_copy(update={"step_duration_s": window}))
    elif plan.load.step_duration_s < window:
        console.print(
            f"[yellow]a {plan.load.step_duration_s:g} s window leaves little time after the fault for "
            f"retries to land ({window:g} s recommended): messages still being "
            f"retried when it ends show as unacknowledged[/]"
        )
    if args.criteria is None:
        plan = replace(plan, criteria_file=FAULT_CRITERIA_FILE)
    run_dir = args.out or default_run_dir()
    with tempfile.TemporaryDirectory(prefix="harness-chaos-") as storage:
        try:
            plan = fault_plan(plan, fault, Path(storage))
        except (ValueError, FaultUnavailable) as error:
            console.print(f"[red]{error}[/]")
            return 2
        console.print(
            f"[bold]fault:[/] {fault.description()}; Locust retries {plan.load.retries} times from "
            f"{plan.load.retry_backoff_s:g} s, doubling"
        )
        return run_with_console(plan, run_dir, console)
