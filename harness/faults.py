"""Fault scenarios: break the database or the Graph API in the middle of a measured step.

A fault run is a comparison (the same bench, load and report) with one fault injected into every
step, at the same moment of each measured window:

``db-outage``        the embedded database is stopped, then started again on the same port with
                     the same data (a directory store, not ``:memory:``)
``upstream-errors``  a share of the Graph API sends answer 500, and another share hangs past the
                     services' ``GRAPH_API_TIMEOUT``
``upstream-slow``    every Graph API send is slower, and a share hangs past the timeout

Hangs last twice the services' timeout, so a send either answers well inside the timeout or
never: no reply lands in the instant the service gives up on it (which would be delivered *and*
retried, a double that no service could avoid, since the Graph API has no idempotency key).

The Locust users retry a 5xx or an unanswered POST with the same body, as Meta does, with a
retry horizon longer than the fault, so every message failed during it is acknowledged after
it, and the delivery audit then proves none was lost or answered twice. Per service the run
reports the errors during the fault, the time to recover after it (the fault's end to the first
full second without an error), whether ``/ready`` turned 503 and back (polled every 250 ms;
None for a service that has no ``/ready``), and that audit.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import pandas as pd

from .bench import Bench
from .compare import ComparePlan
from .database import EmbeddedDatabase
from .results import FaultResult
from .services import ServiceProcess
from .steps import StepOutcome
from .upstream import UpstreamProcess

__all__ = [
    "FAULT_KINDS",
    "READY_POLL_S",
    "FaultScenario",
    "FaultSpec",
    "FaultUnavailable",
    "ReadyProbe",
    "errors_between",
    "fault_plan",
    "ready_behaviour",
    "recovery_seconds",
    "retry_policy",
]

FAULT_KINDS = ("db-outage", "upstream-errors", "upstream-slow")
READY_POLL_S = 0.25
RETRY_BACKOFF_S = 0.5  # the first retry's delay; each next one doubles it, as Meta backs off
_RETRY_MARGIN_S = 10.0  # the retry horizon covers the fault plus this much recovery
_READY_GRACE_S = 5.0  # a /ready 503 this long after the fault's end still belongs to it


class FaultUnavailable(RuntimeError):
    """This bench cannot inject the fault (e.g. a database outage on a server it does not own)."""


@dataclass(frozen=True)
class FaultSpec:
    """One fault and its timeline; times are seconds into each step's measured window."""

    kind: str
    start_s: float = 10.0
    duration_s: float = 10.0
    graph_timeout_s: float = 2.0  # the services' GRAPH_API_TIMEOUT in a fault run
    error_rate: float = 0.3  # upstream-errors: share of sends answered 500
    timeout_rate: float | None = None  # share of sends that hang (default 0.1 errors, 0.2 slow)
    slow_latency_ms: float | None = None  # upstream-slow: latency of the others (default: timeout / 2)

    def __post_init__(self) -> None:
        problems = [
            message
            for failed, message in (
                (self.kind not in FAULT_KINDS, f"unknown fault {self.kind!r}; choose one of {', '.join(FAULT_KINDS)}"),
                (self.start_s < 0, "the fault cannot start before the window"),
                (self.duration_s <= 0, "the fault must last more than 0 s"),
                (self.graph_timeout_s <= 0, "the Graph API timeout must be more than 0 s"),
                (not 0 <= self.error_rate <= 1, "the error rate is a share between 0 and 1"),
                (not 0 <= self.hang_rate <= 1, "the timeout rate is a share between 0 and 1"),
                (self.kind == "upstream-errors" and self.error_rate + self.hang_rate > 1,
                 "error rate + timeout rate must not exceed 1"),
                (self.kind == "upstream-slow" and self.slow_ms >= self.graph_timeout_s * 1000,
                 "the slow latency must stay under the Graph API timeout (the hangs exceed it)"),
            )  # fmt: skip
            if failed
        ]
        if problems:
            raise ValueError("invalid fault: " + "; ".join(problems))

    @property
    def hang_rate(self) -> float:
        if self.timeout_rate is not None:
            return self.timeout_rate
        return 0.2 if self.kind == "upstream-slow" else 0.1

    @property
    def slow_ms(self) -> float:
        return self.slow_latency_ms if self.slow_latency_ms is not None else self.graph_timeout_s * 500

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def recommended_window_s(self) -> float:
        """Long enough after the fault for the last retries of messages it failed to land: with
        doubling backoff a retry can come up to about the fault's length after its end."""
        return self.end_s + self.duration_s + 5.0

    def graph_knobs(self) -> dict[str, Any]:
        """The fake Graph API's knobs while the fault lasts (the others are left as they were)."""
        hang = {"timeout_rate": self.hang_rate, "hang_s": 2 * self.graph_timeout_s}
        if self.kind == "upstream-errors":
            return {"error_rate": self.error_rate, **hang}
        if self.kind == "upstream-slow":
            return {"latency_ms": self.slow_ms, "distribution": "fixed", "error_rate": 0.0, **hang}
        raise ValueError(f"{self.kind} is not a Graph API fault")

    def describe(self) -> str:
        what = {
            "db-outage": "database stopped and restarted on the same port",
            "upstream-errors": f"Graph API: {self.error_rate:.0%} of sends answer 500, {self.hang_rate:.0%} "
                               f"hang past the services' {self.graph_timeout_s:g} s timeout",
            "upstream-slow": f"Graph API: sends take {self.slow_ms:g} ms, {self.hang_rate:.0%} hang past the "
                             f"services' {self.graph_timeout_s:g} s timeout",
        }[self.kind]  # fmt: skip
        return f"{self.kind} ({what}) for {self.duration_s:g} s from {self.start_s:g} s into each measured window"


