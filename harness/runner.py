"""The command-line face of `harness compare` and `harness run`: arguments, live progress on
the console (rich), and the final decision table."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from .bench import BenchConfig
from .compare import PROFILES, ComparePlan, RunControl, default_run_dir, default_targets, run_comparison
from .criteria import CriteriaError
from .loadgen import DEFAULT_MIX, format_mix, parse_mix
from .processes import ProcessFailed
from .report.console import console_table, faults_console_table, report_console, soak_console_table
from .results import Results, StepResult
from .services import BenchSecrets

__all__ = ["add_run_arguments", "plan_from_args", "positive_ints", "run_from_args", "run_with_console"]


def positive_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers >= 1, got {text!r}")
    return values


def _positive_floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers > 0, got {text!r}")
    return values


def _non_negative(kind: type) -> object:
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
        return value

    return parse


def _mix(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("load")
    load.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                      help="quick: ~20 s steps, 1 trial; full: 70 s steps, 3 interleaved trials")  # fmt: skip
    load.add_argument("--users", type=positive_ints, default=(50, 100, 250, 500), metavar="N,N,...",
                      help="closed-loop user steps")  # fmt: skip
    load.add_argument("--arrival-rate", type=_positive_floats, default=(), metavar="R,R,...",
                      help="open-loop steps in requests/s instead of user steps (latency corrected "
                           "for coordinated omission)")  # fmt: skip
    load.add_argument("--step-duration", type=_non_negative(float), default=None, metavar="S",
                      help="measured seconds per step (default: the profile's)")  # fmt: skip
    load.add_argument("--warmup", type=_non_negative(float), default=None, metavar="S",
                      help="seconds of load before each measured window (default: the profile's)")  # fmt: skip
    load.add_argument("--trials", type=positive_ints, default=None, metavar="N",
                      help="trials per step, services interleaved in random order (default: the profile's)")  # fmt: skip
    load.add_argument("--wait", type=_positive_floats, default=(0.1, 0.5), metavar="MIN,MAX",
                      help="each user's pause between requests, seconds (the seed's pacing)")  # fmt: skip
    load.add_argument("--mix", type=_mix, default=dict(DEFAULT_MIX), metavar="KIND=SHARE,...",
                      help=f"request mix (default {format_mix(DEFAULT_MIX)})")  # fmt: skip
    load.add_argument("--locust-workers", type=_non_negative(int), default=0, metavar="N",
                      help="Locust worker processes besides the master (when the generator saturates)")  # fmt: skip
    load.add_argument("--remote-workers", type=_non_negative(int), default=0, metavar="M",
                      help="Locust workers on other machines that attach to each step's master "
                           "(needs --master-port; see the README)")  # fmt: skip
    load.add_argument("--master-bind-host", default="127.0.0.1", metavar="HOST",
                      help="where each step's Locust master listens for workers (0.0.0.0: all interfaces)")  # fmt: skip
    load.add_argument("--master-port", type=positive_ints, default=None, metavar="PORT",
                      help="the Locust master's port (fixed, so remote workers can find it)")  # fmt: skip
    load.add_argument("--seed", type=int, default=1, help="seeds the mix, the order of services, the latencies")

    bench = parser.add_argument_group("bench")
    bench.add_argument("--workers", type=positive_ints, default=(1,), metavar="N",
                       help="worker processes per service (>1: gunicorn with uvicorn workers)")  # fmt: skip
    bench.add_argument("--graph-latency-ms", type=_non_negative(float), default=50.0,
                       help="fake Graph API latency (a real send)")  # fmt: skip
    bench.add_argument("--llm-latency-ms", type=_non_negative(float), default=200.0,
                       help="fake LLM latency (a real completion); 0: no LLM call")  # fmt: skip
    bench.add_argument("--latency-distribution", choices=["fixed", "exponential", "lognormal"], default="fixed")
    bench.add_argument("--businesses", type=positive_ints, default=(50,), metavar="N")
    bench.add_argument("--phones-per-business", type=positive_ints, default=(2,), metavar="K")
    bench.add_argument("--driver", choices=["pymongo", "motor"], default="pymongo",
                       help="the optimized service's MongoDB driver")  # fmt: skip
    bench.add_argument("--no-echo", action="store_true", help="skip the bare echo app (the machine's ceiling)")

    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=None, help="run directory (default reports/<UTC time>)")
    output.add_argument("--criteria", type=Path, default=None, help="success criteria TOML (default: shipped)")


def plan_from_args(args: argparse.Namespace, services: tuple[str, ...], command: str) -> ComparePlan:
    profile = PROFILES[args.profile]
    wait = args.wait if len(args.wait) == 2 else None
    if wait is None or wait[0] > wait[1]:
        raise SystemExit("--wait takes MIN,MAX with MIN <= MAX")
    if args.remote_workers and not args.master_port:
        raise SystemExit("--remote-workers needs --master-port, so the workers know where to attach")
    bench = BenchConfig(
        businesses=args.businesses[0], phones_per_business=args.phones_per_business[0],
        graph_latency_ms=args.graph_latency_ms, llm_latency_ms=args.llm_latency_ms,
        latency_distribution=args.latency_distribution, seed=args.seed,
    )  # fmt: skip
    return ComparePlan(
        targets=default_targets(services, args.driver), users=args.users, arrival_rates=args.arrival_rate, profile=args.profile,
        step_duration_s=args.step_duration or profile["step_duration_s"],
        warmup_s=args.warmup if args.warmup is not None else profile["warmup_s"],
        trials=args.trials[0] if args.trials else int(profile["trials"]),
        service_workers=args.workers[0], locust_workers=args.locust_workers,
        remote_workers=args.remote_workers, master_bind_host=args.master_bind_host,
        master_port=args.master_port[0] if args.master_port else None,
        wait_min_s=wait[0], wait_max_s=wait[1], mix=args.mix, echo=not args.no_echo,
        criteria_file=args.criteria, command=command, bench=bench,
    )  # fmt: skip


def _shared_secrets() -> BenchSecrets:
    """Workers on other machines sign with the run's app secret: with --remote-workers it is the
    operator's (from the environment, like the verify token), not one the harness made up."""
    missing = [name for name in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"--remote-workers: set {' and '.join(missing)} here and on every worker machine")
    return BenchSecrets(app_secret=os.environ["WHATSAPP_APP_SECRET"], verify_token=os.environ["WHATSAPP_VERIFY_TOKEN"])


