"""The main job: both services under the same load, step by step, and the migration decision.

Every service runs at once on its own freshly seeded database; the load levels are then walked
in order and, within a level, the services take turns in a seeded random order per trial
(interleaved, not all of one then all of the other, so drift on a shared machine falls on
both). A bare FastAPI echo app runs each level too: the machine's own ceiling for that run.
Results are saved after every step, so a run that stops early keeps what it measured.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from .bench import Bench, BenchConfig
from .criteria import Criteria, load_criteria
from .decision import conclude
from .loadgen import DEFAULT_MIX, LoadProfile
from .machine import describe_machine
from .results import FaultResult, Results, RunSettings, SoakResult, StepResult, save_results
from .services import BenchSecrets, ServiceProcess
from .upstream import UpstreamProcess
from .steps import StepOutcome, StepPlan, WindowHook, measure_step

__all__ = [
    "PROFILES",
    "ComparePlan",
    "RunControl",
    "Scenario",
    "ScenarioStep",
    "Target",
    "default_run_dir",
    "default_targets",
    "run_comparison",
    "with_profile",
    "write_records",
]

PROFILES: dict[str, dict[str, float]] = {
    # about 20 s a step; four levels, three services: a few minutes in all
    "quick": {"step_duration_s": 12, "warmup_s": 3, "trials": 1},
    # longer windows, a longer warm-up, and repeated interleaved trials for confidence intervals
    "full": {"step_duration_s": 60, "warmup_s": 10, "trials": 3},
}
CANDIDATE, BASELINE, ECHO = "optimized", "original", "echo"


@dataclass(frozen=True)
class Target:
    """One service under test: the label reports use, the app it runs, and what sets it apart."""

    label: str
    app: str  # original | optimized | echo
    overrides: dict[str, str] = field(default_factory=dict)
    upstream_latency_factor: float = 1.0  # != 1: its own fake upstream, that much slower


def default_targets(services: Sequence[str], driver: str = "pymongo") -> tuple[Target, ...]:
    return tuple(
        Target(name, name, {"MONGO_DRIVER": driver} if name == CANDIDATE else {}) for name in services
    )


class ScenarioStep(Protocol):
    """A scenario's hold on one step: it acts during the window and reports what it found."""

    def during_window(self, elapsed_s: float, service: ServiceProcess) -> None: ...

    def finding(self, outcome: StepOutcome) -> FaultResult | SoakResult: ...


class Scenario(Protocol):
    """Something done to every step besides the load: a fault (``harness chaos``) or a memory
    watch (``harness soak``). ``around_step`` sets it up before the step and undoes it after,
    also when the step fails."""

    fault: str | None  # what RunSettings.fault records (None: nothing is broken on purpose)

    def around_step(
        self, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
    ) -> AbstractContextManager[ScenarioStep]: ...


@dataclass(frozen=True)
class ComparePlan:
    targets: tuple[Target, ...] = field(default_factory=lambda: default_targets((BASELINE, CANDIDATE)))
    candidate: str = CANDIDATE
    baseline: str = BASELINE
    users: tuple[int, ...] = (50, 100, 250, 500)
    arrival_rates: tuple[float, ...] = ()
    profile: str = "quick"
    step_duration_s: float = 16
    warmup_s: float = 4
    trials: int = 1
    service_workers: int = 1
    locust_workers: int = 0
    remote_workers: int = 0  # Locust workers on other machines that attach to each step's master
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    secrets: BenchSecrets | None = None  # None: fresh ones for this run
    wait_min_s: float = 0.1
    wait_max_s: float = 0.5
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    echo: bool = True
    criteria_file: Path | None = None
    command: str = "compare"
    bench: BenchConfig = field(default_factory=BenchConfig)
    during_window: WindowHook | None = None  # called about every second of each measured window
    scenario: Scenario | None = None  # a fault or a soak watch applied to every step
    retries: int = 4  # Meta-style retries of a 5xx or unanswered POST (LOAD_RETRIES)
    retry_backoff_s: float = 0.5  # first retry's delay, doubling each time (LOAD_RETRY_BACKOFF_S)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(target.label for target in self.targets)

    @property
    def levels(self) -> list[tuple[int, float]]:
        """(users, arrival rate) per load level; open-loop levels have users 0."""
        if self.arrival_rates:
            return [(0, rate) for rate in self.arrival_rates]
        return [(users, 0.0) for users in self.users]

    def order(self) -> list[tuple[str, int, float, int]]:
        """(service, users, arrival rate, trial) in the order they run."""
        rng = random.Random(self.bench.seed)
        steps = []
        for users, rate in self.levels:
            if self.echo:
                steps.append((ECHO, users, rate, 0))
            for trial in range(self.trials):
                turn = list(self.services)
                rng.shuffle(turn)
                steps.extend((service, users, rate, trial) for service in turn)
        return steps


