"""Locust workers started outside the harness (as on other machines) attach to each step's
master, adopt the step's settings from it, and send their records to it."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from harness.bench.services import BenchSecrets
from harness.load import LOCUSTFILE
from harness.processes import ManagedProcess, base_environment, free_port
from harness.records import load_run_records
from harness.runs import RunControl, run_comparison
from tests.plans import short_plan

pytestmark = pytest.mark.load


def _worker_loop(port: int, secrets: BenchSecrets, stop: threading.Event, logs: Path) -> None:
    """What an operator runs on a load machine: a worker, restarted after each step's master."""
    env = base_environment() | {
        "WHATSAPP_APP_SECRET": secrets.app_secret,
        "WHATSAPP_VERIFY_TOKEN": secrets.verify_token,
    }
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    n = 0
    while not stop.is_set():
        worker = ManagedProcess(
            f"remote-worker-{n}", argv, env=env, cwd=LOCUSTFILE.parents[2], log_path=logs / f"remote-worker-{n}.log"
        ).start()
        while worker.alive and not stop.wait(0.2):
            pass
        worker.stop()
        n += 1


def test_remote_workers_carry_the_load_and_their_records_reach_the_master(tmp_path):
    port = free_port()
    secrets = BenchSecrets()
    stop = threading.Event()
    loop = threading.Thread(target=_worker_loop, args=(port, secrets, stop, tmp_path), daemon=True)
    loop.start()
    try:
        plan = short_plan(
            users=(6,),  # one level: the two services' steps already restart the worker once
            step_duration_s=3,
            warmup_s=2,
            echo=False,
            remote_workers=1,
            master_port=port,
            secrets=secrets,
            businesses=5,
        )
        results = run_comparison(plan, RunControl(tmp_path / "run"))
    finally:
        stop.set()
        loop.join(30)
    assert results.complete
    assert results.settings.load.remote_workers == 1
    assert "1 remote Locust worker(s) whose CPU is not sampled" in (tmp_path / "run" / "summary.md").read_text()
    records = load_run_records(tmp_path / "run", results.records_file)
    # Every row came from the remote worker (the master sends nothing itself), labelled with the
    # master's step settings, not the worker's own (empty) environment.
    files = sorted(p.name for p in (tmp_path / "run" / "steps").rglob("records-*.csv"))
    assert files and all(name.startswith("records-remote-") for name in files)
    assert set(records["service"]) == {"original", "optimized"}
    assert set(records["users"]) == {6}
    for step in results.steps:
        assert step.requests > 0
        assert step.audit is not None and step.audit.expected > 0
        assert (step.audit.lost, step.audit.doubled, step.audit.unexpected) == (0, 0, 0)
