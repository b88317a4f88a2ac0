"""One measured step: one service under one load level for one trial.

Locust runs for warm-up + window; figures cover only the window. At the window's edges the
service's ``/metrics`` (cache counters) and the database's ``serverStatus`` (operations) are
read, so their deltas belong to this step alone. CPU and memory of every component are sampled
throughout, and the service's own TCP connections to the database are counted.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pandas as pd
import psutil

from contract import MetricsReport

from ..analysis import MIN_REQUESTS, audit_figures, step_result
from ..bench import Bench, ResourceSampler, ServiceProcess, server_status
from ..bench.dbprobe import DatabaseProbe
from ..bench.pinning import CpuPlan, busy_cores, steal_seconds
from ..load import LoadOutcome, LoadProfile, LoadRun, LoadStep
from ..load.payloads import other_step_wamids
from ..results import AuditFigures, CacheFigures, ComponentUsage, CpuLoad, DatabaseFigures, LoadSettings, StepResult
from ..terms import ECHO
from ..upstream import UpstreamProcess
from .plan import WindowHook

__all__ = ["StepOutcome", "measure_step", "other_steps_of", "tail_s"]

_QUIET_LIMIT_S = 30.0  # the longest wait for an earlier step's service to work off its queue
_QUIET_SAMPLE_S = 0.5
_QUIET_CORES = 0.15  # per service CPU: idle services, their /metrics pollers and the OS stay under it
# Load keeps running past the window so that the requests sent in its last moments are answered
# under full load: for twice the slowest latency so far (Locust's p99), within these bounds.
_TAIL_S = 2.0
_TAIL_MIN_S = 0.5
_TAIL_SLOWEST = 2.0
_STATS_LAG_S = 2.0  # a distributed master hears of its workers' requests up to this late (they report each second)
# The step's clock starts when the first answers show in Locust's stats file (written twice a
# second), up to this long after Locust's own run time started counting.
_START_DETECTION_S = 3.0
_SETTLE_S = 0.5  # after Locust stops: replies still in flight reach the upstream's ledger
# A closed-loop window that holds fewer requests than a level needs (a saturated sync service
# answers so few a second that a quick window can end either side of the minimum) is extended,
# by at most this share of its length, when the rate so far reaches them in that time; one that
# cannot is not.
_EXTENSION_SHARE = 1.0
# Aim past the minimum: Locust counts answers in the window, the level counts requests sent in it
# and answered before the load ends, and on a saturated service the second runs short of the first.
_EXTENSION_AIM = 1.25
_EXTENSION_ROUNDS = 3  # the rate is re-read after each round: a saturated service's drifts


@dataclass
class StepOutcome:
    result: StepResult
    records: pd.DataFrame
    crashed: bool
    log_tail: str = ""


Progress = Callable[[str], None]
# Asked about once a second of the window with the seconds elapsed and Locust's live (requests/s,
# p95 ms): True ends the window there and stops the load (a rate clearly over what is sustained).
# A saturated service answers /metrics behind the webhook requests it has queued, seconds later;
# a reading missed leaves the cache's hit rate unjudged.
_METRICS_TIMEOUT_S = 20.0
StopWhen = Callable[[float, tuple[float, float] | None], bool]


def measure_step(
    bench: Bench,
    service: ServiceProcess,
    load: LoadSettings,
    profile: LoadProfile,
    directory: Path,
    progress: Progress = lambda _: None,
    *,
    upstream: UpstreamProcess | None = None,
    during_window: WindowHook | None = None,
    database_idle_ms: float | None = None,
    stop_when: StopWhen | None = None,
) -> StepOutcome:
    """Run ``profile`` against ``service`` for ``load``'s warm-up and window, and measure it.

    The phases: wait for quiet service CPUs, run the load and read everything at the window's
    edges (:func:`_run_window`), audit the replies, then the step's figures and notes."""
    upstream = upstream or bench.upstream
    distributed = bool(load.locust_workers or load.remote_workers)
    # Not for open-loop rates (their count is set), distributed runs (their counts arrive late),
    # or runs that act on the window's clock (faults, capacity's early stop).
    plain = not (profile.arrival_rate or distributed or during_window or stop_when)
    extension_cap_s = _EXTENSION_SHARE * load.step_duration_s if plain else 0.0
    # Before the audit's reset: the replies of a queue still being worked off land before it.
    waited_s, quiet = _wait_for_quiet_service_cpus(bench.config.cpus, progress)
    upstream.reset_audit()
    step = _load_step(service, load, profile, extension_cap_s, distributed)
    window = _run_window(
        bench, service, upstream, load, step, directory, progress, extension_cap_s, during_window, stop_when
    )
    time.sleep(_SETTLE_S)
    records = window.outcome.records
    audit = _audit(upstream, records, directory) if profile.service != ECHO else None
    notes = _notes(window, service, profile, load, waited_s, quiet, audit)
    result = _result(bench, service, profile, load, window, records, audit, notes, database_idle_ms)
    return StepOutcome(result, records, window.outcome.crashed, window.outcome.log_tail)