def retry_policy(spec: FaultSpec, backoff_s: float = RETRY_BACKOFF_S) -> tuple[int, float]:
    """(retries, first backoff): the fewest retries whose horizon outlasts the fault plus recovery."""
    horizon = spec.duration_s + _RETRY_MARGIN_S
    retries = max(4, math.ceil(math.log2(horizon / backoff_s + 1)))
    return retries, backoff_s


def fault_plan(plan: ComparePlan, spec: FaultSpec, storage_dir: Path | None = None) -> ComparePlan:
    """``plan`` turned into a fault run: the fault on every step, no echo app, retries that outlast
    the fault, the services' Graph API timeout, and (for ``db-outage``) a database kept on disk
    in ``storage_dir`` so it can be restarted with its data."""
    if spec.end_s >= plan.step_duration_s:
        raise ValueError(
            f"the fault ends {spec.end_s:g} s into a {plan.step_duration_s:g} s window: it must end inside it "
            f"(at least {spec.recommended_window_s:g} s recommended, for retries to land)"
        )
    bench = replace(plan.bench, service_env={**plan.bench.service_env, "GRAPH_API_TIMEOUT": f"{spec.graph_timeout_s:g}"})
    if spec.kind == "db-outage":
        if bench.mongodb_uri or os.environ.get("MONGODB_URI"):
            raise FaultUnavailable(
                "db-outage stops and restarts the embedded database; MONGODB_URI points at a server the "
                "harness does not own, so it cannot be stopped. Unset MONGODB_URI to run this fault."
            )
        if storage_dir is None:
            raise ValueError("db-outage needs a storage directory: an in-memory database loses its data on restart")
        bench = replace(bench, db_storage_path=str(storage_dir))
    retries, backoff = retry_policy(spec)
    return replace(
        plan, scenario=FaultScenario(spec), echo=False, bench=bench, retries=retries, retry_backoff_s=backoff,
        command="chaos",
    )  # fmt: skip


# -- injecting -------------------------------------------------------------------------------------
class _Injector(Protocol):
    def inject(self) -> None: ...
    def heal(self) -> None: ...


class _DatabaseOutage:
    def __init__(self, database: EmbeddedDatabase) -> None:
        self._database = database

    def inject(self) -> None:
        self._database.stop()

    def heal(self) -> None:
        if not self._database.alive:
            self._database.start()  # same port, same directory: the services reconnect by themselves


class _GraphFault:
    def __init__(self, upstream: UpstreamProcess, knobs: Mapping[str, Any]) -> None:
        self._upstream = upstream
        self._knobs = dict(knobs)
        self._before = upstream.control()["graph"]

    def inject(self) -> None:
        self._upstream.configure(graph=self._knobs)

    def heal(self) -> None:
        self._upstream.configure(graph=self._before)


def _injector(spec: FaultSpec, bench: Bench, upstream: UpstreamProcess) -> _Injector:
    if spec.kind != "db-outage":
        return _GraphFault(upstream, spec.graph_knobs())
    database = bench.database.embedded
    if database is None:
        raise FaultUnavailable("db-outage needs the embedded database (MONGODB_URI is set)")
    if bench.config.db_storage_path == ":memory:":
        raise FaultUnavailable("db-outage needs the database on disk (BenchConfig.db_storage_path)")
    return _DatabaseOutage(database)


@dataclass(frozen=True)
class FaultScenario:
    """The :class:`~harness.compare.Scenario` of a fault run."""

    spec: FaultSpec

    @property
    def fault(self) -> str:
        return self.spec.describe()

    @contextlib.contextmanager
    def around_step(
        self, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
    ) -> Iterator[_FaultStep]:
        step = _FaultStep(self.spec, label, service, _injector(self.spec, bench, upstream))
        try:
            yield step
        except BaseException:
            step.close(report=False)  # the step's own error (or Ctrl-C) is the one to see
            raise
        step.close()