def run_from_args(args: argparse.Namespace, *, services: tuple[str, ...], command: str) -> int:
    plan = plan_from_args(args, services, command)
    if plan.remote_workers:
        plan = replace(plan, secrets=_shared_secrets())
    run_dir = args.out or default_run_dir()
    console = report_console()
    return run_with_console(plan, run_dir, console)


def run_with_console(plan: ComparePlan, run_dir: Path, console: Console) -> int:
    steps = len(plan.order())
    levels = ", ".join(f"{u} users" if u else f"{r:g} req/s" for u, r in plan.levels)
    console.print(f"[bold]harness {plan.command}[/] {', '.join(plan.services)}: {levels}; "
                  f"{plan.step_duration_s:g} s measured after {plan.warmup_s:g} s warm-up, "
                  f"{plan.trials} trial(s), {steps} steps; run directory {run_dir}")  # fmt: skip
    if plan.remote_workers:
        console.print(f"waiting for {plan.remote_workers} remote Locust worker(s) at each step; on each load "
                      f"machine run:\n  while true; do WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=... locust -f "
                      f"harness/locustfile.py --worker --master-host <this machine> --master-port "
                      f"{plan.master_port}; sleep 1; done")  # fmt: skip
    with console.status("starting the bench: database, seed, fake upstream, services") as status:
        def on_start(number: int, total: int, service: str, users: int, rate: float, trial: int) -> None:
            level = f"{users} users" if users else f"{rate:g} req/s"
            on_start.label = f"[{number}/{total}] {service} · {level} · trial {trial}"  # type: ignore[attr-defined]
            status.update(on_start.label)  # type: ignore[attr-defined]

        on_start.label = ""  # type: ignore[attr-defined]

        def on_progress(text: str) -> None:
            status.update(f"{on_start.label}  {text}")  # type: ignore[attr-defined]

        def on_end(step: StepResult) -> None:
            console.print(_step_line(on_start.label, step))  # type: ignore[attr-defined]

        control = RunControl(run_dir, on_start, on_progress, on_end)
        try:
            results = run_comparison(plan, control)
        except CriteriaError as error:
            console.print(f"[red]criteria file: {error}[/]")
            return 2
        except (ProcessFailed, OSError, ConnectionError) as error:
            console.print(f"[red]the bench could not run: {error}[/]\n(every process it started was stopped; "
                          f"logs and any partial results are in {run_dir})")  # fmt: skip
            return 2
    console.print(console_table(results))
    if results.faults:
        console.print(faults_console_table(results))
    if results.soak:
        console.print(soak_console_table(results))
    _print_verdict(console, results, run_dir)
    return 0 if results.complete else 1


def _step_line(label: str, step: StepResult) -> str:
    lat = step.latency
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    cpu = "-" if step.service_cpu_ms_per_request is None else f"{step.service_cpu_ms_per_request:.2f}"
    gen = step.components.get("load_generator")
    bound = f" [yellow]bench-bound: {', '.join(step.bound_by)}[/]" if step.bound_by else ""
    audit = ""
    if step.audit is not None:
        audit = " audit ok" if step.audit.passed else (
            f" [red]audit: {step.audit.lost} lost, {step.audit.doubled} doubled, {step.audit.wrong_token} wrong token[/]")  # fmt: skip
    return (f"{label}: {step.throughput_rps:.1f} rps, p95 {fmt(lat.p95_ms)} ms, p99 {fmt(lat.p99_ms)} ms, "
            f"errors {step.error_rate:.2%}, CPU {cpu} ms/req, generator {gen.cpu_cores_mean if gen else 0:.2f} cores"
            f"{audit}{bound}")  # fmt: skip


def _print_verdict(console: Console, results: Results, run_dir: Path) -> None:
    if not results.complete:
        console.print(f"[yellow]run incomplete: {results.incomplete_reason}[/]")
    decision = results.decision
    if decision is not None:
        colour = {"MIGRATE": "green", "DO NOT MIGRATE": "red"}.get(decision.verdict, "yellow")
        console.print(f"\n[bold {colour}]Verdict: {decision.verdict}[/]")
        for reason in decision.reasons:
            console.print(f"  - {reason}")
    console.print(f"\nReport: {run_dir / 'report.html'}\nSummary: {run_dir / 'summary.md'}")
