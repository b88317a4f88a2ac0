"""A fault run: a comparison (the same bench, load and report) with one fault injected into every
step, at the same moment of each measured window.

The Locust users retry a 5xx or an unanswered POST with the same body, as Meta does, with a
retry horizon longer than the fault, so every message failed during it is acknowledged after
it, and the delivery audit then shows whether any was lost or answered twice. Per service the
run reports the errors during the fault (and every status answered while it lasted), the time to
recover after it (the fault's end to the first full second without an error), whether ``/ready``
turned 503 and back (polled every 250 ms; None for a service that has no ``/ready``), and that
audit, with the doubles a fault explains by its nature counted apart (a kill's crash window, the
timeout's edge) from those nothing explains.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from ...analysis.audit import audit_figures
from ...analysis.faults import (
    crash_figures,
    cut_messages,
    errors_between,
    ready_behaviour,
    recovery_seconds,
    statuses_between,
)
from ...bench import Bench, ServiceProcess
from ...results import FaultResult
from ...upstream import UpstreamProcess
from ..plan import RunPlan
from ..step import StepOutcome, other_steps_of
from .base import Evidence, Fault, Injector

__all__ = ["READY_POLL_S", "FaultScenario", "ReadyProbe", "fault_plan", "recommended_window_s", "retry_policy"]

READY_POLL_S = 0.25
RETRY_BACKOFF_S = 0.5  # the first retry's delay; each next one doubles it, as Meta backs off
_RETRY_MARGIN_S = 10.0  # the retry horizon covers the fault plus this much recovery


def recommended_window_s(fault: Fault) -> float:
    """Long enough after the fault for the last retries of messages it failed to land: with
    doubling backoff a retry can come up to about the fault's length after its end."""
    return fault.timeline.end_s + fault.timeline.duration_s + 5.0


def retry_policy(fault: Fault, backoff_s: float = RETRY_BACKOFF_S) -> tuple[int, float]:
    """(retries, first backoff): the fewest retries whose horizon outlasts the fault plus recovery."""
    horizon = fault.timeline.duration_s + _RETRY_MARGIN_S
    retries = max(4, math.ceil(math.log2(horizon / backoff_s + 1)))
    return retries, backoff_s


def fault_plan(plan: RunPlan, fault: Fault, storage_dir: Path) -> RunPlan:
    """``plan`` turned into a fault run: the fault on every step, no echo app, retries that outlast
    the fault, the services' Graph API timeout, and whatever the fault itself needs."""
    window = plan.load.step_duration_s
    if fault.timeline.end_s >= window:
        raise ValueError(
            f"the fault ends {fault.timeline.end_s:g} s into a {window:g} s window: it must end inside it "
            f"(at least {recommended_window_s(fault):g} s recommended, for retries to land)"
        )
    env = {**plan.bench.service_env, "GRAPH_API_TIMEOUT": f"{fault.timeline.graph_timeout_s:g}"}
    retries, backoff = retry_policy(fault)
    plan = replace(
        plan,
        scenario=FaultScenario(fault),
        echo=False,
        command="chaos",
        bench=replace(plan.bench, service_env=env),
        load=plan.load.model_copy(update={"retries": retries, "retry_backoff_s": backoff}),
    )
    return fault.prepare(plan, storage_dir)


@dataclass(frozen=True)
class FaultScenario:
    """The :class:`~harness.runs.plan.StepScenario` of a fault run."""

    spec: Fault

    @property
    def fault(self) -> str:
        return self.spec.description()

    @contextlib.contextmanager
    def around_step(
        self, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
    ) -> Iterator[_FaultStep]:
        step = _FaultStep(self.spec, label, service, upstream, self.spec.injector(bench, service, upstream))
        try:
            yield step
        except BaseException:
            step.close(report=False)  # the step's own error (or Ctrl-C) is the one to see
            raise
        step.close()


class _FaultStep:
    """One step's fault: a timeline thread injects and heals it; a probe polls ``/ready``."""

    def __init__(
        self, fault: Fault, label: str, service: ServiceProcess, upstream: UpstreamProcess, injector: Injector
    ) -> None:
        self.fault = fault
        self.label = label
        self._upstream = upstream
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
        timeline = self.fault.timeline
        try:
            if self._cancel.wait(max(0.0, window_start + timeline.start_s - time.time())):
                return
            self.began = time.time()  # set first: a half-made injection is healed too
            self._injector.inject()
            self._cancel.wait(max(0.0, self.began + timeline.duration_s - time.time()))
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
            raise RuntimeError(f"the {self.fault.kind} fault failed: {self._error}") from self._error

    def finding(self, outcome: StepOutcome) -> FaultResult:
        if self.began is None or self.ended is None:
            raise RuntimeError(f"the {self.fault.kind} fault was not injected into the step of {self.label}")
        step = outcome.result
        if step.audit is None:  # only the echo app goes unaudited, and it gets no fault
            raise RuntimeError(f"the step of {self.label} has no delivery audit")
        records = outcome.records
        evidence = self._evidence()
        cut = cut_messages(records, evidence.kills or ())
        # The audit again, now that the kills are known (the ledger holds until the next step):
        # the step keeps the same figures, with its doubles attributed.
        upstream_audit = self._upstream.audit()
        audit = audit_figures(
            records, upstream_audit, cut_wamids=cut.keys(), other_steps=other_steps_of(upstream_audit, records)
        )
        outcome.result = step.model_copy(update={"audit": audit, "notes": [*step.notes, *evidence.notes]})
        step_start = step.started_at.timestamp()
        errors, requests = errors_between(records, self.began, self.ended)
        seen_503, recovered = ready_behaviour(self._probe.polls, self.began, self.ended)
        crash = crash_figures(records, cut) if evidence.kills is not None else None
        return FaultResult(
            service=self.label,
            fault=self.fault.kind,
            users=step.users,
            arrival_rate=step.arrival_rate,
            trial=step.trial,
            started_s=round(self.began - step_start, 3),
            ended_s=round(self.ended - step_start, 3),
            errors_during=errors,
            requests_during=requests,
            statuses_during=statuses_between(records, self.began, self.ended),
            recovery_s=recovery_seconds(records, self.ended),
            ready_503_seen=seen_503 if self._probe.has_ready else None,
            ready_recovered=recovered if self._probe.has_ready else None,
            audit=audit,
            kills=None if evidence.kills is None else len(evidence.kills),
            lease_s=evidence.lease_s,
            messages_cut=crash.messages_cut if crash else None,
            cut_unacknowledged=crash.unacknowledged if crash else None,
            cut_to_ack_max_s=crash.cut_to_ack_max_s if crash else None,
            edge_sends=int(upstream_audit.get("edge_sends", 0)) if evidence.edge else None,
            edge_late=int(upstream_audit.get("edge_late", 0)) if evidence.edge else None,
            probe=evidence.probe,
            probe_status=evidence.probe_status,
            probe_retry_after=evidence.probe_retry_after,
        )

    def _evidence(self) -> Evidence:
        evidence = getattr(self._injector, "evidence", None)
        return evidence() if callable(evidence) else Evidence()


@dataclass
class ReadyProbe:
    """Polls ``GET /ready`` every :data:`READY_POLL_S` from a thread; a 404 means the service has
    no ``/ready`` and ends the polling."""

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
