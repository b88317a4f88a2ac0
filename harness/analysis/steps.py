"""The figures of one step (one service, one load level, one trial) from its per-request records.

Only requests *sent* inside the step's measured window count: the warm-up before it is excluded,
and requests sent in the window count even if their answer arrived after it closed (otherwise
the slowest requests, the ones that matter, would be the ones dropped). The step also says which
part of the bench, if any, ran out of CPU while it ran (:attr:`StepResult.bound_by`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from ..records import ABANDONED
from ..results import AuditFigures, CacheFigures, ComponentUsage, CpuLoad, DatabaseFigures, StepResult
from ..terms import BENCH_ADVICE, COMPONENT_LABELS, HELPER_COMPONENTS, Component
from .stats import latency_summary, littles_law_offered_rps

__all__ = [
    "BENCH_BOUND_THRESHOLD_CORES",
    "BENCH_CPUS_BUSY_SHARE",
    "DATABASE_SLOW_FACTOR",
    "DATABASE_SLOW_MIN_MS",
    "LITTLES_LAW_GAP_LIMIT",
    "MACHINE_BUSY_SHARE",
    "MACHINE_HELPER_SHARE",
    "in_window",
    "latency_column",
    "step_result",
]

BENCH_BOUND_THRESHOLD_CORES = 0.9
# The whole machine counts as the bound when it was this busy AND the bench's own processes (or
# processes outside the run) took at least this share of it: the service then competed for the
# CPU (a service that saturates the machine by itself is measured fairly: that cost is its own).
MACHINE_BUSY_SHARE = 0.75
MACHINE_HELPER_SHARE = 0.25
# Pinned: the bench's CPUs count as the bound when they were this busy (of their count).
BENCH_CPUS_BUSY_SHARE = 0.9
# The database counts as the bound when its probe read took this many times its idle time, and
# at least this long (the floor keeps a fast idle read from making every busy moment count).
DATABASE_SLOW_FACTOR = 5.0
DATABASE_SLOW_MIN_MS = 15.0
LITTLES_LAW_GAP_LIMIT = 0.2


def latency_column(arrival_rate: float) -> str:
    """The latency a load level is judged on: coordinated-omission corrected in open loop."""
    return "corrected_latency_ms" if arrival_rate > 0 else "latency_ms"


def step_result(
    records: pd.DataFrame,
    *,
    service: str,
    users: int,
    trial: int,
    started_at: datetime,
    window: tuple[float, float],
    components: Mapping[str, ComponentUsage],
    cache: CacheFigures | None,
    database: DatabaseFigures | None,
    audit: AuditFigures | None,
    wait_mean_s: float,
    downstream_latency_ms: float,
    arrival_rate: float = 0.0,
    bench_bound_threshold_cores: float = BENCH_BOUND_THRESHOLD_CORES,
    cpu_load: CpuLoad | None = None,
    service_cpu_timeline: Sequence[tuple[float, float]] = (),
    complete: bool = True,
    notes: Iterable[str] = (),
) -> StepResult:
    """The figures of one step run; ``records`` are that run's records, ``window`` (t0, t1) in
    UNIX seconds is the measured window (after warm-up); ``machine`` is (busy cores over the
    window, cores of the machine) when known."""
    t0, t1 = window
    window_s = t1 - t0
    if window_s <= 0:
        raise ValueError(f"empty measured window {window!r}")
    notes = list(notes)
    measured = in_window(records, t0, t1)
    answered = measured[measured["status"] != 0]
    requests = len(measured)
    status = measured["status"].astype(int)
    if requests == 0:
        notes.append("no request was sent in the measured window")

    by_kind = {str(kind): latency_summary(group["latency_ms"]) for kind, group in answered.groupby("kind")}
    text = by_kind.get("text")
    added_p99 = text.p99_ms - downstream_latency_ms if text and text.p99_ms is not None else None
    throughput = len(answered) / window_s
    offered, gap = _offered_load(measured, users, arrival_rate, wait_mean_s, throughput)
    if gap is not None and abs(gap) > LITTLES_LAW_GAP_LIMIT:
        notes.append(
            f"throughput {throughput:.1f} rps is {gap:+.0%} off the {offered:.1f} rps the load should "
            "have offered (Little's law): the load was not what was asked for"
        )
    bound_by = _bench_bound(components, bench_bound_threshold_cores, notes)
    if _database_slow(database, notes) and Component.DATABASE not in bound_by:
        bound_by.append(Component.DATABASE)
    if cpu_load is not None and cpu_load.pinned:
        if _bench_cpus_bound(components, cpu_load, notes) and Component.BENCH_CPUS not in bound_by:
            bound_by.append(Component.BENCH_CPUS)
        _note_service_saturation(cpu_load, notes)
    elif cpu_load is not None and _machine_bound(components, cpu_load.machine_cores, cpu_load.machine_cpus, notes):
        bound_by.append(Component.MACHINE)
    service_usage = components.get("service")
    return StepResult(
        service=service,
        users=users,
        arrival_rate=arrival_rate,
        trial=trial,
        started_at=started_at,
        window_s=window_s,
        window_start=t0,
        requests=requests,
        throughput_rps=throughput,
        success_rate=_share(status.between(200, 299).sum(), requests),
        error_rate=_share(((status == 0) | (status >= 500)).sum(), requests),
        status_counts={str(code): int(n) for code, n in status.value_counts().sort_index().items()},
        latency=latency_summary(answered["latency_ms"]),
        corrected_latency=latency_summary(answered["corrected_latency_ms"]) if arrival_rate > 0 else None,
        latency_by_kind=by_kind,
        offered_rps=offered,
        littles_law_gap=gap,
        added_latency_p99_ms=added_p99,
        downstream_latency_ms=downstream_latency_ms,
        cpu_load=cpu_load,
        service_cpu_timeline=list(service_cpu_timeline),
        service_cpu_ms_per_request=(
            service_usage.cpu_seconds * 1000 / requests if service_usage is not None and requests else None
        ),
        cache=cache,
        database=database,
        components=dict(components),
        bound_by=bound_by,
        audit=audit,
        complete=complete,
        notes=notes,
    )


def in_window(records: pd.DataFrame, t0: float, t1: float) -> pd.DataFrame:
    """The records of requests sent in [t0, t1), attempts cut off by the step's end left out."""
    return records[(records["t_start"] >= t0) & (records["t_start"] < t1) & (records["error"] != ABANDONED)]


