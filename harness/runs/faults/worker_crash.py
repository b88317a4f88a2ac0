"""``worker-crash``: a service worker SIGKILLed several times while it answers messages, as the
OOM killer, a forced deploy or a lost node would: no shutdown, no cleanup, whatever it held in
memory gone. Under gunicorn the master respawns the worker; a lone uvicorn is brought back on the
same port by the bench, as a supervisor would.

A kill that lands after a worker delivered a reply and before it marked the message done leaves
the claim pending: Meta's retries are answered 503 "in flight" until the claim's lease runs out,
and then taken over and answered again. Those doubles are the crash window's, counted apart; so
the window shows in a short run, the services run with a short ``PROCESSING_LEASE_SECONDS``.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

from ...bench import Bench, ServiceProcess
from ...upstream import UpstreamProcess
from ..plan import RunPlan
from .base import Evidence, Fault, FaultOption, Injector, register

_DEFAULT_LEASE_S = 5.0
_MIN_UP_S = 0.5  # a restarted service takes traffic this long before the next kill
_RESPAWN_TIMEOUT_S = 60.0


@register
class WorkerCrash(Fault):
    kind = "worker-crash"
    summary = "SIGKILL a service worker several times (gunicorn respawns it; the bench restarts a lone uvicorn)"
    options = (
        FaultOption(
            "kills", "--kills", 3, "workers SIGKILLed during the fault, one at a seeded random moment per slice"
        ),
        FaultOption(
            "lease_s",
            "--lease",
            _DEFAULT_LEASE_S,
            "the services' PROCESSING_LEASE_SECONDS: a claim a dead worker left is taken over after it",
        ),
    )

    seed: int = 1  # the run's load seed (set by prepare): every service gets the same kill moments

    @property
    def kills(self) -> int:
        return int(self.values["kills"] or 0)

    @property
    def lease_s(self) -> float:
        value = self.values["lease_s"]
        return _DEFAULT_LEASE_S if value is None else float(value)

    def problems(self) -> list[str]:
        problems = []
        kills = self.values["kills"] or 0
        if kills < 1 or kills != int(kills):
            problems.append(f"--kills is a whole number of kills, at least 1, not {kills:g}")
        if not self.lease_s > 0:
            problems.append("the lease must be more than 0 s")
        return problems

    def describe(self) -> str:
        return f"{self.kills} SIGKILLs of a service worker, claims' lease {self.lease_s:g} s"

    def prepare(self, plan: RunPlan, storage_dir: Path) -> RunPlan:
        self.seed = plan.load.seed
        env = {**plan.bench.service_env, "PROCESSING_LEASE_SECONDS": f"{self.lease_s:g}"}
        return replace(plan, bench=replace(plan.bench, service_env=env))

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        rng = random.Random(f"{self.kind}:{self.seed}")
        slice_s = self.timeline.duration_s / self.kills
        moments = [(i + rng.random()) * slice_s for i in range(self.kills)]
        return _Crasher(service, moments, self.lease_s, rng)


class _Crasher:
    """Kills on a schedule (seconds after the injection) from a thread; heal() stops it and
    makes sure the service is whole again."""

    def __init__(self, service: ServiceProcess, moments: list[float], lease_s: float, rng: random.Random) -> None:
        self._service = service
        self._moments = moments
        self._lease_s = lease_s
        self._rng = rng
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.kills: list[float] = []  # UNIX time of each SIGKILL
        self.restarts = 0

    def inject(self) -> None:
        self._thread = threading.Thread(target=self._run, args=(time.time(),), name="worker-crash", daemon=True)
        self._thread.start()

    def _run(self, injected: float) -> None:
        try:
            ready = injected
            for moment in self._moments:
                due = max(injected + moment, ready + _MIN_UP_S)
                if self._stop.wait(max(0.0, due - time.time())):
                    return
                self._kill_one()
                ready = time.time()
        except BaseException as error:  # reported by heal(), in the thread that runs the fault
            self._error = error

    def _kill_one(self) -> None:
        service = self._service
        if service.workers > 1:
            workers = sorted(child.pid for child in psutil.Process(service.pid).children())
            if not workers:  # every worker is being respawned: nothing to kill now
                return
            victim = self._rng.choice(workers)
            self.kills.append(time.time())
            os.kill(victim, signal.SIGKILL)
            return
        self.kills.append(time.time())
        os.killpg(service.pid, signal.SIGKILL)  # the lone uvicorn is its own process group
        service.restart(_RESPAWN_TIMEOUT_S)
        self.restarts += 1

    def heal(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_RESPAWN_TIMEOUT_S + 10)
        service = self._service
        if not service.alive:
            service.restart(_RESPAWN_TIMEOUT_S)
            self.restarts += 1
        elif service.workers > 1:
            _wait_for_workers(service)
        if self._error is not None:
            raise RuntimeError(f"a kill failed: {self._error}") from self._error

    def evidence(self) -> Evidence:
        notes = ()
        if self.restarts:
            notes = (
                f"the service was restarted {self.restarts} time(s) after a SIGKILL; its CPU is sampled "
                "until the first kill only",
            )
        return Evidence(kills=tuple(self.kills), lease_s=self._lease_s, notes=notes)


def _wait_for_workers(service: ServiceProcess) -> None:
    """Until gunicorn has as many workers as it was started with (it respawns a killed one)."""
    deadline = time.monotonic() + _RESPAWN_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if len(psutil.Process(service.pid).children()) >= service.workers:
                return
        except psutil.Error:
            return  # the master is gone: the step reports the service as exited
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not respawn {service.service}'s killed worker within {_RESPAWN_TIMEOUT_S:g} s")