def _load_step(
    service: ServiceProcess, load: LoadSettings, profile: LoadProfile, extension_cap_s: float, distributed: bool
) -> LoadStep:
    """The Locust run: long enough for the start, warm-up, window, its longest extension and tail."""
    users = profile.users or 0
    return LoadStep(
        service.url,
        profile,
        duration_s=max(
            1,
            round(
                _START_DETECTION_S
                + load.warmup_s
                + load.step_duration_s
                + extension_cap_s
                + _TAIL_S
                + (_STATS_LAG_S if distributed else 0)
            ),
        ),
        spawn_rate=max(users / 2, 1.0) if profile.arrival_rate == 0 else None,
        # Users finish the request in hand when the step ends: even a request that runs into the
        # generator's own timeout is recorded, so no reply goes unaccounted in the audit.
        stop_timeout_s=profile.timeout_s + 2,
        locust_workers=load.locust_workers,
        remote_workers=load.remote_workers,
        master_bind_host=load.master_bind_host,
        master_port=load.master_port,
    )


@dataclass
class _Window:
    """What the load phase measured: the window's edges and everything read at them."""

    started_at: datetime
    t0: float
    t1: float
    stopped: bool
    extended_s: float
    cpu_load: CpuLoad
    before: _Counters
    after: _Counters
    components: dict[str, ComponentUsage]
    service_cpu: list[tuple[float, float]]
    connections_max: int
    probe: DatabaseProbe
    outcome: LoadOutcome


def _run_window(
    bench: Bench,
    service: ServiceProcess,
    upstream: UpstreamProcess,
    load: LoadSettings,
    step: LoadStep,
    directory: Path,
    progress: Progress,
    extension_cap_s: float,
    during_window: WindowHook | None,
    stop_when: StopWhen | None,
) -> _Window:
    """Run the load: the first answers, the warm-up, then the window with every component sampled
    and the counters, the service's /metrics and the database read at its edges."""
    sampler = ResourceSampler({"service": service.pid, "upstream": upstream.pid})
    if bench.database.pid is not None:
        sampler.watch("database", bench.database.pid)
    connections = _ConnectionWatcher(service.pid, bench.database.uri)
    started_at = datetime.now(UTC)
    sampler.start()
    with LoadRun.start(step, directory) as run:
        sampler.watch("load_generator", run.pids)
        _wait_for_first_answers(run, progress)
        _sleep_reporting(load.warmup_s, run, progress, "warm-up")
        sampler.mark()
        bench.pin_services()  # any worker gunicorn (re)started since is on the services' CPUs too
        cpu_before = psutil.cpu_times(percpu=True)
        t0 = time.time()
        operations_before = server_status(bench.mongo).operations
        # A saturated service answers /metrics behind its queue (up to _METRICS_TIMEOUT_S): read
        # beside the window, not before it, so its clock is not held by the wait.
        reading = _MetricsReading(service)
        counted_before = run.requests_so_far()
        connections.start()
        probe = DatabaseProbe(bench.database.uri).start()
        stopped = _sleep_reporting(
            load.step_duration_s,
            run,
            progress,
            "measuring",
            lambda t: during_window and during_window(t, service),
            stop_when,
        )
        extended_s = 0.0
        if extension_cap_s and not stopped:
            wanted = math.ceil(MIN_REQUESTS * _EXTENSION_AIM / max(load.trials, 1))
            extended_s = _extend_window(run, progress, counted_before, wanted, load.step_duration_s, extension_cap_s)
        t1 = time.time()
        ender = None
        if stopped:
            run.finish_early()  # the users finish the request in hand, which is recorded
        elif not step.distributed:  # a master hears of its workers' requests late: its own time
            # Locust's run time left room for a late start and the longest extension: end the load
            # as the tail ends, whatever the reads below take (a saturated service's /metrics).
            ender = threading.Timer(tail_s(run.live_p99_ms()), run.finish_early)
            ender.daemon = True
            ender.start()
        cpu_load = _cpu_load(bench.config.cpus, cpu_before, psutil.cpu_times(percpu=True), t1 - t0)
        after = _Counters(server_status(bench.mongo).operations, _read_metrics(service))
        before = _Counters(operations_before, reading.result())
        components = sampler.stop()
        probe.stop()
        service_cpu = sampler.cpu_series("service")
        connections.stop()
        outcome = run.wait()
        if ender is not None:
            ender.cancel()
    return _Window(
        started_at=started_at,
        t0=t0,
        t1=t1,
        stopped=stopped,
        extended_s=extended_s,
        cpu_load=cpu_load,
        before=before,
        after=after,
        components=components,
        service_cpu=service_cpu,
        connections_max=connections.maximum,
        probe=probe,
        outcome=outcome,
    )


