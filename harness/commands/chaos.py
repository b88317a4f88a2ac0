"""Inject a fault into every measured step and show how each variant weathers it: errors during
the fault, time to recover after it, /ready turning 503 and back, and the delivery audit
(0 replies lost, 0 doubled, 0 sent with a wrong token).

The Locust users retry failed deliveries as Meta does, for longer than the fault lasts, so the
messages it failed are delivered after it. Two faults double replies by their nature, and the
audit counts those doubles apart: a worker killed between delivering a reply and marking it done
(worker-crash: its claim is taken over once the lease runs out), and a send answered as the
service gives up on it (upstream-timeout-edge: the Graph API has no idempotency key). Every other
double, like every lost reply, fails the audit; the named ones are judged by the thresholds of
fault_criteria.toml (the default criteria here; --criteria says otherwise). After the fault table
a second one shows where the doubles came from, the kills and the lease, and how each service
answered while the fault lasted. See docs/faults.md. The kinds:
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..report.console import report_console
from ..results import FaultResult, Results, load_results
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
        code = run_with_console(plan, run_dir, console)
    if (run_dir / "results.json").exists():
        print_fault_details(console, load_results(run_dir))
    return code


def print_fault_details(console: Console, results: Results) -> None:
    """Per service and fault step: the doubles by cause, the kills and the lease, the statuses
    answered during the fault and the probe's answer (the columns a fault left empty are left out)."""
    if not results.faults:
        return
    rows = [_detail_row(fault) for fault in results.faults]
    columns = [column for column in rows[0] if any(row[column] != "" for row in rows)]
    table = Table(title="Faults: where the doubles came from, and how each service answered")
    for column in columns:
        table.add_column(column)
    for row, fault in zip(rows, results.faults, strict=True):
        table.add_row(*(row[column] for column in columns), style="red" if not fault.audit.passed else None)
    console.print(table)


def _detail_row(fault: FaultResult) -> dict[str, str]:
    audit = fault.audit

    def optional(value: object, unit: str = "") -> str:
        return "" if value is None else f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"

    kills = "" if fault.kills is None else f"{fault.kills} (lease {fault.lease_s:g} s)"
    cut = ""
    if fault.messages_cut is not None:
        held = "no 2xx after" if fault.cut_to_ack_max_s is None else f"2xx <= {fault.cut_to_ack_max_s:g} s after"
        cut = f"{fault.messages_cut}, {fault.cut_unacknowledged} never 2xx; {held}"
    edge = "" if fault.edge_sends is None else f"{fault.edge_sends} ({fault.edge_late} after the timeout)"
    probe = ""
    if fault.probe is not None:
        probe = f"{fault.probe_status}" + (
            f", Retry-After {fault.probe_retry_after}" if fault.probe_retry_after else ", no Retry-After"
        )
    return {
        "service": fault.service,
        "fault": fault.fault,
        "answered during": ", ".join(f"{n}x {status}" for status, n in fault.statuses_during.items()),
        "kills": kills,
        "messages cut": cut,
        "edge sends": edge,
        "throttled probe": probe,
        "doubled": str(audit.doubled),
        "in crash windows": optional(audit.doubled_in_crash_window if fault.kills is not None else None),
        "at the timeout's edge": optional(audit.doubled_at_timeout_edge if fault.edge_sends is not None else None),
        "unexplained": str(audit.doubled_unexplained),
        "lost": str(audit.lost),
    }
