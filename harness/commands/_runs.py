"""What every command that runs load shares: its arguments, the plan they describe, live
progress on the console (rich) and the tables and verdicts at the end."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from contract.architecture import VARIANTS

from ..analysis import CriteriaError
from ..bench import BenchConfig, BenchSecrets
from ..bench.pinning import cpu_plan
from ..load import DEFAULT_MIX, LoadProfile, format_mix, parse_mix, wait_ordered
from ..metrics import COMPARED_PERCENTILES, SHORT_LABELS
from ..processes import ProcessFailed
from ..report.console import (
    console_table,
    faults_console_table,
    print_answers,
    report_console,
    soak_console_table,
)
from ..results import LoadSettings, Results, RunSettings, StepResult
from ..runs import (
    DEFAULT_BASELINE,
    DEFAULT_CANDIDATES,
    RUN_PRESETS,
    RunControl,
    RunPlan,
    Target,
    VariantError,
    default_run_dir,
    remove_worktrees,
    run_comparison,
    variant_target,
)
from ..terms import load_label

__all__ = [
    "add_run_arguments",
    "add_variant_arguments",
    "add_variants_argument",
    "non_negative",
    "plan_from_args",
    "positive",
    "positive_floats",
    "positive_ints",
    "run_from_args",
    "run_with_console",
    "share",
    "variant_name",
    "variant_names",
    "variants_plan",
]


# -- argument types ---------------------------------------------------------------------------
PRICE_DEFAULT = RunSettings.model_fields["price_per_vcpu_hour"].default


def positive_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers >= 1, got {text!r}")
    return values


def positive_floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers > 0, got {text!r}")
    return values


def wait_range(text: str) -> tuple[float, float]:
    """``--wait MIN,MAX``: each user's pause between requests, 0 <= MIN <= MAX seconds."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX in seconds, got {text!r}") from None
    if len(values) != 2 or not wait_ordered(*values):
        raise argparse.ArgumentTypeError(f"expected MIN,MAX with 0 <= MIN <= MAX, got {text!r}")
    return values[0], values[1]


# The pacing of every load command: the load profile's own defaults.
DEFAULT_WAIT = (LoadProfile.wait_min_s, LoadProfile.wait_max_s)


def non_negative(kind: type) -> Callable[[str], object]:
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
        return value

    return parse


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {text!r}")
    return value