class _FaultStep:
    """One step's fault: a timeline thread injects and heals it; a probe polls ``/ready``."""

    def __init__(self, spec: FaultSpec, label: str, service: ServiceProcess, injector: _Injector) -> None:
        self.spec = spec
        self.label = label
        self._injector = injector
        self._probe = ReadyProbe(service.url)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.began: float | None = None  # UNIX time the fault was in force
        self.ended: float | None = None  # UNIX time it was healed (the database answering again)

    def during_window(self, elapsed_s: float, service: ServiceProcess) -> None:
        if self._thread is not None:
            return
        window_start = time.time() - elapsed_s
        self._probe.start()
        self._thread = threading.Thread(target=self._timeline, args=(window_start,), name="fault", daemon=True)
        self._thread.start()

    def _timeline(self, window_start: float) -> None:
        try:
            if self._cancel.wait(max(0.0, window_start + self.spec.start_s - time.time())):
                return
            self.began = time.time()  # set first: a half-made injection is healed too
            self._injector.inject()
            self._cancel.wait(max(0.0, self.began + self.spec.duration_s - time.time()))
            self._injector.heal()
            self.ended = time.time()
        except BaseException as error:  # reported by close(), in the thread that runs the step
            self._error = error

    def close(self, *, report: bool = True) -> None:
        """Stop the timeline and make sure the fault is healed, whatever happened to the step;
        ``report``: raise if the fault could not be injected or healed."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(60)
        self._probe.stop()
        if self.began is not None and self.ended is None:
            try:
                self._injector.heal()
                self.ended = time.time()
            except Exception:
                if report:
                    raise
        if self._error is not None and report:
            raise RuntimeError(f"the {self.spec.kind} fault failed: {self._error}") from self._error

    def finding(self, outcome: StepOutcome) -> FaultResult:
        if self.began is None or self.ended is None:
            raise RuntimeError(f"the {self.spec.kind} fault was not injected into the step of {self.label}")
        step = outcome.result
        if step.audit is None:  # only the echo app goes unaudited, and it gets no fault
            raise RuntimeError(f"the step of {self.label} has no delivery audit")
        step_start = step.started_at.timestamp()
        errors, requests = errors_between(outcome.records, self.began, self.ended)
        seen_503, recovered = ready_behaviour(self._probe.polls, self.began, self.ended)
        return FaultResult(
            service=self.label, fault=self.spec.kind,
            started_s=round(self.began - step_start, 3), ended_s=round(self.ended - step_start, 3),
            errors_during=errors, requests_during=requests,
            recovery_s=recovery_seconds(outcome.records, self.ended),
            ready_503_seen=seen_503 if self._probe.has_ready else None,
            ready_recovered=recovered if self._probe.has_ready else None,
            audit=step.audit,
        )  # fmt: skip


# -- watching --------------------------------------------------------------------------------------
@dataclass
class ReadyProbe:
    """Polls ``GET /ready`` every :data:`READY_POLL_S` from a thread; a 404 means the service has
    no ``/ready`` (the original) and ends the polling."""

    url: str
    interval_s: float = READY_POLL_S
    polls: list[tuple[float, int]] = field(default_factory=list)  # (UNIX time, status; 0: no answer)
    has_ready: bool | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ready-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=min(1.0, self.interval_s * 4)) as client:
            while not self._stop.is_set():
                asked = time.time()
                try:
                    status = client.get("/ready").status_code
                except httpx.HTTPError:
                    status = 0
                if status == 404:
                    self.has_ready = False
                    return
                if status:
                    self.has_ready = True
                self.polls.append((asked, status))
                self._stop.wait(max(0.0, asked + self.interval_s - time.time()))


# -- figures ---------------------------------------------------------------------------------------
def _failed(records: pd.DataFrame) -> pd.Series:
    """5xx or no answer: what Meta would retry."""
    return (records["status"] == 0) | (records["status"] >= 500)


def errors_between(records: pd.DataFrame, start: float, end: float) -> tuple[int, int]:
    """(failed requests, requests) among those in flight at some time in [start, end): a request
    sent before the fault that waited it out (a thread blocked on the database) belongs to it."""
    if records.empty:
        return 0, 0
    finished = records["t_start"] + records["latency_ms"] / 1000.0
    during = records[(records["t_start"] < end) & (finished >= start)]
    return int(_failed(during).sum()), len(during)


def recovery_seconds(records: pd.DataFrame, fault_end: float) -> float | None:
    """Seconds from the fault's end to the first full second (with requests) in which every
    request sent succeeded: 0 when the first second after it is clean, None when none is."""
    if records.empty:
        return None
    after = records[records["t_start"] >= fault_end]
    if after.empty:
        return None
    second = np.floor(after["t_start"].to_numpy() - fault_end).astype(int)
    failed = pd.Series(_failed(after).to_numpy(), index=second).groupby(level=0).any()
    clean = failed[~failed]
    return None if clean.empty else float(clean.index[0])


def ready_behaviour(polls: list[tuple[float, int]], fault_start: float, fault_end: float) -> tuple[bool, bool]:
    """(``/ready`` answered 503 during the fault or just after it, and its last answer was 200)."""
    if not polls:
        return False, False
    seen = any(
        status == 503 for at, status in polls if fault_start <= at < fault_end + _READY_GRACE_S
    )
    return seen, polls[-1][1] == 200
