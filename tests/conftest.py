"""Session fixtures: the real parts every integration test stands on.

One embedded MongoDB server (or ``MONGODB_URI``), one fake upstream, fresh secrets. Every
process is stopped by PID when the session ends, also when a test fails. One short real
`harness compare` run, and one distributed run, each made once, are read by every test that
needs such a run.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from harness.bench.database import DatabaseServer, database_server
from harness.bench.services import BenchSecrets
from harness.load import LOCUSTFILE
from harness.processes import ManagedProcess, base_environment, free_port
from harness.results import Results, load_results
from harness.runs import RunControl, run_comparison
from harness.upstream import UpstreamProcess
from tests.deployments import seed_contract_db
from tests.shared_runs import made_once

# The session's shared runs (below): made once (tests/shared_runs.py), in the part of `make test`
# that runs the load tests which measure nothing, several at a time.
_SHARED_RUNS = frozenset({"compare_run_dir", "distributed_run"})


@pytest.hookimpl(trylast=True)  # after -m has deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reads a shared run must share the machine, or `make test` would make the run
    again, alone, for it. And the tests that share the machine go in the order that keeps their
    workers busy (``--dist load --maxschedchunk 1`` hands them out in this order): first the test
    that makes each run, the runs most tests read first; then the tests that read a run made
    before them, so that no worker sits waiting on a run another worker is still making."""
    for item in items:
        if _SHARED_RUNS & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("shares_machine"):
            raise pytest.UsageError(f"{item.nodeid} reads a shared run: mark it shares_machine")
    places = [n for n, item in enumerate(items) if item.get_closest_marker("shares_machine")]
    readers = Counter(run for n in places for run in _shared_runs_of(items[n]))
    started: set[str] = set()
    first, later = [], []
    for n in places:
        runs = _shared_runs_of(items[n])
        (later if runs & started else first).append(items[n])
        started |= runs
    first.sort(key=lambda item: -max((readers[run] for run in _shared_runs_of(item)), default=0))
    for n, item in zip(places, first + later, strict=True):
        items[n] = item


def _shared_runs_of(item: pytest.Item) -> set[str]:
    """The shared runs a test reads: the session's by fixture, a fault kind's by the test's ``kind``
    parameter (tests/harness/test_faults.py's ``fault_run``). Only the order depends on it."""
    runs = set(_SHARED_RUNS & set(getattr(item, "fixturenames", ())))
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "kind" in callspec.params:
        runs.add(f"fault-{callspec.params['kind']}")
    return runs


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Load tests that measure are disturbed by anything beside them: never on xdist's parallel
    workers (`make test` runs them last, in a serial pytest). Those that measure nothing
    (``shares_machine``) may run there, beside each other."""
    alone = item.get_closest_marker("load") and not item.get_closest_marker("shares_machine")
    if hasattr(item.config, "workerinput") and alone:
        message = "a load test that measures runs alone: select it with -m 'load and not shares_machine', without -n"
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def bench() -> BenchSecrets:
    return BenchSecrets()


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database(logs_dir: Path) -> Iterator[DatabaseServer]:
    with database_server(log_path=logs_dir / "mongodb.log") as server:
        yield server


@pytest.fixture(scope="session")
def mongo(database: DatabaseServer) -> Iterator[MongoClient[Any]]:
    with MongoClient(database.uri) as client:
        yield client


@pytest.fixture(scope="session")
def upstream(
    database: DatabaseServer, mongo: MongoClient[Any], bench: BenchSecrets, logs_dir: Path
) -> Iterator[UpstreamProcess]:
    # Tokens derive from the bench's token seed, so one directory database serves every service.
    seed_contract_db(mongo["contract_directory"], bench, indexes=False)
    process = UpstreamProcess(
        mongodb_uri=database.uri,
        db_names=["contract_directory"],
        encryption_secret=bench.encryption_secret,
        graph_latency_ms=5,
        llm_latency_ms=5,
        log_path=logs_dir / "upstream.log",
    )
    with process:
        yield process


@pytest.fixture
def healthy_upstream(upstream: UpstreamProcess) -> Iterator[UpstreamProcess]:
    """The upstream behaving (fast, no faults) and its ledger empty."""
    upstream.configure(
        graph={"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 5},
        llm={"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 5},
    )
    upstream.reset_audit()
    yield upstream


# `harness compare` as a user runs it, in short steps: every service and the echo app, Locust in
# one process (the default).
COMPARE_SHORT = ["--users", "8,16", "--step-duration", "4", "--warmup", "2", "--businesses", "10"]
# Unpinned: the shared run shares the machine with other runs, and a pinned step would wait for
# service CPUs those runs keep busy.
SHARED_COMPARE = [*COMPARE_SHORT, "--service-cpus", "0"]


@pytest.fixture(scope="session")
def compare_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real `harness compare` run, made once for the session: the end-to-end tests read
    it, and the gate's end-to-end tests compare a distributed run's results with it."""
    from harness.cli import main

    def make(base: Path) -> None:
        assert main(["compare", *SHARED_COMPARE, "--out", str(base / "run")]) == 0

    return made_once("compare", tmp_path_factory, make) / "run"


def _remote_worker_loop(port: int, secrets: BenchSecrets, stop: threading.Event, logs: Path) -> None:
    """What an operator runs on a load machine: a worker, restarted after each step's master."""
    env = base_environment() | {
        "WHATSAPP_APP_SECRET": secrets.app_secret,
        "WHATSAPP_VERIFY_TOKEN": secrets.verify_token,
    }
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1"]
    n = 0
    while not stop.is_set():
        worker = ManagedProcess(
            f"remote-worker-{n}",
            [*argv, "--master-port", str(port)],
            env=env,
            cwd=LOCUSTFILE.parents[2],
            log_path=logs / f"remote-worker-{n}.log",
        ).start()
        while worker.alive and not stop.wait(0.2):
            pass
        worker.stop()
        n += 1


@pytest.fixture(scope="session")
def distributed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    """One short run with Locust as a master, one worker process it starts and one worker started
    outside the harness (as on another machine), made once: the distributed tests read it."""
    run_dir = made_once("distributed", tmp_path_factory, _distributed_run) / "run"
    return run_dir, load_results(run_dir)


def _distributed_run(base: Path) -> None:
    from tests.plans import short_plan

    port, secrets, stop = free_port(), BenchSecrets(), threading.Event()
    loop = threading.Thread(target=_remote_worker_loop, args=(port, secrets, stop, base), daemon=True)
    loop.start()
    try:
        plan = short_plan(
            users=(8,),  # one level: the two services' steps already restart the remote worker once
            step_duration_s=3,
            warmup_s=1,
            echo=False,
            locust_workers=1,
            remote_workers=1,
            master_port=port,
            secrets=secrets,
            businesses=10,
        )
        run_comparison(plan, RunControl(base / "run"))
    finally:
        stop.set()
        loop.join(30)
