"""``harness capacity``: the highest open-loop rate each variant sustains within the SLO, at each
worker count, how that scales, and the worker CPUs a target load needs (projected).

Per worker count the bench starts afresh with that many service CPUs of its own (the rest for
the bench), every variant is deployed on its own seeded database, and each is searched in turn:
the rate grows x2 from ``start_rps`` until one is not sustained, the bracket is then bisected
(geometric means) until its ends are within ``resolution``, and the highest sustained rate is run
again for a longer window to validate it. A rate clearly over (Locust's live p95 past twice the
SLO) ends its window early; after a rate that was not sustained the service is left to drain its
backlog before the next. The verdicts per rate come from :mod:`harness.analysis.capacity`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psutil

from ..analysis.capacity import (
    CapacityRule,
    bracket,
    capacity_claims,
    capacity_ratios,
    capacity_result,
    fit_scaling,
    probe_result,
    project_cpus,
)
from ..analysis.projection import closed_loop_rate
from ..bench import Bench, BenchConfig, ServiceProcess, describe_machine
from ..bench.dbprobe import idle_latency_ms
from ..bench.pinning import CpuPlan, cpu_plan
from ..load import LoadProfile
from ..records import write_run_records
from ..results import CapacityProbe, CapacityResult, CapacitySearch, LoadSettings, Results, save_results
from ..terms import ProbeVerdict
from .compare import load_profile, run_settings
from .plan import RunPlan
from .step import measure_step
from .variants import variant_target

__all__ = ["CapacityPlan", "SearchSettings", "next_rate", "run_capacity"]

_OVER = (ProbeVerdict.OVER_SLO, ProbeVerdict.ERRORS)
_IDLE_CORES = 0.10  # the service is drained once it spends less than this
_DRAIN_LIMIT_S = 30.0


@dataclass(frozen=True)
class SearchSettings:
    start_rps: float = 10.0
    growth: float = 2.0
    resolution: float = 0.10  # stop bisecting when high / low <= 1 + resolution
    floor_rps: float = 1.0  # below this a variant is reported as sustaining nothing
    ceiling_rps: float = 2000.0
    probe_window_s: float = 10.0
    validation_window_s: float = 30.0
    warmup_s: float = 3.0
    timeout_s: float = 6.0  # the generator's timeout: 3x the default SLO, so an answer past it is a failure anyway
    max_probes: int = 16  # per variant and worker count
    max_validations: int = 2


@dataclass(frozen=True)
class CapacityPlan:
    variants: tuple[str, ...]  # the first is the baseline of the ratios
    workers: tuple[int, ...] = (1,)
    pinned: bool = True  # each worker count gets that many CPUs of its own
    rule: CapacityRule = field(default_factory=CapacityRule)
    search: SearchSettings = field(default_factory=SearchSettings)
    load: LoadSettings = field(default_factory=LoadSettings)  # the mix, the seed, the pacing of the target
    bench: BenchConfig = field(default_factory=BenchConfig)
    target_rps: float | None = None  # None: target_users at the load's pacing
    target_users: int = 500


@dataclass
class CapacityControl:
    run_dir: Path
    on_probe_start: Callable[[str, int, float, str], None] = lambda *a: None
    on_progress: Callable[[str], None] = lambda _: None
    on_probe_end: Callable[[CapacityProbe], None] = lambda _: None


def next_rate(probes: Sequence[CapacityProbe], search: SearchSettings) -> tuple[float, str] | None:
    """The next (rate, phase) to try given the probes so far, or None when the search is done."""
    if not probes:
        return search.start_rps, "grow"
    best, upper = bracket(probes)
    if best is None:  # even the lowest rate tried was not sustained: go lower
        assert upper is not None
        lower = upper.rate_rps / search.growth
        return (lower, "grow") if lower >= search.floor_rps else None
    if upper is None:  # every rate so far sustained
        if best.rate_rps >= search.ceiling_rps:
            return _validation(best, probes, search)
        return min(best.rate_rps * search.growth, search.ceiling_rps), "grow"
    if upper.verdict in _OVER and upper.rate_rps / best.rate_rps > 1 + search.resolution:
        return math.sqrt(best.rate_rps * upper.rate_rps), "bisect"
    return _validation(best, probes, search)  # converged, or the bench set the limit


def _validation(
    best: CapacityProbe, probes: Sequence[CapacityProbe], search: SearchSettings
) -> tuple[float, str] | None:
    validations = [p for p in probes if p.phase == "validate"]
    done = any(p.rate_rps == best.rate_rps and p.verdict is ProbeVerdict.SUSTAINED for p in validations)
    if done or len(validations) >= search.max_validations:
        return None
    return best.rate_rps, "validate"


def target_of(plan: CapacityPlan) -> tuple[float, str]:
    """The rate the projection aims at, and what it stands for."""
    if plan.target_rps is not None:
        return plan.target_rps, f"{plan.target_rps:g} req/s (named)"
    downstream = plan.bench.graph_latency_ms + plan.bench.llm_latency_ms
    rate = closed_loop_rate(plan.target_users, plan.load.wait_mean_s, downstream)
    assert rate is not None
    return rate, (
        f"{plan.target_users} users at the checklist's pacing ({plan.load.wait_min_s:g}-{plan.load.wait_max_s:g} s "
        f"between requests, {downstream:g} ms downstream): {rate:.0f} req/s"
    )


def run_capacity(plan: CapacityPlan, control: CapacityControl) -> Results:
    run_dir = control.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    targets = tuple(variant_target(name) for name in plan.variants)
    settings_plan = RunPlan(
        targets=targets,
        baseline=plan.variants[0] if len(plan.variants) > 1 else None,
        candidates=plan.variants[1:],
        load=plan.load,
        bench=replace(plan.bench, service_workers=plan.workers[0], cpus=_cpus(plan, plan.workers[0])),
        echo=False,
        command="capacity",
        profile="capacity",
    )
    target_rps, target = target_of(plan)
    search = CapacitySearch(
        slo_p95_ms=plan.rule.slo_p95_ms,
        max_error_rate=plan.rule.max_error_rate,
        min_delivered=plan.rule.min_delivered,
        resolution=plan.search.resolution,
        probe_window_s=plan.search.probe_window_s,
        validation_window_s=plan.search.validation_window_s,
        timeout_s=plan.search.timeout_s,
        target_rps=target_rps,
        target=target,
        baseline=settings_plan.baseline,
    )
    results = Results(
        run_id=run_dir.name,
        created_at=datetime.now(UTC),
        complete=False,
        machine=describe_machine(),
        settings=run_settings(settings_plan),
        capacity=search,
    )
    frames: list[pd.DataFrame] = []
    try:
        for workers in plan.workers:
            cpus = _cpus(plan, workers)
            if plan.pinned and not cpus.pinned:
                search.notes.append(f"{workers} worker(s) not measured: {cpus.reason}")
                continue
            config = replace(plan.bench, service_workers=workers, cpus=cpus)
            with Bench(config, run_dir / "logs" / f"workers-{workers}") as bench:
                results.settings = run_settings(replace(settings_plan, bench=config), bench)
                idle_ms = idle_latency_ms(bench.database.uri)
                for target_ in targets:
                    service = bench.deploy(
                        target_.label,
                        target_.app,
                        env=target_.env,
                        indexes=target_.indexes,
                        workers=workers,
                        source=target_.source,
                    )
                    try:
                        _search_one(plan, bench, service, workers, idle_ms, control, results, frames)
                    finally:
                        service.stop()
                        bench.services.pop(target_.label, None)
                    search.results.append(
                        capacity_result(
                            search.probes,
                            service=target_.label,
                            workers=workers,
                            service_cpus=cpus.service,
                            rule=plan.rule,
                            ceiling_rps=plan.search.ceiling_rps,
                        )
                    )
                    _checkpoint(results, frames, run_dir)
        results.complete = True
    except KeyboardInterrupt:
        results.incomplete_reason = "interrupted (Ctrl-C)"
        raise
    finally:
        _finish(results, plan, frames, run_dir)
    return results


def _cpus(plan: CapacityPlan, workers: int) -> CpuPlan:
    return cpu_plan(workers) if plan.pinned else CpuPlan(reason="turned off (--service-cpus 0)")


def _search_one(
    plan: CapacityPlan,
    bench: Bench,
    service: ServiceProcess,
    workers: int,
    idle_ms: float | None,
    control: CapacityControl,
    results: Results,
    frames: list[pd.DataFrame],
) -> None:
    assert results.capacity is not None
    label, search = service.service, plan.search
    own: list[CapacityProbe] = []
    while len(own) < search.max_probes and (step := next_rate(own, search)) is not None:
        rate, phase = step
        number = len(results.steps) + 1
        control.on_probe_start(label, workers, rate, phase)
        directory = control.run_dir / "steps" / f"{number:03d}-{label}-w{workers}-{rate:.1f}rps-{phase}"
        outcome = measure_step(
            bench,
            service,
            _probe_load(plan, phase),
            _probe_profile(plan, bench, label, rate, number),
            directory,
            control.on_progress,
            database_idle_ms=idle_ms,
            stop_when=lambda elapsed, live: elapsed >= 3 and live is not None and live[1] > 2 * plan.rule.slo_p95_ms,
        )
        probe = probe_result(
            outcome.result,
            outcome.records,
            workers=workers,
            phase=phase,
            rule=plan.rule,
            seed=plan.load.seed,
            step_dir=str(directory.relative_to(control.run_dir)),
        )
        own.append(probe)
        results.capacity.probes.append(probe)
        results.steps.append(outcome.result)
        frames.append(outcome.records)
        control.on_probe_end(probe)
        if outcome.crashed or not service.alive:
            why = "the load generator failed" if outcome.crashed else f"{label} exited"
            results.capacity.notes.append(
                f"{label} at {workers} worker(s): the search stopped at {rate:.1f} rps: {why}"
            )
            return
        if probe.verdict is not ProbeVerdict.SUSTAINED:
            _drain(service)


def _probe_load(plan: CapacityPlan, phase: str) -> LoadSettings:
    search = plan.search
    window = search.validation_window_s if phase == "validate" else search.probe_window_s
    return plan.load.model_copy(
        update={"step_duration_s": window, "warmup_s": search.warmup_s, "timeout_s": search.timeout_s, "trials": 1}
    )


def _probe_profile(plan: CapacityPlan, bench: Bench, label: str, rate: float, number: int) -> LoadProfile:
    seed = plan.load.seed * 1_000_000 + 900_000 + number  # fresh message ids for every probe
    return load_profile(
        plan.load, bench, label, users=None, rate=rate, trial=0, seed=seed, timeout_s=plan.search.timeout_s
    )


def _drain(service: ServiceProcess) -> None:
    """Wait until the service has worked off what it queued (requests whose senders gave up still
    run in a sync server's threads), so the next rate starts on an idle service."""
    deadline = time.monotonic() + _DRAIN_LIMIT_S
    previous = _tree_cpu_seconds(service.pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _tree_cpu_seconds(service.pid)
        if now - previous < _IDLE_CORES:
            return
        previous = now


def _tree_cpu_seconds(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _checkpoint(results: Results, frames: list[pd.DataFrame], run_dir: Path) -> None:
    results.records_file = write_run_records(frames, run_dir)
    save_results(results, run_dir)


def _finish(results: Results, plan: CapacityPlan, frames: list[pd.DataFrame], run_dir: Path) -> None:
    from ..report import write_report

    search = results.capacity
    assert search is not None
    search.fits, search.projections = [], []
    for name in plan.variants:
        own = sorted((r for r in search.results if r.service == name), key=lambda r: r.workers)
        points = [(r.workers, r.capacity_rps.value) for r in own if r.capacity_rps.value is not None]
        if not points:
            continue
        fit = fit_scaling(name, points)
        search.fits.append(fit)
        search.projections.append(project_cpus(fit, search.target_rps, search.target, _at_most_workers(own)))
    if search.baseline is not None:
        search.ratios = capacity_ratios(search.results, search.baseline)
        results.claims = capacity_claims(search.ratios)
    results.finished_at = datetime.now(UTC)
    _checkpoint(results, frames, run_dir)
    write_report(results, run_dir)
    (run_dir.parent / "latest").write_text(run_dir.name + "\n")


def _at_most_workers(own: Sequence[CapacityResult]) -> CapacityResult | None:
    measured = [r for r in own if r.capacity_rps.value is not None]
    return measured[-1] if measured else None