@dataclass
class RunControl:
    """What the caller sees and can stop: progress lines, and where results go."""

    run_dir: Path
    on_step_start: Callable[[int, int, str, int, float, int], None] = lambda *a: None
    on_progress: Callable[[str], None] = lambda _: None
    on_step_end: Callable[[StepResult], None] = lambda _: None


def run_comparison(plan: ComparePlan, control: RunControl) -> Results:
    run_dir = control.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    criteria = load_criteria(plan.criteria_file)  # a bad criteria file fails before any load
    results = Results(
        run_id=run_dir.name, created_at=datetime.now(UTC), complete=False,
        machine=describe_machine(), settings=_settings(plan, "pending"),
    )  # fmt: skip
    frames: list[pd.DataFrame] = []
    order = plan.order()
    try:
        with Bench(plan.bench, run_dir / "logs", plan.secrets) as bench:
            results.settings = _settings(plan, bench.database_description)
            services, upstreams = _deploy(bench, plan)
            for number, (name, users, rate, trial) in enumerate(order, start=1):
                control.on_step_start(number, len(order), name, users, rate, trial)
                with _scenario_step(plan, bench, name, services[name], upstreams[name]) as extra:
                    outcome = measure_step(
                        bench, services[name], _step_plan(plan, bench, name, users, rate, trial),
                        run_dir / "steps" / f"{number:03d}-{name}-{users or rate:g}-t{trial}",
                        control.on_progress, upstream=upstreams[name],
                        during_window=_window_hooks(plan.during_window, extra),
                    )  # fmt: skip
                if extra is not None:
                    _record_finding(results, extra.finding(outcome))
                frames.append(outcome.records)
                results.steps.append(outcome.result)
                control.on_step_end(outcome.result)
                _checkpoint(results, frames, run_dir)
                if not services[name].alive:
                    reason = f"{name} exited during a step:\n{services[name].log_tail()}"
                    return _stopped(results, frames, run_dir, reason, criteria, plan)
                if outcome.crashed:
                    reason = "the load generator failed:\n" + outcome.log_tail
                    return _stopped(results, frames, run_dir, reason, criteria, plan)
    except KeyboardInterrupt:
        _stopped(results, frames, run_dir, "interrupted (Ctrl-C)", criteria, plan)
        raise
    results.complete = True
    return _finish(results, frames, run_dir, criteria, plan)


def _scenario_step(plan: ComparePlan, bench: Bench, label: str, service: ServiceProcess,
                   upstream: UpstreamProcess) -> AbstractContextManager[ScenarioStep | None]:  # fmt: skip
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


def _deploy(bench: Bench, plan: ComparePlan) -> tuple[dict[str, ServiceProcess], dict[str, UpstreamProcess]]:
    services, upstreams = {}, {}
    targets = ([Target(ECHO, ECHO)] if plan.echo else []) + list(plan.targets)
    for target in targets:
        upstream = bench.upstream
        if target.upstream_latency_factor != 1.0:
            upstream = bench.add_upstream(f"upstream-{target.label}", target.upstream_latency_factor)
        upstreams[target.label] = upstream
        services[target.label] = bench.deploy(
            target.app, label=target.label, workers=plan.service_workers, overrides=target.overrides,
            upstream=upstream,
        )  # fmt: skip
    return services, upstreams


