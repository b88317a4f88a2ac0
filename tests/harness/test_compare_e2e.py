"""`harness compare` end to end: real database, upstream, services and Locust, in short steps."""

from __future__ import annotations

import json
import os
import signal

import psutil
import pytest

from harness.cli import main
from harness.records import load_run_records
from harness.results import RECORD_COLUMNS, load_results
from harness.runs import RunControl, run_comparison
from tests.conftest import COMPARE_SHORT as SHORT
from tests.plans import short_plan

# Form, audit, reports and processes hold under any load: these tests share the machine.
pytestmark = [pytest.mark.load, pytest.mark.shares_machine]


@pytest.fixture
def run_dir(compare_run_dir):
    """The session's short compare run (tests/conftest.py), shared with the gate's e2e tests."""
    return compare_run_dir


def test_results_follow_the_schema_and_cover_every_service_and_level(run_dir):
    results = load_results(run_dir)
    assert results.complete and results.finished_at is not None
    assert {(s.service, s.users) for s in results.steps} == {
        (service, users) for service in ("echo", "original", "checklist", "optimized") for users in (8, 16)
    }
    for step in results.steps:
        assert step.requests > 0 and step.throughput_rps > 0, step.service
        assert step.components["service"].cpu_seconds > 0
        assert step.components["load_generator"].cpu_seconds > 0
    assert [(d.candidate, d.baseline) for d in results.decisions] == [
        ("checklist", "original"),
        ("optimized", "original"),
    ]
    assert (
        results.settings.bench.database.startswith("embedded SecantusDB") and results.settings.bench.embedded_database
    )
    assert results.settings.variants["checklist"].choices["HTTP_CLIENT"] == "per-call"
    assert (run_dir.parent / "latest").read_text().strip() == run_dir.name


def test_no_reply_lost_or_doubled_and_a_cache_only_where_the_variant_has_one(run_dir):
    results = load_results(run_dir)
    for step in results.steps:
        if step.service == "echo":
            assert step.audit is None
            continue
        assert step.audit is not None and step.audit.expected > 0
        assert (step.audit.lost, step.audit.doubled, step.audit.wrong_token) == (0, 0, 0), step.service
        assert (step.cache is None) == (step.service == "original")
    cached = [s for s in results.steps if s.service in ("checklist", "optimized")]
    assert all(s.cache.hit_rate is not None and s.cache.hit_rate > 0.5 for s in cached)


def test_per_request_records_and_the_reports_exist(run_dir):
    results = load_results(run_dir)
    records = load_run_records(run_dir, results.records_file)
    assert list(records.columns) == list(RECORD_COLUMNS)
    assert set(records["service"]) == {"echo", "original", "checklist", "optimized"}
    summary, html = (run_dir / "summary.md").read_text(), (run_dir / "report.html").read_text()
    assert "<html" in html and all(d.verdict in summary and d.verdict in html for d in results.decisions)
    assert any((run_dir / "plots").glob("*.png"))
    assert json.loads((run_dir / "results.json").read_text())["schema_version"] == 3


def test_the_report_reads_in_a_browser_and_its_summary_fits_a_pr_comment(run_dir):
    from harness.report import SUMMARY_MAX_LINES
    from tests.harness.test_report_browser import assert_report_reads_in_a_browser, browser_or_skip

    assert len((run_dir / "summary.md").read_text().splitlines()) < SUMMARY_MAX_LINES
    assert (run_dir / "details.md").is_file()
    browser = browser_or_skip()
    assert_report_reads_in_a_browser(run_dir, load_results(run_dir), browser)
    assert (run_dir / "report.png").is_file()  # the first screen, for the PR comment


def test_every_process_was_stopped(run_dir):
    leftovers = [
        p.info
        for p in psutil.process_iter(["pid", "cmdline"])
        if any(
            part in " ".join(p.info["cmdline"] or [])
            for part in ("secantus", "locust -f", "uvicorn", "harness upstream")
        )
        and str(run_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_a_service_that_dies_mid_run_is_reported_and_partial_results_kept(tmp_path):
    def kill_in_the_window(elapsed, service):
        if elapsed >= 1.0 and service.service == "optimized" and service.alive:
            os.kill(service.pid, signal.SIGKILL)

    plan = short_plan(
        users=(8,), step_duration_s=3, warmup_s=1, echo=False, businesses=5, during_window=kill_in_the_window
    )
    results = run_comparison(plan, RunControl(tmp_path / "run"))
    saved = load_results(tmp_path / "run")
    assert not results.complete and not saved.complete
    assert "optimized exited during a step" in saved.incomplete_reason
    assert saved.steps and (tmp_path / "run" / "summary.md").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "0"], "expected numbers >= 1"),
        (["--users", "a,b"], "comma-separated whole numbers"),
        (["--mix", "text=1,bogus=2"], "unknown kind 'bogus'"),
        (["--profile", "huge"], "invalid choice"),
    ],
)
def test_bad_arguments_are_clear_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        main(["compare", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "capacity"])
def test_an_inverted_wait_is_refused(command, capsys):
    # One parser and one rule (harness.load.wait_ordered) for every command with --wait.
    with pytest.raises(SystemExit) as exited:
        main([command, "--wait", "0.5,0.1"])
    assert exited.value.code == 2 and "0 <= MIN <= MAX" in capsys.readouterr().err


def test_a_bad_criteria_file_stops_before_any_load(tmp_path, capsys):
    bad = tmp_path / "criteria.toml"
    bad.write_text("[[criterion]]\nname = 'x'\nmetric = 'nope'\nop = '<'\nthreshold = 1\n")
    assert main(["compare", *SHORT, "--criteria", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run" / "steps").exists()
