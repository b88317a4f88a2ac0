"""Fault scenarios: the figures they compute, their guards, and one short real run per fault kind.

The runs break a real database process or the real fake upstream under Locust load against both
services, then read the delivery audit: 0 replies lost, 0 doubled, 0 sent with a wrong token,
errors really seen during the fault (so the test can fail), and recovery after it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

from harness.analysis.faults import errors_between, ready_behaviour, recovery_seconds
from harness.bench import BenchConfig
from harness.bench.services import BenchSecrets
from harness.cli import main
from harness.results import Results, load_results
from harness.runs import RunControl, run_comparison
from harness.runs.faults import FAULTS, FaultUnavailable, Timeline, fault_plan, retry_policy
from tests.plans import short_plan


def FaultSpec(kind, *, start_s=10.0, duration_s=10.0, graph_timeout_s=2.0, **values):
    return FAULTS[kind](Timeline(start_s, duration_s, graph_timeout_s), values)


SHORT = dict(users=(8,), step_duration_s=10, warmup_s=1, trials=1)
TIMELINE = dict(start_s=2.0, duration_s=3.0)
# A 1 s database timeout: the original's threads give up within the 3 s outage instead of
# waiting it out (with the default 5 s they would wait, and show no error at all).
SERVICE_ENV = {"MONGODB_TIMEOUT_MS": "1000"}

_RUNS: dict[str, tuple[Path, BenchSecrets]] = {}


def fault_run(kind: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BenchSecrets]:
    """One short run of ``kind`` against both services, made once per session (the secrets test
    reads its logs and reports too); the run's secrets are returned so they can be searched for."""
    if kind not in _RUNS:
        base = tmp_path_factory.mktemp(f"fault-{kind}")
        secrets = BenchSecrets()
        plan = short_plan(
            ("original", "optimized"),
            **SHORT,
            bench=BenchConfig(businesses=10, phones_per_business=2, service_env=SERVICE_ENV),
        )
        with mock.patch("harness.bench.testbed.BenchSecrets", lambda: secrets):
            run_comparison(fault_plan(plan, FaultSpec(kind, **TIMELINE), base / "db"), RunControl(base / "run"))
        _RUNS[kind] = (base / "run", secrets)
    return _RUNS[kind]


# -- figures ---------------------------------------------------------------------------------------
def _records(rows: list[tuple[float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["t_start", "latency_ms", "status"])


def test_errors_during_count_every_request_in_flight_during_the_fault():
    records = _records(
        [
            (95.0, 1000, 200),  # finished before the fault
            (99.0, 3000, 503),  # sent before, failed during: the fault's
            (101.0, 10, 0),  # no answer
            (104.0, 10, 200),
            (110.0, 10, 503),  # after the fault
        ]
    )
    assert errors_between(records, 100.0, 105.0) == (2, 3)
    assert errors_between(_records([]), 100.0, 105.0) == (0, 0)


def test_recovery_is_the_first_full_second_without_errors_after_the_fault():
    end = 100.0
    records = _records(
        [(100.2, 5, 503), (100.9, 5, 200), (101.5, 5, 0), (102.1, 5, 200), (102.7, 5, 200), (103.3, 5, 503)]
    )
    assert recovery_seconds(records, end) == 2.0  # seconds 0 and 1 had errors; second 2 is clean
    assert recovery_seconds(_records([(100.5, 5, 200)]), end) == 0.0
    assert recovery_seconds(_records([(100.5, 5, 500), (101.5, 5, 0)]), end) is None
    assert recovery_seconds(_records([(99.0, 5, 200)]), end) is None  # nothing after the fault


def test_ready_turning_503_is_seen_within_the_fault_or_just_after_it():
    polls = [(99.0, 200), (101.0, 503), (106.0, 503), (107.0, 200)]
    assert ready_behaviour(polls, 100.0, 105.0) == (True, True)
    assert ready_behaviour([(99.0, 200), (112.0, 503)], 100.0, 105.0) == (False, False)
    assert ready_behaviour([], 100.0, 105.0) == (False, False)


# -- guards ----------------------------------------------------------------------------------------
def test_retries_outlast_the_fault():
    for duration in (1, 3, 10, 60):
        retries, backoff = retry_policy(FaultSpec("upstream-errors", duration_s=duration))
        assert backoff * (2**retries - 1) >= duration + 10


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "db-outage", "duration_s": 0}, "more than 0"),
        ({"kind": "upstream-errors", "error_rate": 0.8, "timeout_rate": 0.5}, "must not exceed 1"),
        ({"kind": "upstream-errors", "error_rate": 1.5}, "a share between 0 and 1"),
        ({"kind": "upstream-slow", "slow_ms": 5000, "graph_timeout_s": 2}, "under the Graph API timeout"),
    ],
)
def test_a_fault_that_cannot_be_honest_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        FaultSpec(fields.pop("kind"), **fields)


