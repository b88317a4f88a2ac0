"""The main job: every service under the same load, step by step, and a verdict per candidate.

Every service runs at once on its own freshly seeded database; the load levels are then walked
in order and, within a level, the services take turns in a seeded random order per trial
(interleaved, not all of one then all of the other, so drift on a shared machine falls on all
of them). A bare FastAPI echo app runs the lowest and the highest level too: the machine's own ceiling for
that run.
Results are saved after every step, so a run that stops early keeps what it measured.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..analysis import DEFAULT_CRITERIA_FILE, Criteria, conclude, load_criteria
from ..bench import Bench, ServiceProcess, describe_machine
from ..bench.dbprobe import idle_latency_ms
from ..load import LoadProfile
from ..records import write_run_records
from ..results import (
    BenchSettings,
    FaultResult,
    LoadSettings,
    Results,
    RunSettings,
    SoakResult,
    StepResult,
    save_results,
)
from ..terms import ECHO
from ..upstream import UpstreamProcess
from .plan import RunPlan, ScenarioStep, Target, WindowHook
from .step import measure_step

__all__ = [
    "RunControl",
    "default_run_dir",
    "load_profile",
    "run_comparison",
    "run_settings",
    "save_view",
    "step_profile",
]


@dataclass
class RunControl:
    """What the caller sees and can stop: progress lines, and where results go."""

    run_dir: Path
    on_step_start: Callable[[int, int, str, int, float, int], None] = lambda *a: None
    on_progress: Callable[[str], None] = lambda _: None
    on_step_end: Callable[[StepResult], None] = lambda _: None


def run_comparison(plan: RunPlan, control: RunControl) -> Results:
    run_dir = control.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    criteria = load_criteria(plan.criteria_file)  # a bad criteria file fails before any load
    results = Results(
        run_id=run_dir.name,
        created_at=datetime.now(UTC),
        complete=False,
        machine=describe_machine(),
        settings=run_settings(plan),
    )
    frames: list[pd.DataFrame] = []
    order = plan.order()
    try:
        with Bench(plan.bench, run_dir / "logs", plan.secrets) as bench:
            results.settings = run_settings(plan, bench)
            services, upstreams = _deploy(bench, plan)
            database_idle_ms = idle_latency_ms(bench.database.uri)
            for number, (name, users, rate, trial) in enumerate(order, start=1):
                control.on_step_start(number, len(order), name, users, rate, trial)
                with _scenario_step(plan, bench, name, services[name], upstreams[name]) as extra:
                    outcome = measure_step(
                        bench,
                        services[name],
                        plan.load,
                        step_profile(plan, bench, name, users, rate, trial),
                        run_dir / "steps" / f"{number:03d}-{name}-{users or rate:g}-t{trial}",
                        control.on_progress,
                        upstream=upstreams[name],
                        during_window=_window_hooks(plan.during_window, extra),
                        database_idle_ms=database_idle_ms,
                    )
                if extra is not None:
                    _record_finding(results, extra.finding(outcome))
                frames.append(outcome.records)
                results.steps.append(outcome.result)
                control.on_step_end(outcome.result)
                _checkpoint(results, frames, run_dir)
                if not services[name].alive:
                    reason = f"{name} exited during a step:\n{services[name].log_tail()}"
                    return _stopped(results, frames, run_dir, reason, criteria)
                if outcome.crashed:
                    reason = "the load generator failed:\n" + outcome.log_tail
                    return _stopped(results, frames, run_dir, reason, criteria)
    except KeyboardInterrupt:
        _stopped(results, frames, run_dir, "interrupted (Ctrl-C)", criteria)
        raise
    results.complete = True
    return _finish(results, frames, run_dir, criteria)


def step_profile(plan: RunPlan, bench: Bench, service: str, users: int, rate: float, trial: int) -> LoadProfile:
    """The Locust profile of one step. Common random numbers: every service gets the same
    messages at a level and trial (each on its own database), while every level and trial gets
    fresh message ids."""
    level = plan.load.levels.index((users, rate))
    seed = plan.load.seed * 1_000_000 + level * 1000 + trial
    return load_profile(plan.load, bench, service, users=users or None, rate=rate, trial=trial, seed=seed)


def load_profile(
    load: LoadSettings,
    bench: Bench,
    service: str,
    *,
    users: int | None,
    rate: float,
    trial: int,
    seed: int,
    timeout_s: float | None = None,
) -> LoadProfile:
    """A step's Locust profile from the run's load settings and its bench: the one place a
    setting passes from the run to Locust (``compare``'s steps and ``capacity``'s probes)."""
    return LoadProfile(
        service=service,
        users=users,
        trial=trial,
        arrival_rate=rate,
        seed=seed,
        mix=load.mix,
        businesses=bench.config.businesses,
        phones_per_business=bench.config.phones_per_business,
        wait_min_s=load.wait_min_s,
        wait_max_s=load.wait_max_s,
        retries=load.retries,
        retry_backoff_s=load.retry_backoff_s,
        timeout_s=load.timeout_s if timeout_s is None else timeout_s,
        app_secret=bench.secrets.app_secret,
        verify_token=bench.secrets.verify_token,
    )


def _scenario_step(
    plan: RunPlan, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
) -> AbstractContextManager[ScenarioStep | None]:
    if plan.scenario is None or label == ECHO:  # the echo app has no replies to break or watch
        return contextlib.nullcontext()
    return plan.scenario.around_step(bench, label, service, upstream)


def _window_hooks(hook: WindowHook | None, extra: ScenarioStep | None) -> WindowHook | None:
    if extra is None:
        return hook

    def both(elapsed_s: float, service: ServiceProcess) -> None:
        extra.during_window(elapsed_s, service)
        if hook is not None:
            hook(elapsed_s, service)

    return both


def _record_finding(results: Results, finding: FaultResult | SoakResult) -> None:
    (results.faults if isinstance(finding, FaultResult) else results.soak).append(finding)


def _deploy(bench: Bench, plan: RunPlan) -> tuple[dict[str, ServiceProcess], dict[str, UpstreamProcess]]:
    services, upstreams = {}, {}
    for target in plan.deployed():
        upstreams[target.label] = _upstream_of(bench, target)
        services[target.label] = bench.deploy(
            target.label,
            target.app,
            env=target.env,
            indexes=target.indexes,
            workers=plan.bench.service_workers,
            upstream=upstreams[target.label],
            seed=target.database,
            source=target.source,
        )
    return services, upstreams


def _upstream_of(bench: Bench, target: Target) -> UpstreamProcess:
    if target.upstream_latency_factor == 1.0:
        return bench.upstream
    return bench.add_upstream(f"upstream-{target.label}", target.upstream_latency_factor)


def run_settings(plan: RunPlan, bench: Bench | None = None) -> RunSettings:
    """What a run of ``plan`` records as its settings: its database is ``bench``'s once the bench
    is up (and whether the bench started it), "pending" before."""
    database = bench.database_description if bench is not None else "pending"
    embedded = bench is not None and bench.database.embedded is not None
    config = plan.bench
    recorded = BenchSettings(
        businesses=config.businesses,
        phones_per_business=config.phones_per_business,
        graph_latency_ms=config.graph_latency_ms,
        llm_latency_ms=config.llm_latency_ms,
        latency_distribution=config.latency_distribution,
        database=database,
        embedded_database=embedded,
        service_workers=config.service_workers,
        service_cpus=list(config.cpus.service),
        bench_cpus=list(config.cpus.bench),
        pinning=config.cpus.describe(),
    )
    return RunSettings(
        command=plan.command,
        profile=plan.profile,
        load=plan.load,
        bench=recorded,
        services=list(plan.services),
        variants={t.label: t.variant for t in plan.targets if t.variant is not None},
        baseline=plan.baseline,
        candidates=list(plan.candidates),
        criteria_file=str(plan.criteria_file or f"harness/{DEFAULT_CRITERIA_FILE}"),
        fault=plan.scenario.fault if plan.scenario else None,
        **({} if plan.price_per_vcpu_hour is None else {"price_per_vcpu_hour": plan.price_per_vcpu_hour}),
    )


def _checkpoint(results: Results, frames: list[pd.DataFrame], run_dir: Path) -> None:
    results.records_file = write_run_records(frames, run_dir)
    save_results(results, run_dir)


def _stopped(results: Results, frames: list[pd.DataFrame], run_dir: Path, reason: str, criteria: Criteria) -> Results:
    results.complete = False
    results.incomplete_reason = reason
    return _finish(results, frames, run_dir, criteria)


def _finish(results: Results, frames: list[pd.DataFrame], run_dir: Path, criteria: Criteria) -> Results:
    from ..report import write_report

    results.finished_at = datetime.now(UTC)
    results.records_file = write_run_records(frames, run_dir)
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if results.steps:
        results = conclude(results, records, criteria, seed=results.settings.load.seed)
    save_results(results, run_dir)
    write_report(results, run_dir)
    _point_latest(run_dir)
    return results


def save_view(view: Results, records: pd.DataFrame, run_dir: Path, *, report: bool = False) -> Results:
    """A view of a run (:func:`~harness.analysis.conclude.pair_view`) as a run directory of its
    own, which ``harness gate`` and ``harness report`` read as any run; ``report``: rendered too."""
    run_dir.mkdir(parents=True, exist_ok=True)
    view = view.model_copy(update={"run_id": run_dir.name, "records_file": write_run_records([records], run_dir)})
    save_results(view, run_dir)
    if report:
        from ..report import write_report

        write_report(view, run_dir)
    return view


def _point_latest(run_dir: Path) -> None:
    """``reports/latest`` names the newest run (a text file: symlinks don't travel everywhere)."""
    (run_dir.parent / "latest").write_text(run_dir.name + "\n")


def default_run_dir(reports: Path = Path("reports")) -> Path:
    return reports / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
