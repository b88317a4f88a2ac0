"""Locust workers started outside the harness (as on other machines) attach to each step's
master, adopt the step's settings from it, and send their records to it, beside a worker the
harness started."""

from __future__ import annotations

import pytest

from harness.records import load_run_records

pytestmark = [pytest.mark.load, pytest.mark.shares_machine]  # the records' path, under any load


def test_remote_workers_carry_the_load_and_their_records_reach_the_master(distributed_run):
    run_dir, results = distributed_run
    assert results.complete
    assert (results.settings.load.remote_workers, results.settings.load.locust_workers) == (1, 1)
    assert "1 remote Locust worker(s) whose CPU is not sampled" in (run_dir / "summary.md").read_text()
    records = load_run_records(run_dir, results.records_file)
    # Each step's rows came from its two workers (the master sends nothing itself): the remote
    # one's shipped to the master, labelled with the master's step settings, not the worker's own
    # (empty) environment.
    for step_dir in sorted(p for p in (run_dir / "steps").iterdir() if p.is_dir()):
        files = sorted(p.name for p in step_dir.rglob("records-*.csv"))
        assert len(files) == 2 and sum(name.startswith("records-remote-") for name in files) == 1, files
    assert set(records["service"]) == {"original", "optimized"}
    assert set(records["users"]) == {8}
    for step in results.steps:
        assert step.requests > 0
        assert step.audit is not None and step.audit.expected > 0
        assert (step.audit.lost, step.audit.doubled, step.audit.unexpected) == (0, 0, 0)
