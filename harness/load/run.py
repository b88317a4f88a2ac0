"""One step of load, sent by Locust running as real subprocesses.

:class:`LoadRun` starts Locust for one :class:`LoadStep` (a :class:`~harness.load.profile.LoadProfile`
plus how long, how fast and on how many processes) without blocking, so the caller can sample
CPU while it runs, and collects the per-request records when it ends.

Locust runs headless. With ``locust_workers=0`` it is one process; with N > 0 it is an explicit
master (``--master --expect-workers N``) plus N ``--worker`` processes, never ``--processes``:
the harness must know every PID to measure the generator's own CPU. Every process is a
:class:`~harness.processes.ManagedProcess`, stopped by its PID also on error and Ctrl-C.
Secrets reach Locust through the environment, never argv.

Workers on other machines: give the step ``remote_workers=M``, ``master_bind_host="0.0.0.0"``
and a fixed ``master_port`` (``harness compare --remote-workers M --master-bind-host 0.0.0.0
--master-port P``); the master then waits for its local and its M remote workers. On each load
machine, with only the two secrets in the environment, run a worker in a loop (a worker quits
with each step's master; the next step's master takes it back)::

    while true; do WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=... \
        locust -f harness/load/locustfile.py --worker --master-host <master ip> --master-port <P>; sleep 1; done

Each step's master hands its workers the step's ``LOAD_*`` settings (``--load-profile``, never a
secret), so labels, seeds and the mix are the master's; a worker with no ``LOAD_RECORDS_DIR`` of
its own sends its records to the master, which files them beside the local ones
(``records-remote-<worker>.csv``): the results are the same in form as with local workers.

Open-loop mode (``arrival_rate`` R > 0): the users together send R requests/s on a fixed
schedule and latency is also measured from each request's scheduled time (coordinated
omission corrected). The number of users U bounds how many requests can be in flight, so it
is picked as R x the request timeout, capped at :data:`OPEN_LOOP_MAX_USERS`: below the cap
the schedule never slips for want of a free user, and above it a slip still shows in the
corrected latency rather than being hidden.

Exit codes: 0 clean; :data:`REQUEST_FAILURES_EXIT_CODE` when the only problem is that some
requests failed (the service's doing, not a crash); anything else is a crash of the generator
(:data:`TASK_ERROR_EXIT_CODE`: the locustfile raised).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..processes import ManagedProcess, base_environment, free_port, wait_until
from ..records import read_record_files
from .profile import REQUEST_FAILURES_EXIT_CODE, LoadProfile, open_loop_users

if TYPE_CHECKING:  # pandas stays out of the Locust processes
    import pandas as pd

__all__ = ["LOCUSTFILE", "LoadOutcome", "LoadRun", "LoadStep", "run_load_step"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
_START_GRACE_S = 60.0  # Locust start-up and workers connecting, before the step's clock runs
_OWN_END_MARGIN_S = 2.0  # finish_early leaves a run this close to its own end alone
_STOP_S = 10.0  # SIGTERM to SIGKILL for a Locust process
_CRASHED_STOP_S = 2.0  # the same for what is left of a step that crashed


@dataclass(frozen=True)
class LoadStep:
    host: str
    profile: LoadProfile
    duration_s: int = 30
    spawn_rate: float | None = None  # users started per second; None: all within about 1 s
    stop_timeout_s: float = 10.0  # users finish the request in hand (and give up retrying)
    locust_workers: int = 0  # worker processes started here, besides the master
    remote_workers: int = 0  # workers the master also waits for, started on other machines
    master_bind_host: str = "127.0.0.1"  # "0.0.0.0" to accept workers from other machines
    master_port: int | None = None  # None: a free port (remote workers need it fixed)

    def __post_init__(self) -> None:
        if self.duration_s < 1 or self.locust_workers < 0 or self.remote_workers < 0:
            raise ValueError("a load step needs duration_s >= 1 and worker counts >= 0")
        if not self.profile.open_loop and (self.profile.users or 0) < 1:
            raise ValueError("a closed-loop step needs profile.users >= 1")

    @property
    def distributed(self) -> bool:
        return self.locust_workers + self.remote_workers > 0

    @property
    def users(self) -> int:
        """Locust's -u: the closed-loop users, or the users that carry the open-loop schedule."""
        if self.profile.open_loop:
            return self.profile.arrival_users or open_loop_users(self.profile.arrival_rate, self.profile.timeout_s)
        return int(self.profile.users or 0)

    def shared_profile(self, records_dir: Path) -> str:
        """What the master hands every worker with each spawn (Locust passes custom options on):
        the step's LOAD_* settings, never a secret. A worker on another machine adopts them, and
        sends its records to the master when it keeps none of its own."""
        env = self.environment(records_dir)
        shared = {k: v for k, v in env.items() if k.startswith("LOAD_")}
        return json.dumps(shared, separators=(",", ":"))

    def environment(self, records_dir: Path) -> dict[str, str]:
        labels = {"users": 0, "arrival_users": self.users} if self.profile.open_loop else {}
        profile = dataclasses.replace(self.profile, records_dir=records_dir, **labels)
        env = base_environment()
        env.update(profile.to_env())
        env["PYTHONUNBUFFERED"] = "1"
        return env