def _audit(upstream: UpstreamProcess, records: pd.DataFrame, directory: Path) -> AuditFigures:
    deliveries = upstream.audit()
    audit = audit_figures(records, deliveries, other_steps=other_steps_of(deliveries, records))
    if audit.doubled:
        _keep_doubled(deliveries, directory)
    return audit


def _notes(
    window: _Window,
    service: ServiceProcess,
    profile: LoadProfile,
    load: LoadSettings,
    waited_s: float,
    quiet: bool,
    audit: AuditFigures | None,
) -> list[str]:
    """What the reader of this step must know that its figures do not say."""
    outcome, notes = window.outcome, []
    if outcome.crashed:
        how = "it did not end in time" if outcome.timed_out else f"exit code {outcome.exit_code}"
        notes.append(f"the load generator did not finish cleanly ({how}); see the step's locust logs")
    if not service.alive:
        notes.append(f"{profile.service} exited during the step (code {service.returncode})")
    if waited_s >= 1.0:
        notes.append(
            f"waited {waited_s:.0f} s before the step for the services' CPUs to go quiet (an earlier step's "
            "service was working off its queue)"
            + ("" if quiet else f"; still busy after {_QUIET_LIMIT_S:g} s: the step ran beside it")
        )
    if window.extended_s:
        notes.append(
            f"the window was extended by {window.extended_s:.1f} s to hold the {MIN_REQUESTS} requests a level needs "
            f"(the service answered fewer in {load.step_duration_s:g} s)"
        )
    if audit is not None and audit.other_steps:
        notes.append(
            f"{audit.other_steps} replies to an earlier step's messages landed during this one (a service "
            "working off its queue): counted apart, not as this step's"
        )
    if window.stopped:
        notes.append(
            f"the window was ended after {window.t1 - window.t0:.0f} of {load.step_duration_s:g} s: "
            "the rate was clearly over"
        )
    return notes


def _result(
    bench: Bench,
    service: ServiceProcess,
    profile: LoadProfile,
    load: LoadSettings,
    window: _Window,
    records: pd.DataFrame,
    audit: AuditFigures | None,
    notes: list[str],
    database_idle_ms: float | None,
) -> StepResult:
    config, t0, t1 = bench.config, window.t0, window.t1
    measures_replies = profile.service != ECHO
    result = step_result(
        records,
        service=profile.service,
        users=profile.users or 0,
        trial=profile.trial,
        started_at=window.started_at,
        window=(t0, t1),
        components=window.components,
        cache=_cache(window.before, window.after),
        database=_database(
            window.before,
            window.after,
            len(records[(records.t_start >= t0) & (records.t_start < t1)]),
            window.connections_max,
            window.probe,
            database_idle_ms,
        ),
        audit=audit,
        wait_mean_s=load.wait_mean_s,
        downstream_latency_ms=config.graph_latency_ms + config.llm_latency_ms if measures_replies else 0.0,
        arrival_rate=profile.arrival_rate,
        cpu_load=window.cpu_load,
        service_cpu_timeline=window.service_cpu,
        complete=not window.outcome.crashed and service.alive,
        notes=notes,
    )
    result.stopped_early = window.stopped
    return result


