"""Load generation: one step of load, sent by Locust running as real subprocesses.

:class:`LoadProfile` is the load itself (the mix, the pacing, the labels, the secrets) and is
what ``harness/locustfile.py`` reads from its environment, so the harness and a hand-run
``locust -f harness/locustfile.py`` mean the same thing by the same variables.
:class:`LoadRun` starts Locust for one :class:`LoadStep` without blocking, so the caller can
sample CPU while it runs, and collects the per-request records when it ends.

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
        locust -f harness/locustfile.py --worker --master-host <master ip> --master-port <P>; sleep 1; done

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
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .processes import ManagedProcess, free_port, wait_until
from .results import RECORD_COLUMNS

if TYPE_CHECKING:  # pandas stays out of the Locust processes, which import this module
    import pandas as pd

__all__ = [
    "DEFAULT_MIX",
    "KINDS",
    "LOCUSTFILE",
    "OPEN_LOOP_MAX_USERS",
    "RECORD_DTYPES",
    "REQUEST_FAILURES_EXIT_CODE",
    "TASK_ERROR_EXIT_CODE",
    "LoadOutcome",
    "LoadProfile",
    "LoadRun",
    "LoadStep",
    "format_mix",
    "normalise_mix",
    "open_loop_users",
    "parse_mix",
    "read_records",
    "run_load_step",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
DEFAULT_MIX: Mapping[str, float] = {
    "text": 0.75,
    "status": 0.12,
    "duplicate": 0.05,
    "unknown_phone": 0.05,
    "handshake": 0.03,
}
KINDS = frozenset({*DEFAULT_MIX, "disabled"})
OPEN_LOOP_MAX_USERS = 500  # the top closed-loop level: a load one Locust process is known to carry
REQUEST_FAILURES_EXIT_CODE = 3  # passed as --exit-code-on-error
TASK_ERROR_EXIT_CODE = 4  # set by the locustfile when a task raised

# "int: ..." -> the pandas dtype; the schema's own descriptions are the single source of truth.
_DTYPE_OF = {"str": "str", "int": "int64", "float": "float64", "bool": "bool"}
RECORD_DTYPES: dict[str, str] = {
    name: _DTYPE_OF[description.split(":", 1)[0]] for name, description in RECORD_COLUMNS.items()
}
_START_GRACE_S = 60.0  # Locust start-up and workers connecting, before the step's clock runs


# -- the load profile ---------------------------------------------------------------------------
def parse_mix(text: str) -> dict[str, float]:
    """``"text=0.75,status=0.25"`` -> shares normalised to sum 1 (weights are accepted too)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"LOAD_MIX: {item!r} is not KIND=SHARE")
        try:
            weights[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"LOAD_MIX: share of {kind.strip()!r} is not a number: {value!r}") from None
    return normalise_mix(weights)


def normalise_mix(weights: Mapping[str, float]) -> dict[str, float]:
    """Check the kinds and shares of a mix and scale the shares to sum 1 (zero shares dropped)."""
    for kind, weight in weights.items():
        if kind not in KINDS:
            raise ValueError(f"LOAD_MIX: unknown kind {kind!r}; choose from {', '.join(sorted(KINDS))}")
        if not weight >= 0:
            raise ValueError(f"LOAD_MIX: share of {kind!r} must be a number >= 0, not {weight!r}")
    total = sum(weights.values())
    if not total > 0:
        raise ValueError("LOAD_MIX: the shares must add up to more than 0")
    return {kind: weight / total for kind, weight in weights.items() if weight > 0}


def format_mix(mix: Mapping[str, float]) -> str:
    return ",".join(f"{kind}={share:.12g}" for kind, share in mix.items())