def _step_plan(plan: ComparePlan, bench: Bench, service: str, users: int, rate: float, trial: int) -> StepPlan:
    # Common random numbers: both services get the same messages at a level and trial (each on
    # its own database), while every level and trial gets fresh message ids.
    level = plan.levels.index((users, rate))
    profile = LoadProfile(
        service=service, users=users or None, trial=trial, arrival_rate=rate,
        seed=plan.bench.seed * 1_000_000 + level * 1000 + trial,
        mix=plan.mix, businesses=plan.bench.businesses, phones_per_business=plan.bench.phones_per_business,
        wait_min_s=plan.wait_min_s, wait_max_s=plan.wait_max_s,
        retries=plan.retries, retry_backoff_s=plan.retry_backoff_s,
        app_secret=bench.secrets.app_secret, verify_token=bench.secrets.verify_token,
    )  # fmt: skip
    return StepPlan(service, users, trial, plan.warmup_s, plan.step_duration_s, profile, plan.locust_workers, rate,
                    plan.remote_workers, plan.master_bind_host, plan.master_port)  # fmt: skip


def _settings(plan: ComparePlan, database: str) -> RunSettings:
    from .criteria import DEFAULT_CRITERIA_FILE

    return RunSettings(
        command=plan.command, profile=plan.profile, services=list(plan.services),
        users=list(plan.users) if not plan.arrival_rates else [], arrival_rates=list(plan.arrival_rates),
        step_duration_s=plan.step_duration_s, warmup_s=plan.warmup_s, trials=plan.trials,
        service_workers=plan.service_workers, locust_workers=plan.locust_workers,
        remote_workers=plan.remote_workers,
        wait_min_s=plan.wait_min_s, wait_max_s=plan.wait_max_s,
        llm_latency_ms=plan.bench.llm_latency_ms, graph_latency_ms=plan.bench.graph_latency_ms,
        businesses=plan.bench.businesses, phones_per_business=plan.bench.phones_per_business,
        seed=plan.bench.seed, mix=dict(plan.mix), database=database,
        criteria_file=str(plan.criteria_file or DEFAULT_CRITERIA_FILE),
        candidate=plan.candidate, baseline=plan.baseline,
        fault=plan.scenario.fault if plan.scenario else None,
    )  # fmt: skip


def write_records(frames: Sequence[pd.DataFrame], run_dir: Path) -> str | None:
    """All per-request records of the run: Parquet, or CSV where pyarrow is missing."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    records = pd.concat(frames, ignore_index=True)
    try:
        records.to_parquet(run_dir / "requests.parquet", index=False)
        (run_dir / "requests.csv").unlink(missing_ok=True)
        return "requests.parquet"
    except ImportError:
        records.to_csv(run_dir / "requests.csv", index=False)
        return "requests.csv"


def _checkpoint(results: Results, frames: list[pd.DataFrame], run_dir: Path) -> None:
    results.records_file = write_records(frames, run_dir)
    save_results(results, run_dir)


def _stopped(results: Results, frames: list[pd.DataFrame], run_dir: Path, reason: str, criteria: Criteria,
             plan: ComparePlan) -> Results:  # fmt: skip
    results.complete = False
    results.incomplete_reason = reason
    return _finish(results, frames, run_dir, criteria, plan)


def _finish(results: Results, frames: list[pd.DataFrame], run_dir: Path, criteria: Criteria,
            plan: ComparePlan) -> Results:  # fmt: skip
    from .report import write_report

    results.finished_at = datetime.now(UTC)
    results.records_file = write_records(frames, run_dir)
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if results.steps:
        results = conclude(results, records, criteria, seed=results.settings.seed,
                           candidate=plan.candidate, baseline=plan.baseline)  # fmt: skip
    save_results(results, run_dir)
    write_report(results, run_dir)
    _point_latest(run_dir)
    return results


def _point_latest(run_dir: Path) -> None:
    """``reports/latest`` names the newest run (a text file: symlinks don't travel everywhere)."""
    (run_dir.parent / "latest").write_text(run_dir.name + "\n")


def default_run_dir(reports: Path = Path("reports")) -> Path:
    return reports / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def with_profile(plan: ComparePlan, profile: str) -> ComparePlan:
    return replace(plan, profile=profile, **PROFILES[profile])  # type: ignore[arg-type]
