"""Inject a fault into every measured step and show how each service weathers it: errors during
the fault, time to recover after it, /ready turning 503 and back, and the delivery audit
(0 replies lost, 0 doubled, 0 sent with a wrong token).

db-outage stops the embedded database and restarts it on the same port with its data;
upstream-errors makes a share of the Graph API sends fail (500) or hang past the services'
timeout; upstream-slow slows every send and makes a share hang. The Locust users retry failed
deliveries as Meta does, for longer than the fault lasts, so the messages it failed are
delivered after it. A fault run is judged by fault_criteria.toml unless --criteria says otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from ..compare import BASELINE, CANDIDATE, default_run_dir
from ..faults import FAULT_KINDS, FaultSpec, FaultUnavailable, fault_plan
from ..report.console import report_console
from ..runner import add_run_arguments, plan_from_args, run_with_console
from ..services import APPS

HELP = "inject a fault (db-outage, upstream-errors, upstream-slow) and audit every reply"

FAULT_CRITERIA_FILE = Path(__file__).resolve().parents[1] / "fault_criteria.toml"
_SERVICES = tuple(name for name in APPS if name != "echo")


def _services(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in _SERVICES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected services from {', '.join(_SERVICES)}, got {text!r}")
    return names


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    fault = parser.add_argument_group("fault")
    fault.add_argument("--fault", required=True, choices=FAULT_KINDS)
    fault.add_argument("--fault-start", type=float, default=10.0, metavar="S",
                       help="seconds into each measured window")  # fmt: skip
    fault.add_argument("--fault-duration", type=float, default=10.0, metavar="S")
    fault.add_argument("--graph-timeout", type=float, default=2.0, metavar="S",
                       help="the services' GRAPH_API_TIMEOUT in this run (hangs last twice as long)")  # fmt: skip
    fault.add_argument("--error-rate", type=_share, default=0.3,
                       help="upstream-errors: share of Graph API sends answered 500")  # fmt: skip
    fault.add_argument("--timeout-rate", type=_share, default=None,
                       help="share of sends that hang past the timeout (default 0.1 errors, 0.2 slow)")  # fmt: skip
    fault.add_argument("--slow-ms", type=float, default=None,
                       help="upstream-slow: latency of the sends that answer (default half the timeout)")  # fmt: skip
    fault.add_argument("--services", type=_services, default=(BASELINE, CANDIDATE), metavar="S,S",
                       help=f"services to break ({', '.join(_SERVICES)})")  # fmt: skip
    add_run_arguments(parser)
    # One load level by default; the window defaults to the fault's recommended one (see run).
    parser.set_defaults(users=(100,))


def run(args: argparse.Namespace) -> int:
    console = report_console()
    try:
        spec = FaultSpec(
            args.fault, start_s=args.fault_start, duration_s=args.fault_duration,
            graph_timeout_s=args.graph_timeout, error_rate=args.error_rate, timeout_rate=args.timeout_rate,
            slow_latency_ms=args.slow_ms,
        )  # fmt: skip
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        return 2
    plan = plan_from_args(args, args.services, "chaos")
    if args.step_duration is None:
        plan = replace(plan, step_duration_s=spec.recommended_window_s)
    elif plan.step_duration_s < spec.recommended_window_s:
        console.print(f"[yellow]a {plan.step_duration_s:g} s window leaves little time after the fault for "
                      f"retries to land ({spec.recommended_window_s:g} s recommended): messages still being "
                      f"retried when it ends show as unacknowledged[/]")  # fmt: skip
    if args.criteria is None:
        plan = replace(plan, criteria_file=FAULT_CRITERIA_FILE)
    run_dir = args.out or default_run_dir()
    with tempfile.TemporaryDirectory(prefix="harness-chaos-db-") as storage:
        try:
            plan = fault_plan(plan, spec, Path(storage))
        except (ValueError, FaultUnavailable) as error:
            console.print(f"[red]{error}[/]")
            return 2
        console.print(f"[bold]fault:[/] {spec.describe()}; Locust retries {plan.retries} times from "
                      f"{plan.retry_backoff_s:g} s, doubling")  # fmt: skip
        return run_with_console(plan, run_dir, console)