@dataclass(frozen=True)
class LoadProfile:
    """The load the locustfile sends; each field is one environment variable (see to_env)."""

    service: str = "unknown"
    users: int | None = None  # label; None: the locustfile takes -u when it can
    trial: int = 0
    arrival_rate: float = 0.0  # > 0: open loop, requests/s over all users
    arrival_users: int | None = None  # open loop: users over all processes
    seed: int = 1
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    zipf_s: float = 1.1
    businesses: int = 50
    phones_per_business: int = 2
    wait_min_s: float = 0.1
    wait_max_s: float = 0.5
    retries: int = 4
    retry_backoff_s: float = 0.5
    timeout_s: float = 30.0
    records_dir: Path | None = None
    app_secret: str | None = field(default=None, repr=False)
    verify_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = [
            message
            for failed, message in (
                (self.businesses < 1, "LOAD_BUSINESSES must be at least 1"),
                (self.phones_per_business < 1, "LOAD_PHONES_PER_BUSINESS must be at least 1"),
                (not 0 <= self.wait_min_s <= self.wait_max_s, "need 0 <= LOAD_WAIT_MIN <= LOAD_WAIT_MAX"),
                (self.retries < 0, "LOAD_RETRIES must be at least 0"),
                (self.retry_backoff_s < 0, "LOAD_RETRY_BACKOFF_S must be at least 0"),
                (self.timeout_s <= 0, "LOAD_TIMEOUT_S must be more than 0"),
                (self.arrival_rate < 0, "LOAD_ARRIVAL_RATE must be at least 0"),
                (self.zipf_s < 0, "LOAD_ZIPF_S must be at least 0"),
                (self.arrival_users is not None and self.arrival_users < 1, "LOAD_ARRIVAL_USERS must be >= 1"),
            )
            if failed
        ]
        if problems:
            raise ValueError("invalid load profile: " + "; ".join(problems))
        object.__setattr__(self, "mix", normalise_mix(self.mix))

    @property
    def open_loop(self) -> bool:
        return self.arrival_rate > 0

    def to_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, (variable, _) in _VARIABLES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name == "mix":
                env[variable] = format_mix(value)
            else:
                env[variable] = repr(value) if isinstance(value, float) else str(value)  # floats exact
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadProfile:
        """The profile the variables describe; unset or blank variables keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, (variable, parse) in _VARIABLES.items():
            raw = env.get(variable, "")
            if not raw.strip():
                continue
            if variable in _SECRETS:
                values[name] = raw  # verbatim, and never echoed in an error
                continue
            try:
                values[name] = parse(raw.strip())
            except ValueError as error:
                raise ValueError(f"{variable}={raw.strip()!r}: {error}") from None
        return cls(**values)  # type: ignore[arg-type]


# LoadProfile field -> (environment variable, parser); the locustfile's docstring documents them.
_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "service": ("LOAD_SERVICE", str),
    "users": ("LOAD_USERS", int),
    "trial": ("LOAD_TRIAL", int),
    "arrival_rate": ("LOAD_ARRIVAL_RATE", float),
    "arrival_users": ("LOAD_ARRIVAL_USERS", int),
    "seed": ("LOAD_SEED", int),
    "mix": ("LOAD_MIX", parse_mix),
    "zipf_s": ("LOAD_ZIPF_S", float),
    "businesses": ("LOAD_BUSINESSES", int),
    "phones_per_business": ("LOAD_PHONES_PER_BUSINESS", int),
    "wait_min_s": ("LOAD_WAIT_MIN", float),
    "wait_max_s": ("LOAD_WAIT_MAX", float),
    "retries": ("LOAD_RETRIES", int),
    "retry_backoff_s": ("LOAD_RETRY_BACKOFF_S", float),
    "timeout_s": ("LOAD_TIMEOUT_S", float),
    "records_dir": ("LOAD_RECORDS_DIR", Path),
    "app_secret": ("WHATSAPP_APP_SECRET", str),
    "verify_token": ("WHATSAPP_VERIFY_TOKEN", str),
}
_SECRETS = frozenset({"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"})


def open_loop_users(arrival_rate: float, timeout_s: float, cap: int = OPEN_LOOP_MAX_USERS) -> int:
    """Users for open loop: enough for R x timeout requests in flight (Little's law), capped."""
    return max(1, min(cap, math.ceil(arrival_rate * timeout_s)))


# -- one step -----------------------------------------------------------------------------------
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
        from .services import base_environment  # the few variables a child inherits

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
        cwd = LOCUSTFILE.parent.parent  # `python -m` puts it on sys.path, so `harness` imports
        try:
            if not self.step.distributed:
                self._master = ManagedProcess(
                    "locust", base + self._master_flags(), env=env, cwd=cwd, log_path=self.directory / "locust.log"
                ).start()
            else:
                port = self.step.master_port or free_port()
                workers = self.step.locust_workers + self.step.remote_workers
                master_flags = self._master_flags() + [
                    "--load-profile", self.step.shared_profile(self.records_dir),
                    "--master", "--master-bind-host", self.step.master_bind_host,
                    "--master-bind-port", str(port), "--expect-workers", str(workers),
                    "--expect-workers-max-wait", str(int(_START_GRACE_S)),
                ]  # fmt: skip
                self._master = ManagedProcess(
                    "locust-master", base + master_flags, env=env, cwd=cwd,
                    log_path=self.directory / "locust-master.log",
                ).start()  # fmt: skip
                for n in range(self.step.locust_workers):
                    worker_flags = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                    self._workers.append(
                        ManagedProcess(
                            f"locust-worker-{n}", base + worker_flags, env=env, cwd=cwd,
                            log_path=self.directory / f"locust-worker-{n}.log",
                        ).start()  # fmt: skip
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
            "--headless", "--host", step.host, "-u", str(step.users), "-r", f"{spawn_rate:g}",
            "-t", f"{step.duration_s}s", "--stop-timeout", f"{step.stop_timeout_s:g}",
            "--only-summary", "--exit-code-on-error", str(REQUEST_FAILURES_EXIT_CODE),
            # Locust's own stats: the live progress line, and when the load began (final figures come
            # from the per-request records, not from Locust's rounded buckets).
            "--csv", str(self.directory / "locust"),
        ]  # fmt: skip

    def requests_so_far(self) -> int:
        """Requests Locust has counted so far (0 before the first stats interval)."""
        row = self._last_aggregate()
        try:
            return int(row["Request Count"]) if row else 0
        except (KeyError, ValueError):
            return 0

    def _last_aggregate(self) -> dict[str, str] | None:
        # Locust rewrites this file whole every second (its history file is buffered: too late).
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

    def live(self) -> tuple[float, float] | None:
        """Locust's (requests/s, p95 ms) since the step began, or None before any response."""
        row = self._last_aggregate()
        try:
            return (float(row["Requests/s"]), float(row["95%"])) if row else None
        except (KeyError, ValueError):
            return None  # "N/A" before the first responses

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
        ended = wait_until(lambda: not master.alive or any(not w.alive for w in workers),
                           max(deadline - time.monotonic(), 0.0), interval=0.1)  # fmt: skip
        # Workers quit just before their master does; give it (and them) a moment to finish.
        finished = ended and wait_until(lambda: not master.alive, 3, interval=0.1)
        wait_until(lambda: not any(w.alive for w in workers), 15 if finished else 0, interval=0.1)
        exit_code = master.returncode if finished else None
        worker_codes = [w.returncode for w in self._workers]
        tails = {p.name: p.log_tail(30) for p in self.processes}
        self.stop()
        outcome = LoadOutcome(
            exit_code=exit_code,
            worker_exit_codes=worker_codes,
            records=read_records(self.record_files()),
            record_files=self.record_files(),
            timed_out=not ended,
        )
        if outcome.crashed:
            outcome.log_tail = "\n".join(f"--- {name}\n{tail}" for name, tail in tails.items())
        return outcome

    def record_files(self) -> list[Path]:
        return sorted(self.records_dir.glob("records-*.csv"))

    def stop(self) -> None:
        """Stop every Locust process by PID (workers first, so none reconnects); idempotent."""
        for process in reversed(self.processes):
            process.stop(timeout=10)

    def __enter__(self) -> LoadRun:
        return self if self._master is not None else self._start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_load_step(step: LoadStep, directory: Path, timeout: float | None = None) -> LoadOutcome:
    """Run one step to its end (blocking); see :class:`LoadRun` to sample while it runs."""
    with LoadRun.start(step, directory) as run:
        return run.wait(timeout)


# -- records ------------------------------------------------------------------------------------
def read_records(paths: Iterable[Path] | Path) -> pd.DataFrame:
    """Concatenate record files (or every ``records-*.csv`` of a directory) with the schema's dtypes."""
    import pandas as pd

    if isinstance(paths, Path):
        paths = sorted(paths.glob("records-*.csv")) if paths.is_dir() else [paths]
    frames = [
        pd.read_csv(path, dtype=RECORD_DTYPES, keep_default_na=False, na_values=[])  # '' stays ''
        for path in paths
        if path.stat().st_size > 0
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return _empty_records()
    records = pd.concat(frames, ignore_index=True)
    return records[list(RECORD_COLUMNS)].astype(RECORD_DTYPES)


def _empty_records() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in RECORD_DTYPES.items()})