def _wait_for_quiet_service_cpus(plan: CpuPlan, progress: Progress) -> tuple[float, bool]:
    """Wait until the services' CPUs are idle: a sync service keeps working off the requests its
    callers gave up on after its step has ended, on the CPUs the next step's service measures on.
    Returns (seconds waited, whether they went quiet). Unpinned, the bench shares every CPU: no
    idle to wait for."""
    if not plan.pinned or not plan.service:
        return 0.0, True
    started = time.monotonic()
    while (waited := time.monotonic() - started) < _QUIET_LIMIT_S:
        before = psutil.cpu_times(percpu=True)
        time.sleep(_QUIET_SAMPLE_S)
        busy = busy_cores(before, psutil.cpu_times(percpu=True), plan.service) / _QUIET_SAMPLE_S
        if busy < _QUIET_CORES * len(plan.service):
            return waited, True
        progress(f"waiting for the services' CPUs to go quiet ({busy:.2f} cores busy)")
    return waited, False


def other_steps_of(upstream_audit: dict[str, Any], records: pd.DataFrame) -> list[str]:
    """The wamids of other steps' messages that the Graph API received replies to during this one."""
    delivered = (upstream_audit.get("deliveries") or {}).keys()
    return other_step_wamids(delivered, records["wamid"].dropna().astype(str).unique())


def _keep_doubled(deliveries: dict[str, Any], directory: Path) -> None:
    """The wamids the Graph API received more than one reply for, beside the step's records, so a
    double can be traced to its requests (wamids only: no token, no message text)."""
    counts = deliveries.get("deliveries") or {}
    doubled = {wamid: n for wamid, n in counts.items() if n > 1}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "doubled.json").write_text(json.dumps(doubled, indent=1, sort_keys=True))


def tail_s(p99_ms: float | None) -> float:
    """How long the load runs past the window: twice the slowest latency so far, 0.5 to 2 s
    (2 s when Locust has none to tell)."""
    if p99_ms is None:
        return _TAIL_S
    return min(_TAIL_S, max(_TAIL_MIN_S, _TAIL_SLOWEST * p99_ms / 1000))


def _wait_for_first_answers(run: LoadRun, progress: Progress, timeout: float = 90.0) -> None:
    """The step's clock starts with the load, as Locust's own run time does: a master that waits
    for its workers (remote ones may attach late) must not eat into the warm-up or the window."""
    deadline = time.monotonic() + timeout
    while run.requests_so_far() == 0 and run.alive and time.monotonic() < deadline:
        progress("waiting for the load generator to start")
        time.sleep(0.1)


def _extend_window(
    run: LoadRun, progress: Progress, counted_before: int, wanted: int, window_s: float, cap_s: float
) -> float:
    """Keep measuring until the window holds ``wanted`` answers, when the rate so far gets there
    within ``cap_s``; returns the seconds added (0: enough already, or too slow to get there)."""
    added = 0.0
    for _ in range(_EXTENSION_ROUNDS):
        counted = run.requests_so_far() - counted_before
        if counted >= wanted or counted <= 0:
            break
        needed_s = (wanted - counted) * (window_s + added) / counted
        if not added and needed_s > cap_s:
            return 0.0  # the level says it has too few requests, with the remedy
        needed_s = min(needed_s, cap_s - added)  # a later round: as close as the bound allows
        if needed_s <= 0:
            break
        _sleep_reporting(needed_s, run, progress, "extending the window")
        added += needed_s
    return added


def _sleep_reporting(
    seconds: float,
    run: LoadRun,
    progress: Progress,
    phase: str,
    tick: Callable[[float], object] = lambda _: None,
    stop_when: StopWhen | None = None,
) -> bool:
    """Sleep ``seconds`` reporting Locust's live figures; True when ``stop_when`` ended it early."""
    started = time.monotonic()
    deadline = started + seconds
    while (left := deadline - time.monotonic()) > 0:
        elapsed = time.monotonic() - started
        tick(elapsed)
        live = run.live()
        if stop_when is not None and stop_when(elapsed, live):
            return True
        figures = f"{live[0]:.0f} rps, p95 {live[1]:.0f} ms (Locust, so far)" if live else "starting"
        progress(f"{phase} {seconds - left:4.0f}/{seconds:.0f}s  {figures}")
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
    return False


