"""The report files and `harness report`, on a constructed run (no server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import main
from harness.report import console_table, write_report
from harness.results import load_results, save_results
from harness.rounding import estimate, number, percent
from tests.harness.test_decision import WIN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run():
    from harness.analysis import conclude
    from harness.analysis.criteria import load_criteria
    from tests.harness.test_figures import make_run

    results, records = make_run(WIN, requests={100: 400, 500: 5500})
    return conclude(results, records, load_criteria()), records


@pytest.fixture
def run_dir(tmp_path, run):
    results, records = run
    save_results(results, tmp_path)
    records.to_parquet(tmp_path / "requests.parquet")
    return tmp_path


def test_report_files_state_the_machine_first_then_the_verdict(tmp_path, run):
    results, records = run
    paths = write_report(results, tmp_path, records)
    names = {path.name for path in paths}
    assert {
        "summary.md",
        "report.html",
        "latency.png",
        "throughput.png",
        "cache_hit_rate.png",
        "cpu_per_request.png",
        "latency_cdf.png",
    } <= names
    assert all(path.is_file() and path.stat().st_size > 0 for path in paths)
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in paths if path.suffix == ".png")

    summary = (tmp_path / "summary.md").read_text()
    machine = summary.index("Machine: bench-host, Linux-test, 2 CPUs (Test CPU)")
    assert machine < summary.index("## optimized against original: MIGRATE")
    for setting in (
        "2 service worker(s), 0 Locust worker(s)",
        "Graph API 20 ms, LLM 40 ms",
        "embedded SecantusDB 0.7.0b3",
        "10 s each, after 2 s of warm-up",
    ):
        assert setting in summary[: summary.index("## optimized against original")]
    assert "n/a (no cache)" in summary and "95.00 %" in summary  # original has no cache; optimized does
    assert "| PASS" in summary and "![latency](plots/latency.png)" in summary

    html = (tmp_path / "report.html").read_text()
    assert '<span class="verdict migrate">MIGRATE</span>' in html
    assert "Machine: bench-host" in html and 'src="plots/latency_cdf.png"' in html


def test_report_without_records_omits_only_the_cdf(tmp_path, run):
    results, _ = run
    names = {path.name for path in write_report(results, tmp_path)}
    assert "latency_cdf.png" not in names and "latency.png" in names


def test_html_escapes_what_the_run_recorded(tmp_path, run):
    results, _ = run
    step = results.steps[0].model_copy(update={"notes": ["<script>alert(1)</script>"]})
    write_report(results.model_copy(update={"steps": [step, *results.steps[1:]]}), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_numbers_are_rounded_against_the_service():
    assert number(812.34, 1, "lower") == "812.4"  # latency: up
    assert number(812.36, 1, "higher") == "812.3"  # throughput: down
    assert percent(0.99989, 2, "higher") == "99.98 %"  # success never rounds up to 99.99 %
    assert percent(0.000101, 2, "lower") == "0.02 %"
    assert estimate(1.0, 0.91234, 1.08761, 2) == "1.00 [0.91, 1.09]"  # interval outwards
    assert number(0.1 * 3, 1, "lower") == "0.3"  # float noise does not move a digit
    assert number(None) == "n/a"


def test_console_table_has_a_row_per_service_and_level(run):
    results, _ = run
    table = console_table(results)
    assert table.row_count == len(results.summaries) == 4
    console = Console(record=True, width=250)
    console.print(table)
    text = console.export_text()
    assert "MIGRATE" in text and "optimized" in text and "n/a (no cache)" in text


def test_harness_report_round_trips_a_results_file(run_dir, run, capsys):
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "verdicts: optimized: MIGRATE"
    assert str(run_dir / "summary.md") in printed and str(run_dir / "plots" / "latency_cdf.png") in printed
    assert load_results(run_dir) == run[0]  # re-rendering leaves the results untouched
    assert "## optimized against original: MIGRATE" in (run_dir / "summary.md").read_text()


def test_harness_report_rejudges_under_other_criteria(run_dir, capsys):
    strict = run_dir / "strict.toml"
    strict.write_text('[[criterion]]\nname = "p95 under 100 ms"\nmetric = "p95_ms"\nop = "<"\nthreshold = 100\n')
    assert main(["report", str(run_dir), "--criteria", str(strict)]) == 0
    assert "DO NOT MIGRATE" in capsys.readouterr().out
    stored = load_results(run_dir)
    assert stored.decision.verdict == "DO NOT MIGRATE" and stored.settings.criteria_file == str(strict)
    assert "## optimized against original: DO NOT MIGRATE" in (run_dir / "summary.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not a valid results file"),
        (json.dumps({"schema_version": 99}), "schema version 99"),
        (json.dumps({"schema_version": 1, "run_id": "x"}), "not a valid results file"),
    ],
)
def test_harness_report_refuses_a_missing_or_invalid_results_file(tmp_path, capsys, content, message):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "summary.md").exists()


def test_harness_report_rejects_a_bad_criteria_file(run_dir, capsys):
    bad = run_dir / "bad.toml"
    bad.write_text('[[criterion]]\nname = "x"\nmetric = "p95_ms"\nop = "=="\nthreshold = 1\n')
    assert main(["report", str(run_dir), "--criteria", str(bad)]) == 2
    assert "key 'op'" in capsys.readouterr().err


def test_harness_report_as_a_command(run_dir):
    completed = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert str(run_dir / "report.html") in completed.stdout
