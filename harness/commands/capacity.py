"""Find each variant's capacity at the SLO: the highest open-loop arrival rate it sustains with
p95 (from each request's due time) under the SLO and errors under 0.1 %, counted only where the
generator sent at least 99 % of the rate; per worker count (each on CPUs of its own), with a
95 % interval, the ratio between variants, the fitted scaling curve, and the worker CPUs each
needs for the checklist's load (500 users at its pacing, or --target-rps): a projection.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..analysis.capacity import CapacityRule
from ..bench import BenchConfig
from ..processes import ProcessFailed
from ..report.console import report_console
from ..results import CapacityProbe, CapacitySearch, LoadSettings, Results
from ..runs import DEFAULT_BASELINE, DEFAULT_CANDIDATES, default_run_dir
from ..runs.capacity import CapacityControl, CapacityPlan, SearchSettings, run_capacity
from ..terms import ProbeVerdict
from ._runs import (
    DEFAULT_WAIT,
    non_negative,
    positive,
    positive_ints,
    share,
    variant_names,
    wait_range,
)

HELP = "find each variant's capacity at the SLO, its scaling, and the worker CPUs it needs (projected)"

_DEFAULTS = SearchSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what to measure")
    group.add_argument(
        "--variants",
        type=variant_names,
        default=(DEFAULT_BASELINE, *DEFAULT_CANDIDATES),
        metavar="VARIANT,...",
        help="the first is the baseline of the capacity ratios",
    )
    group.add_argument(
        "--workers",
        type=positive_ints,
        default=None,
        metavar="N,N,...",
        help="worker counts, each on that many service CPUs of its own (default: 1 to half the machine)",
    )
    group.add_argument("--no-pinning", action="store_true", help="do not pin the services to CPUs of their own")
    rule = parser.add_argument_group("what sustained means")
    rule.add_argument("--slo-p95-ms", type=positive, default=CapacityRule().slo_p95_ms, metavar="MS")
    rule.add_argument("--max-error-rate", type=share, default=CapacityRule().max_error_rate, metavar="SHARE")
    rule.add_argument("--min-delivered", type=share, default=CapacityRule().min_delivered, metavar="SHARE")
    search = parser.add_argument_group("the search")
    search.add_argument("--start-rps", type=positive, default=_DEFAULTS.start_rps, metavar="R")
    search.add_argument("--ceiling-rps", type=positive, default=_DEFAULTS.ceiling_rps, metavar="R")
    search.add_argument(
        "--resolution", type=positive, default=_DEFAULTS.resolution, help="bisect until high/low <= 1 + this"
    )
    search.add_argument("--probe-window", type=positive, default=_DEFAULTS.probe_window_s, metavar="S")
    search.add_argument("--validation-window", type=positive, default=_DEFAULTS.validation_window_s, metavar="S")
    search.add_argument("--warmup", type=non_negative(float), default=_DEFAULTS.warmup_s, metavar="S")
    search.add_argument("--timeout", type=positive, default=_DEFAULTS.timeout_s, metavar="S", help="generator timeout")
    target = parser.add_argument_group("the projection's target")
    target.add_argument("--target-rps", type=positive, default=None, metavar="R", help="default: --target-users")
    target.add_argument("--target-users", type=int, default=500, metavar="N", help="users at the checklist's pacing")
    target.add_argument("--wait", type=wait_range, default=DEFAULT_WAIT, metavar="MIN,MAX", help="their pacing, s")
    bench = parser.add_argument_group("bench")
    bench.add_argument("--graph-latency-ms", type=non_negative(float), default=BenchConfig.graph_latency_ms)
    bench.add_argument("--llm-latency-ms", type=non_negative(float), default=BenchConfig.llm_latency_ms)
    bench.add_argument("--seed", type=int, default=BenchConfig.seed)
    parser.add_argument("--out", type=Path, default=None, help="run directory (default reports/<UTC time>)")


def plan_from_args(args: argparse.Namespace) -> CapacityPlan:
    workers = args.workers or tuple(range(1, max(1, (os.cpu_count() or 2) // 2) + 1))
    return CapacityPlan(
        variants=tuple(dict.fromkeys(args.variants)),
        workers=workers,
        pinned=not args.no_pinning,
        rule=CapacityRule(args.slo_p95_ms, args.max_error_rate, args.min_delivered),
        search=SearchSettings(
            start_rps=args.start_rps,
            ceiling_rps=args.ceiling_rps,
            resolution=args.resolution,
            probe_window_s=args.probe_window,
            validation_window_s=args.validation_window,
            warmup_s=args.warmup,
            timeout_s=args.timeout,
        ),
        load=LoadSettings(wait_min_s=args.wait[0], wait_max_s=args.wait[1], seed=args.seed),
        bench=BenchConfig(graph_latency_ms=args.graph_latency_ms, llm_latency_ms=args.llm_latency_ms, seed=args.seed),
        target_rps=args.target_rps,
        target_users=args.target_users,
    )


def run(args: argparse.Namespace) -> int:
    console = report_console()
    plan = plan_from_args(args)
    run_dir = args.out or default_run_dir()
    console.print(
        f"[bold]harness capacity[/] {', '.join(plan.variants)} at {', '.join(map(str, plan.workers))} worker(s): "
        f"p95 < {plan.rule.slo_p95_ms:g} ms, errors <= {plan.rule.max_error_rate:.1%}; run directory {run_dir}"
    )
    with console.status("starting the bench") as status:
        label = ""

        def on_start(service: str, workers: int, rate: float, phase: str) -> None:
            nonlocal label
            label = f"{service} · {workers} worker(s) · {rate:.1f} rps ({phase})"
            status.update(label)

        def on_progress(text: str) -> None:
            status.update(f"{label}  {text}")

        def on_end(probe: CapacityProbe) -> None:
            console.print(probe_line(probe))

        try:
            results = run_capacity(plan, CapacityControl(run_dir, on_start, on_progress, on_end))
        except (ProcessFailed, OSError, ConnectionError) as error:
            console.print(f"[red]the bench could not run: {error}[/]\n(every process it started was stopped)")
            return 2
    print_capacity(console, results)
    console.print(f"\nReport: {run_dir / 'report.html'}")
    return 0 if results.complete else 1


_VERDICT_STYLE = {
    ProbeVerdict.SUSTAINED: "green",
    ProbeVerdict.BENCH_BOUND: "yellow",
    ProbeVerdict.UNDELIVERED: "yellow",
}


def probe_line(probe: CapacityProbe) -> str:
    p95 = probe.p95_ms.value
    style = _VERDICT_STYLE.get(probe.verdict, "red")
    early = ", ended early" if probe.stopped_early else ""
    cores = f", service {probe.service_cores:.2f} cores" if probe.service_cores is not None else ""
    return (
        f"{probe.service} · {probe.workers} worker(s) · {probe.rate_rps:.1f} rps ({probe.phase}): "
        f"sent {probe.sent_rps:.1f}, answered {probe.throughput_rps:.1f} rps, p95 "
        f"{'-' if p95 is None else f'{p95:.0f}'} ms, errors {probe.error_rate:.2%}{cores}{early} "
        f"[{style}]{probe.verdict.value}[/]"
    )


def _interval(low: float | None, high: float | None, digits: int = 1) -> str:
    lo = "?" if low is None else f"{low:.{digits}f}"
    hi = "open" if high is None else f"{high:.{digits}f}"
    return f"[{lo}, {hi}]"


def capacity_table(search: CapacitySearch) -> Table:
    table = Table(title=f"capacity at p95 < {search.slo_p95_ms:g} ms, errors <= {search.max_error_rate:.1%}")
    for column in ("variant", "workers", "capacity rps [95% CI]", "per CPU", "validated", "CPU ms/req", "db ms/req"):
        table.add_column(column)
    for result in search.results:
        c, per = result.capacity_rps, result.per_cpu_rps
        table.add_row(
            result.service,
            str(result.workers),
            "none" if c.value is None else f"{c.value:.1f} {_interval(c.ci_low, c.ci_high)}",
            "-" if per.value is None else f"{per.value:.1f}",
            "yes" if result.validated else "no",
            _ms(result.service_cpu_ms_per_request),
            _ms(result.database_cpu_ms_per_request),
        )
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def projection_table(search: CapacitySearch) -> Table:
    table = Table(title=f"PROJECTED worker CPUs for {search.target}")
    for column in ("variant", "model", "workers needed", "database at target", "assumptions"):
        table.add_column(column)
    fits = {fit.service: fit for fit in search.fits}
    for projection in search.projections:
        fit = fits.get(projection.service)
        model = projection.model.value + ("" if fit is None or fit.fitted else " (assumed)")
        needed = "never" if projection.workers_needed is None else str(projection.workers_needed)
        database = (
            "-"
            if projection.database_cores_at_target is None
            else f"{projection.database_cores_at_target:.1f} cores (1 core at {projection.database_limit_rps:.0f} rps)"
        )
        table.add_row(projection.service, model, needed, database, "; ".join(projection.assumptions))
    return table


def print_capacity(console: Console, results: Results) -> None:
    search = results.capacity
    if search is None:
        return
    console.print(capacity_table(search))
    for ratio in search.ratios:
        v = ratio.value
        console.print(
            f"{ratio.service} / {ratio.baseline} at {ratio.workers} worker(s): "
            f"{'-' if v.value is None else f'{v.value:.1f}x'} {_interval(v.ci_low, v.ci_high)}",
            markup=False,
        )
    console.print(projection_table(search))
    for claim in results.claims:
        console.print(
            f"checklist's {claim.claim!r} for {claim.candidate}: {claim.outcome} ({claim.reason})", markup=False
        )
    for note in search.notes + [n for r in search.results for n in r.notes]:
        console.print(f"note: {note}", style="yellow", markup=False)