def _cpu_load(plan: CpuPlan, before: list[Any], after: list[Any], seconds: float) -> CpuLoad:
    """How busy the machine, and each CPU set of a pinned run, was over the window, in cores."""
    stolen = steal_seconds(before, after)
    load = CpuLoad(
        machine_cores=busy_cores(before, after, range(len(after))) / seconds,
        machine_cpus=len(after),
        steal_cores=None if stolen is None else stolen / seconds,
    )
    if plan.pinned:
        load = load.model_copy(
            update={
                "service_cpus": list(plan.service),
                "bench_cpus": list(plan.bench),
                "service_cores": busy_cores(before, after, plan.service) / seconds,
                "bench_cores": busy_cores(before, after, plan.bench) / seconds,
                "service_steal_cores": None if stolen is None else steal_seconds(before, after, plan.service) / seconds,
            }
        )
    return load


@dataclass(frozen=True)
class _Counters:
    operations: int
    metrics: MetricsReport | None  # the service's /metrics, when it has the operational routes


def _read_metrics(service: ServiceProcess) -> MetricsReport | None:
    """The service's /metrics (None: it has none, or did not answer in time)."""
    try:
        answer = httpx.get(f"{service.url}/metrics", timeout=_METRICS_TIMEOUT_S)
        if answer.status_code == 200:
            return MetricsReport.model_validate(answer.json())
    except (httpx.HTTPError, ValueError):
        pass
    return None


class _MetricsReading:
    """One /metrics read on a thread of its own; ``result()`` waits for it."""

    def __init__(self, service: ServiceProcess) -> None:
        self._metrics: MetricsReport | None = None
        self._thread = threading.Thread(target=self._read, args=(service,), name="metrics-before", daemon=True)
        self._thread.start()

    def _read(self, service: ServiceProcess) -> None:
        self._metrics = _read_metrics(service)

    def result(self) -> MetricsReport | None:
        self._thread.join(_METRICS_TIMEOUT_S + 5)
        return self._metrics


def _cache(before: _Counters, after: _Counters) -> CacheFigures | None:
    if before.metrics is None or after.metrics is None:
        return None  # no /metrics to read it from
    first, last = before.metrics.cache, after.metrics.cache
    if first is None or last is None:
        return None  # the service has no cache
    hits, misses = last.hits - first.hits, last.misses - first.misses
    return CacheFigures(hits=hits, misses=misses, hit_rate=hits / (hits + misses) if hits + misses else None)


def _database(
    before: _Counters,
    after: _Counters,
    requests: int,
    connections_max: int,
    probe: DatabaseProbe,
    idle_ms: float | None,
) -> DatabaseFigures:
    operations = after.operations - before.operations
    return DatabaseFigures(
        operations=operations,
        operations_per_request=operations / requests if requests else None,
        connections_max=connections_max,
        probe_p50_ms=probe.percentile(50),
        probe_p90_ms=probe.percentile(90),
        probe_idle_ms=idle_ms,
    )


class _ConnectionWatcher:
    """Counts the service's own established TCP connections to the database, every second.

    The database server's ``connections.current`` counts every client (the idle service, the
    upstream, the harness); the service's sockets are what its pool actually holds.
    """

    def __init__(self, pid: int, uri: str) -> None:
        parsed = urlparse(uri.replace("mongodb+srv://", "mongodb://"))
        self._port = parsed.port or 27017
        self._pid = pid
        self.maximum = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-connections", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.maximum = max(self.maximum, self._count())
            self._stop.wait(1.0)

    def _count(self) -> int:
        try:
            root = psutil.Process(self._pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                total += sum(
                    1
                    for c in process.net_connections(kind="tcp")
                    if c.raddr and c.raddr.port == self._port and c.status == psutil.CONN_ESTABLISHED
                )
            except psutil.Error:
                continue
        return total