def _share(count: int | np.integer, total: int) -> float:
    return float(count) / total if total else 0.0


def _offered_load(
    measured: pd.DataFrame, users: int, arrival_rate: float, wait_mean_s: float, throughput: float
) -> tuple[float | None, float | None]:
    # Open loop: what was asked for is the arrival rate itself. Closed loop: Little's law over
    # every request's time (failures occupy a user too).
    if arrival_rate > 0:
        offered: float | None = arrival_rate
    elif len(measured):
        offered = littles_law_offered_rps(users, float(measured["latency_ms"].mean()) / 1000, wait_mean_s)
    else:
        offered = None
    gap = throughput / offered - 1 if offered else None
    return offered, gap


def _bench_bound(components: Mapping[str, ComponentUsage], threshold: float, notes: list[str]) -> list[Component]:
    bound: list[Component] = []
    for name in HELPER_COMPONENTS:
        usage = components.get(name)
        if usage is not None and usage.cpu_cores_mean >= threshold:
            bound.append(name)
            notes.append(
                f"{COMPONENT_LABELS[name]} at {usage.cpu_cores_mean:.2f} cores (>= {threshold:.2f}): the step "
                f"measured the bench, not the service; {BENCH_ADVICE[name]}"
            )
    return bound


def _database_slow(database: DatabaseFigures | None, notes: list[str]) -> bool:
    """The database queued: a one-document read took DATABASE_SLOW_FACTOR x its idle time (and
    DATABASE_SLOW_MIN_MS at least) at the 90th percentile of the window's probes."""
    if database is None or database.probe_p90_ms is None or database.probe_idle_ms is None:
        return False
    limit = max(DATABASE_SLOW_MIN_MS, DATABASE_SLOW_FACTOR * database.probe_idle_ms)
    if database.probe_p90_ms < limit:
        return False
    notes.append(
        f"the database answered a one-document read in {database.probe_p90_ms:.1f} ms at p90 (idle: "
        f"{database.probe_idle_ms:.1f} ms; limit {limit:.1f} ms): it queued, and the service's figures are "
        f"partly the database's; {BENCH_ADVICE[Component.DATABASE]}"
    )
    return True


def _bench_cpus_bound(components: Mapping[str, ComponentUsage], load: CpuLoad, notes: list[str]) -> bool:
    """Pinned: the bench's own CPUs ran out, so the load, the database or the upstream may have
    held the service back. The busiest bench process is named."""
    cpus = len(load.bench_cpus)
    if load.bench_cores is None or load.bench_cores < BENCH_CPUS_BUSY_SHARE * cpus:
        return False
    helpers = {name: components[name].cpu_cores_mean for name in HELPER_COMPONENTS if name in components}
    busiest = max(helpers, key=helpers.__getitem__, default=None)
    most = f"; the {COMPONENT_LABELS[busiest]} took {helpers[busiest]:.2f} cores" if busiest else ""
    notes.append(
        f"the bench's CPUs ({_cpu_list(load.bench_cpus)}) were {load.bench_cores:.2f} of {cpus} cores busy{most}: "
        f"the service may have been held back by its bench; {BENCH_ADVICE[Component.BENCH_CPUS]}"
    )
    return True


def _note_service_saturation(load: CpuLoad, notes: list[str]) -> None:
    """The service filled its own CPUs: its capacity on them, a valid measurement (not a bound)."""
    cpus = len(load.service_cpus)
    if load.service_cores is not None and load.service_cores >= BENCH_CPUS_BUSY_SHARE * cpus:
        notes.append(
            f"the service filled its {cpus} CPU(s) ({load.service_cores:.2f} cores busy): this is its capacity "
            "on them, measured fairly"
        )


def _cpu_list(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _machine_bound(components: Mapping[str, ComponentUsage], busy_cores: float, cores: int, notes: list[str]) -> bool:
    """The service competed for CPU: the machine was busy and either the bench's own processes
    or processes outside the run (another tenant of a shared machine) took a large share."""
    if cores <= 0 or busy_cores < MACHINE_BUSY_SHARE * cores:
        return False
    helpers = sum(components[name].cpu_cores_mean for name in HELPER_COMPONENTS if name in components)
    outside = busy_cores - sum(usage.cpu_cores_mean for usage in components.values())
    if helpers >= MACHINE_HELPER_SHARE * cores:
        competitor = f"the bench's own processes (load generator, database, upstream) took {helpers:.2f} cores of it"
    elif outside >= MACHINE_HELPER_SHARE * cores:
        competitor = f"processes outside this run took {outside:.2f} cores of it"
    else:
        return False
    notes.append(
        f"the machine was {busy_cores:.2f} of {cores} cores busy and {competitor}: the service "
        f"competed for CPU, so its figures are a lower bound; {BENCH_ADVICE[Component.MACHINE]}"
    )
    return True