def _mix(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def variant_name(text: str) -> str:
    """A variant, checked; ``NAME@REVISION`` checks the revision out here (see harness.runs.variants)."""
    try:
        variant_target(text.strip())
    except VariantError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def variant_names(text: str) -> tuple[str, ...]:
    """Comma-separated variant names (``NAME``, ``NAME+TOKEN...``, either ``@REVISION``), each checked."""
    names = tuple(variant_name(part) for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected at least one variant")
    return names


# -- arguments --------------------------------------------------------------------------------
_VARIANTS_HELP = (
    "variants: "
    + ", ".join(VARIANTS)
    + "; NAME+TOKEN+... changes choices (see `harness variants`); NAME@REVISION runs that git revision's code "
    "from a temporary worktree (e.g. optimized@origin/main), side by side with this working tree's"
)


def add_variant_arguments(parser: argparse.ArgumentParser) -> None:
    """--baseline and --candidates, defaults from the variant registry."""
    group = parser.add_argument_group("variants", _VARIANTS_HELP)
    group.add_argument(
        "--baseline",
        type=variant_name,
        default=DEFAULT_BASELINE,
        metavar="VARIANT",
        help="the design every candidate is judged against",
    )
    group.add_argument(
        "--candidates",
        type=variant_names,
        default=DEFAULT_CANDIDATES,
        metavar="VARIANT,...",
        help="the designs a verdict is given for",
    )


def add_variants_argument(parser: argparse.ArgumentParser) -> None:
    """--variants: every variant the run measures; the first is the baseline of the others."""
    group = parser.add_argument_group("variants", _VARIANTS_HELP)
    group.add_argument(
        "--variants",
        type=variant_names,
        default=(DEFAULT_BASELINE, *DEFAULT_CANDIDATES),
        metavar="VARIANT,...",
        help="the variants to run; the first is the baseline the others are judged against",
    )


def variants_plan(args: argparse.Namespace, command: str) -> RunPlan:
    """The plan of a command with --variants (the first the baseline, the others the candidates)."""
    names = tuple(dict.fromkeys(args.variants))
    targets = tuple(variant_target(name) for name in names)
    baseline = names[0] if len(names) > 1 else None
    return plan_from_args(args, targets, baseline=baseline, candidates=names[1:], command=command)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("load")
    load.add_argument(
        "--profile",
        choices=sorted(RUN_PRESETS),
        default="quick",
        help="quick: 12 s measured after 3 s warm-up, 1 trial; full: 60 s after 10 s, 3 interleaved trials",
    )
    load.add_argument(
        "--users", type=positive_ints, default=LoadSettings().users, metavar="N,N,...", help="closed-loop user steps"
    )
    load.add_argument(
        "--arrival-rate",
        type=positive_floats,
        default=(),
        metavar="R,R,...",
        help="open-loop steps in requests/s instead of user steps (latency corrected for coordinated omission)",
    )
    load.add_argument(
        "--step-duration",
        type=non_negative(float),
        default=None,
        metavar="S",
        help="measured seconds per step (default: the profile's)",
    )
    load.add_argument(
        "--warmup",
        type=non_negative(float),
        default=None,
        metavar="S",
        help="seconds of load before each measured window (default: the profile's)",
    )
    load.add_argument(
        "--trials",
        type=positive_ints,
        default=None,
        metavar="N",
        help="trials per step, services interleaved in random order (default: the profile's)",
    )
    load.add_argument(
        "--wait",
        type=wait_range,
        default=DEFAULT_WAIT,
        metavar="MIN,MAX",
        help="each user's pause between requests, seconds (the seed's pacing)",
    )
    load.add_argument(
        "--mix",
        type=_mix,
        default=dict(DEFAULT_MIX),
        metavar="KIND=SHARE,...",
        help=f"request mix (default {format_mix(DEFAULT_MIX)})",
    )
    load.add_argument(
        "--locust-workers",
        type=non_negative(int),
        default=0,
        metavar="N",
        help="Locust worker processes besides the master (when the generator saturates)",
    )
    load.add_argument(
        "--remote-workers",
        type=non_negative(int),
        default=0,
        metavar="M",
        help="Locust workers on other machines that attach to each step's master "
        "(needs --master-port; see docs/distributed.md)",
    )
    load.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        metavar="HOST",
        help="where each step's Locust master listens for workers (0.0.0.0: all interfaces)",
    )
    load.add_argument(
        "--master-port",
        type=positive_ints,
        default=None,
        metavar="PORT",
        help="the Locust master's port (fixed, so remote workers can find it)",
    )
    load.add_argument(
        "--seed", type=int, default=LoadProfile.seed, help="seeds the mix, the order of services, the latencies"
    )

    bench = parser.add_argument_group("bench")
    bench.add_argument(
        "--workers",
        type=positive_ints,
        default=(1,),
        metavar="N",
        help="worker processes per service (>1: gunicorn with uvicorn workers)",
    )
    bench.add_argument(
        "--graph-latency-ms",
        type=non_negative(float),
        default=BenchConfig.graph_latency_ms,
        help="fake Graph API latency (a real send)",
    )
    bench.add_argument(
        "--llm-latency-ms",
        type=non_negative(float),
        default=BenchConfig.llm_latency_ms,
        help="fake LLM latency (a real completion); 0: no LLM call",
    )
    bench.add_argument("--latency-distribution", choices=["fixed", "exponential", "lognormal"], default="fixed")
    bench.add_argument("--businesses", type=positive_ints, default=(BenchConfig.businesses,), metavar="N")
    bench.add_argument(
        "--phones-per-business", type=positive_ints, default=(BenchConfig.phones_per_business,), metavar="K"
    )
    bench.add_argument("--no-echo", action="store_true", help="skip the bare echo app (the machine's ceiling)")
    bench.add_argument(
        "--service-cpus",
        type=non_negative(int),
        default=None,
        metavar="N",
        help="CPUs of their own for the services, the rest for the bench (default: half the "
        "machine, at least one; 0: no pinning)",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=None, help="run directory (default reports/<UTC time>)")
    output.add_argument("--criteria", type=Path, default=None, help="success criteria TOML (default: shipped)")
    add_price_argument(output)


def add_price_argument(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--price-per-vcpu-hour",
        type=positive,
        default=None,
        metavar="USD",
        help=f"the price of the cost figures (default: {PRICE_DEFAULT:g}, AWS m5.large on demand in us-east-1, "
        "per vCPU)",
    )


def _load_settings(args: argparse.Namespace) -> LoadSettings:
    if args.remote_workers and not args.master_port:
        raise SystemExit("--remote-workers needs --master-port, so the workers know where to attach")
    profile = RUN_PRESETS[args.profile]
    try:
        return LoadSettings(
            users=() if args.arrival_rate else args.users,
            arrival_rates=args.arrival_rate,
            step_duration_s=args.step_duration or profile["step_duration_s"],
            warmup_s=args.warmup if args.warmup is not None else profile["warmup_s"],
            trials=args.trials[0] if args.trials else int(profile["trials"]),
            wait_min_s=args.wait[0],
            wait_max_s=args.wait[1],
            mix=args.mix,
            seed=args.seed,
            locust_workers=args.locust_workers,
            remote_workers=args.remote_workers,
            master_bind_host=args.master_bind_host,
            master_port=args.master_port[0] if args.master_port else None,
        )
    except ValidationError as error:
        raise SystemExit(f"invalid load: {error.errors()[0]['msg']}") from None


def plan_from_args(
    args: argparse.Namespace,
    targets: tuple[Target, ...],
    *,
    baseline: str | None,
    candidates: tuple[str, ...],
    command: str,
) -> RunPlan:
    bench = BenchConfig(
        businesses=args.businesses[0],
        phones_per_business=args.phones_per_business[0],
        graph_latency_ms=args.graph_latency_ms,
        llm_latency_ms=args.llm_latency_ms,
        latency_distribution=args.latency_distribution,
        seed=args.seed,
        service_workers=args.workers[0],
        cpus=cpu_plan(args.service_cpus),
    )
    plan = RunPlan(
        targets=targets,
        baseline=baseline,
        candidates=candidates,
        load=_load_settings(args),
        bench=bench,
        profile=args.profile,
        echo=not args.no_echo,
        criteria_file=args.criteria,
        command=command,
        price_per_vcpu_hour=args.price_per_vcpu_hour,
    )
    if plan.load.remote_workers:
        plan = replace(plan, secrets=_shared_secrets())
    return plan


def _shared_secrets() -> BenchSecrets:
    """Workers on other machines sign with the run's app secret: with --remote-workers it is the
    operator's (from the environment, like the verify token), not one the harness made up."""
    missing = [name for name in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"--remote-workers: set {' and '.join(missing)} here and on every worker machine")
    return BenchSecrets(app_secret=os.environ["WHATSAPP_APP_SECRET"], verify_token=os.environ["WHATSAPP_VERIFY_TOKEN"])


def run_from_args(
    args: argparse.Namespace,
    *,
    services: tuple[str, ...],
    baseline: str | None,
    candidates: tuple[str, ...],
    command: str,
) -> int:
    try:
        targets = tuple(variant_target(name) for name in dict.fromkeys(services))
        plan = plan_from_args(args, targets, baseline=baseline, candidates=candidates, command=command)
        return run_with_console(plan, args.out or default_run_dir(), report_console())
    finally:
        remove_worktrees()  # NAME@REVISION checkouts end with the run (at exit too, whatever ends it)


# -- the console ------------------------------------------------------------------------------
def run_with_console(plan: RunPlan, run_dir: Path, console: Console) -> int:
    load = plan.load
    levels = ", ".join(load_label(u, r) for u, r in load.levels)
    console.print(
        f"[bold]harness {plan.command}[/] {', '.join(plan.services)}: {levels}; "
        f"{load.step_duration_s:g} s measured after {load.warmup_s:g} s warm-up, "
        f"{load.trials} trial(s), {len(plan.order())} steps; run directory {run_dir}"
    )
    if load.remote_workers:
        console.print(
            f"waiting for {load.remote_workers} remote Locust worker(s) at each step; on each load "
            f"machine run:\n  while true; do WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=... locust -f "
            f"harness/load/locustfile.py --worker --master-host <this machine> --master-port "
            f"{load.master_port}; sleep 1; done"
        )
    with console.status("starting the bench: database, seed, fake upstream, services") as status:
        label = ""

        def on_start(number: int, total: int, service: str, users: int, rate: float, trial: int) -> None:
            nonlocal label
            label = f"[{number}/{total}] {service} · {load_label(users, rate)} · trial {trial}"
            status.update(label)

        def on_progress(text: str) -> None:
            status.update(f"{label}  {text}")

        def on_end(step: StepResult) -> None:
            console.print(_step_line(label, step))

        try:
            results = run_comparison(plan, RunControl(run_dir, on_start, on_progress, on_end))
        except CriteriaError as error:
            console.print(f"[red]criteria file: {error}[/]")
            return 2
        except (ProcessFailed, OSError, ConnectionError) as error:
            console.print(
                f"[red]the bench could not run: {error}[/]\n(every process it started was stopped; "
                f"logs and any partial results are in {run_dir})"
            )
            return 2
    print_results(console, results, run_dir)
    return 0 if results.complete else 1


def print_results(console: Console, results: Results, run_dir: Path) -> None:
    """The two answers first (headlines, top reasons, target load), then the step table, the fault
    and soak tables, then where the report is."""
    _print_verdicts(console, results)
    console.print()
    console.print(console_table(results))
    if results.faults:
        console.print(faults_console_table(results))
    if results.soak:
        console.print(soak_console_table(results))
    console.print(f"Report: {run_dir / 'report.html'}\nSummary: {run_dir / 'summary.md'}", markup=False)


def _step_line(label: str, step: StepResult) -> str:
    lat = step.latency

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    percentiles = ", ".join(f"{SHORT_LABELS[m]} {ms(getattr(lat, m))} ms" for m in COMPARED_PERCENTILES)
    cpu = "-" if step.service_cpu_ms_per_request is None else f"{step.service_cpu_ms_per_request:.2f}"
    gen = step.components.get("load_generator")
    bound = f" [yellow]bench-bound: {', '.join(step.bound_by)}[/]" if step.bound_by else ""
    audit = ""
    if step.audit is not None:
        audit = (
            " audit ok"
            if step.audit.passed
            else (
                f" [red]audit: {step.audit.lost} lost, {step.audit.doubled} doubled, "
                f"{step.audit.wrong_token} wrong token[/]"
            )
        )
    steal = step.cpu_load.steal_cores if step.cpu_load is not None else None
    stolen = f", host steal {steal:.2f} cores" if steal else ""
    return (
        f"{label}: {step.throughput_rps:.1f} rps, {percentiles}, "
        f"errors {step.error_rate:.2%}, CPU {cpu} ms/req, generator {gen.cpu_cores_mean if gen else 0:.2f} cores"
        f"{stolen}{audit}{bound}"
    )


def _print_verdicts(console: Console, results: Results) -> None:
    """Every candidate's headline and top reasons, and the target load; every reason in full is
    in details.md and the report."""
    if not results.complete:
        console.print(f"run incomplete: {results.incomplete_reason}", style="yellow", markup=False)
    print_answers(console, results)