def test_fault_plan_refuses_what_it_cannot_inject(tmp_path, monkeypatch):
    plan = short_plan(step_duration_s=30)
    with pytest.raises(ValueError, match="must end inside it"):
        fault_plan(plan, FaultSpec("upstream-slow", start_s=20, duration_s=10), tmp_path)
    outage = fault_plan(plan, FaultSpec("db-outage"), tmp_path)
    assert outage.bench.db_storage_path == str(tmp_path)  # restarted with its data
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    with pytest.raises(FaultUnavailable, match="Unset MONGODB_URI"):
        fault_plan(plan, FaultSpec("db-outage"), tmp_path)
    broken = fault_plan(replace(plan, echo=True), FaultSpec("upstream-errors", graph_timeout_s=1.5), tmp_path)
    assert broken.echo is False and broken.command == "chaos" and broken.load.retries >= 5
    assert broken.bench.service_env["GRAPH_API_TIMEOUT"] == "1.5" and broken.scenario.spec.kind == "upstream-errors"


def test_every_fault_kind_is_registered_with_its_options():
    assert {"db-outage", "upstream-errors", "upstream-slow"} <= set(FAULTS)
    for kind, fault in FAULTS.items():
        assert fault.kind == kind and fault.summary
        assert FaultSpec(kind).description().startswith(kind)


def test_chaos_command_explains_a_fault_it_cannot_inject(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    assert main(["chaos", "--fault", "db-outage", "--out", str(tmp_path / "run")]) == 2
    assert "Unset MONGODB_URI" in capsys.readouterr().out
    assert main(["chaos", "--fault", "upstream-slow", "--slow-ms", "5000", "--out", str(tmp_path / "run")]) == 2
    assert "under the Graph API timeout" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()  # refused before anything started


# -- one real run per fault kind ----------------------------------------------------------------------
def _faults(results: Results) -> dict[str, object]:
    return {fault.service: fault for fault in results.faults}


@pytest.mark.load
@pytest.mark.parametrize("kind", ["db-outage", "upstream-errors", "upstream-slow"])
def test_a_fault_loses_and_doubles_nothing_and_both_services_recover(kind, tmp_path_factory):
    run_dir, _ = fault_run(kind, tmp_path_factory)
    results = load_results(run_dir)
    assert results.complete, results.incomplete_reason
    assert results.settings.command == "chaos" and results.settings.fault.startswith(kind)
    faults = _faults(results)
    assert set(faults) == {"original", "optimized"}
    for service, fault in faults.items():
        audit = fault.audit
        assert audit.expected > 0, service
        assert (audit.lost, audit.doubled, audit.wrong_token, audit.unexpected) == (0, 0, 0, 0), (service, audit)
        assert fault.errors_during > 0, f"{service}: no error seen during {kind}: the fault did not bite"
        assert fault.recovery_s is not None, f"{service} never had a clean second after {kind}"
        assert fault.ended_s - fault.started_s >= TIMELINE["duration_s"]
    assert faults["original"].ready_503_seen is None  # the original has no /ready
    assert faults["optimized"].ready_recovered is True
    # Only the database takes the optimized service out of readiness.
    assert faults["optimized"].ready_503_seen is (kind == "db-outage")
    assert results.decision is not None and not any("audit failed" in r for r in results.decision.reasons)


@pytest.mark.load
def test_fault_reports_show_the_fault_section(tmp_path_factory):
    run_dir, _ = fault_run("upstream-errors", tmp_path_factory)
    summary = (run_dir / "summary.md").read_text()
    assert "## Faults" in summary and "upstream-errors" in summary and "recovery" in summary
    html = (run_dir / "report.html").read_text()
    assert "<h2>Faults</h2>" in html and "n/a (no /ready)" in html
    assert "Fault injected: upstream-errors" in summary