@dataclass
class LoadOutcome:
    exit_code: int | None  # the master's (or the single process'); None: it had to be stopped
    worker_exit_codes: list[int | None]
    records: pd.DataFrame
    record_files: list[Path]
    log_tail: str = ""  # set when the run crashed or timed out
    timed_out: bool = False

    @property
    def requests_failed(self) -> bool:
        """Some requests failed (Locust's view); the run itself completed."""
        return self.exit_code == REQUEST_FAILURES_EXIT_CODE

    @property
    def crashed(self) -> bool:
        fine = (0, REQUEST_FAILURES_EXIT_CODE)
        return self.timed_out or self.exit_code not in fine or any(c not in fine for c in self.worker_exit_codes)


class LoadRun:
    """Locust processes for one step. ``start()`` returns at once; ``wait()`` collects."""

    def __init__(self, step: LoadStep, directory: Path) -> None:
        self.step = step
        self.directory = Path(directory)
        self.records_dir = self.directory / "records"
        self._master: ManagedProcess | None = None
        self._workers: list[ManagedProcess] = []
        self._started_at = 0.0

    @classmethod
    def start(cls, step: LoadStep, directory: Path) -> LoadRun:
        return cls(step, directory)._start()

    def _start(self) -> LoadRun:
        self.records_dir.mkdir(parents=True, exist_ok=True)
        if stale := sorted(self.records_dir.glob("records-*.csv")):
            raise FileExistsError(f"{self.records_dir} already holds records ({stale[0].name}); use a fresh directory")
        env = self.step.environment(self.records_dir)
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
        cwd = LOCUSTFILE.parents[2]  # `python -m` puts it on sys.path, so `harness` imports
        try:
            if not self.step.distributed:
                self._master = ManagedProcess(
                    "locust", base + self._master_flags(), env=env, cwd=cwd, log_path=self.directory / "locust.log"
                ).start()
            else:
                port = self.step.master_port or free_port()
                workers = self.step.locust_workers + self.step.remote_workers
                master_flags = self._master_flags() + [
                    "--load-profile",
                    self.step.shared_profile(self.records_dir),
                    "--master",
                    "--master-bind-host",
                    self.step.master_bind_host,
                    "--master-bind-port",
                    str(port),
                    "--expect-workers",
                    str(workers),
                    "--expect-workers-max-wait",
                    str(int(_START_GRACE_S)),
                ]
                self._master = ManagedProcess(
                    "locust-master",
                    base + master_flags,
                    env=env,
                    cwd=cwd,
                    log_path=self.directory / "locust-master.log",
                ).start()
                for n in range(self.step.locust_workers):
                    worker_flags = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                    self._workers.append(
                        ManagedProcess(
                            f"locust-worker-{n}",
                            base + worker_flags,
                            env=env,
                            cwd=cwd,
                            log_path=self.directory / f"locust-worker-{n}.log",
                        ).start()
                    )
        except BaseException:
            self.stop()
            raise
        self._started_at = time.monotonic()
        return self

    def _master_flags(self) -> list[str]:
        step = self.step
        spawn_rate = step.spawn_rate if step.spawn_rate is not None else max(step.users, 1)
        return [
            "--headless",
            "--host",
            step.host,
            "-u",
            str(step.users),
            "-r",
            f"{spawn_rate:g}",
            "-t",
            f"{step.duration_s}s",
            "--stop-timeout",
            f"{step.stop_timeout_s:g}",
            "--only-summary",
            "--exit-code-on-error",
            str(REQUEST_FAILURES_EXIT_CODE),
            # Locust's own stats: the live progress line, and when the load began (final figures come
            # from the per-request records, not from Locust's rounded buckets).
            "--csv",
            str(self.directory / "locust"),
        ]

    def requests_so_far(self) -> int:
        """Requests Locust has counted so far (0 before the first stats interval)."""
        return int(self._aggregate("Request Count") or 0)

    def _last_aggregate(self) -> dict[str, str] | None:
        # Locust rewrites this file whole every half second (the locustfile sets it; its history
        # file is buffered: too late).
        try:
            lines = (self.directory / "locust_stats.csv").read_text().splitlines()
        except OSError:
            return None
        header = lines[0].split(",") if lines else []
        for line in reversed(lines[1:]):
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("Name") == "Aggregated":
                return row
        return None

    def _aggregate(self, column: str) -> float | None:
        """One figure of Locust's running totals, or None before it has one ("N/A" before the
        first responses)."""
        row = self._last_aggregate()
        try:
            return float(row[column]) if row else None
        except (KeyError, ValueError):
            return None

    def live_p99_ms(self) -> float | None:
        """Locust's p99 (ms) since the step began, or None before any response."""
        return self._aggregate("99%")

    def live(self) -> tuple[float, float] | None:
        """Locust's (requests/s, p95 ms) since the step began, or None before any response."""
        rate, p95 = self._aggregate("Requests/s"), self._aggregate("95%")
        return (rate, p95) if rate is not None and p95 is not None else None

    @property
    def processes(self) -> list[ManagedProcess]:
        return [p for p in (self._master, *self._workers) if p is not None]

    @property
    def pids(self) -> list[int]:
        """Every Locust process of this step (master first), for the CPU sampler."""
        return [p.pid for p in self.processes]

    @property
    def alive(self) -> bool:
        return any(p.alive for p in self.processes)

    def wait(self, timeout: float | None = None) -> LoadOutcome:
        """Wait for the step to end (``timeout`` None: its own duration plus generous grace)."""
        if self._master is None:
            raise RuntimeError("the load run was not started")
        if timeout is None:
            timeout = _START_GRACE_S + self.step.duration_s + self.step.stop_timeout_s + 30
        deadline = self._started_at + timeout
        master, workers = self._master, self._workers
        # A worker that dies while its master runs is a crash: don't sit out the whole step.
        ended = wait_until(
            lambda: not master.alive or any(not w.alive for w in workers),
            max(deadline - time.monotonic(), 0.0),
            interval=0.1,
        )
        # Workers quit just before their master does; give it (and them) a moment to finish.
        finished = ended and wait_until(lambda: not master.alive, 3, interval=0.1)
        wait_until(lambda: not any(w.alive for w in workers), 15 if finished else 0, interval=0.1)
        exit_code = master.returncode if finished else None
        worker_codes = [w.returncode for w in self._workers]
        tails = {p.name: p.log_tail(30) for p in self.processes}
        # A step that crashed has nothing left to send: its master is not waited on for long.
        self.stop(_STOP_S if finished else _CRASHED_STOP_S)
        outcome = LoadOutcome(
            exit_code=exit_code,
            worker_exit_codes=worker_codes,
            records=read_record_files(self.record_files()),
            record_files=self.record_files(),
            timed_out=not ended,
        )
        if outcome.crashed:
            outcome.log_tail = "\n".join(f"--- {name}\n{tail}" for name, tail in tails.items())
        return outcome

    def record_files(self) -> list[Path]:
        return sorted(self.records_dir.glob("records-*.csv"))

    def finish_early(self) -> None:
        """End the step now, as its run time would: the master stops its users (they finish the
        request in hand, which is recorded) and quits; ``wait()`` then collects as usual. Not when
        its run time is about to end it anyway: a SIGTERM that lands in Locust's own shutdown
        ends the process by the signal, and the step would read as a crash."""
        if self._master is not None and time.monotonic() < self._started_at + self.step.duration_s - _OWN_END_MARGIN_S:
            self._master.terminate()

    def stop(self, timeout: float = _STOP_S) -> None:
        """Stop every Locust process by PID (workers first, so none reconnects); idempotent."""
        for process in reversed(self.processes):
            process.stop(timeout=timeout)

    def __enter__(self) -> LoadRun:
        return self if self._master is not None else self._start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_load_step(step: LoadStep, directory: Path, timeout: float | None = None) -> LoadOutcome:
    """Run one step to its end (blocking); see :class:`LoadRun` to sample while it runs."""
    with LoadRun.start(step, directory) as run:
        return run.wait(timeout)
