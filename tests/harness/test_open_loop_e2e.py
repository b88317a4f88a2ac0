"""`harness compare --arrival-rate R` end to end: a short real open-loop run of both services.

Checks what the unit tests cannot: that the CLI's arrival rate reaches Locust, the records, the
step figures, the summaries, the ratios and the report, and that every latency figure of an
open-loop level is the coordinated-omission corrected one (from each request's scheduled time).
"""

from __future__ import annotations

import pytest

from harness.analysis import summary_records
from harness.analysis.stats import percentile
from harness.cli import main
from harness.records import load_run_records
from harness.results import load_results

pytestmark = [pytest.mark.load, pytest.mark.timeout(120)]

RATE = 30.0  # req/s, light for both services; 7 s windows give ~210 requests, above the 200 a level needs
ARGS = [
    "--arrival-rate",
    f"{RATE:g}",
    "--step-duration",
    "7",
    "--warmup",
    "2",
    "--businesses",
    "5",
    "--no-echo",
    "--candidates",
    "optimized",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("open-loop") / "run"
    assert main(["compare", *ARGS, "--out", str(out)]) == 0
    return out


def test_the_run_is_open_loop_at_the_asked_rate(run_dir):
    results = load_results(run_dir)
    assert results.complete and results.settings.load.arrival_rates == (RATE,) and results.settings.load.users == ()
    assert {s.service for s in results.steps} == {"original", "optimized"}
    for step in results.steps:
        assert (step.users, step.arrival_rate) == (0, RATE)
        assert step.offered_rps == RATE and step.littles_law_gap is not None
        # the schedule was held: the answered rate is the asked rate (a light load for both)
        assert abs(step.throughput_rps / RATE - 1) < 0.25, step.notes
        assert step.corrected_latency is not None and step.corrected_latency.count > 0


def test_records_carry_the_schedule(run_dir):
    records = load_run_records(run_dir, load_results(run_dir).records_file)
    assert set(records["users"]) == {0} and set(records["arrival_rate"]) == {RATE}
    first = records[records["attempt"] == 1]
    assert (first["t_start"] >= first["intended_start"] - 1e-6).all()
    assert (records["corrected_latency_ms"] >= records["latency_ms"] - 0.002).all()


def test_every_latency_figure_is_the_corrected_one(run_dir):
    results = load_results(run_dir)
    records = load_run_records(run_dir, results.records_file)
    for summary in results.summaries:
        measured = summary_records(summary, records)
        answered = measured[measured["status"] != 0]
        for metric, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
            assert getattr(summary, metric).value == percentile(answered["corrected_latency_ms"], q), metric
        assert any("coordinated-omission corrected" in note for note in summary.notes)
    step = results.steps[0]
    window = records[
        (records["service"] == step.service)
        & (records["t_start"] >= step.window_start)
        & (records["t_start"] < step.window_start + step.window_s)
        & (records["status"] != 0)
    ]
    assert step.corrected_latency.p95_ms == percentile(window["corrected_latency_ms"], 95)


def test_ratios_and_reports_name_the_open_loop_level(run_dir):
    results = load_results(run_dir)
    assert results.decision is not None
    assert {(r.users, r.arrival_rate) for r in results.decision.ratios} == {(0, RATE)}
    # The summary names the level in its headline and its settings; details.md in every table.
    summary = (run_dir / "summary.md").read_text()
    assert f"at {RATE:g} req/s" in summary and f"arrival rates {RATE:g} req/s (open loop)" in summary
    assert f"| {RATE:g} req/s" in (run_dir / "details.md").read_text()
    assert f"{RATE:g} req/s" in (run_dir / "report.html").read_text()
    assert (run_dir / "plots" / "latency.png").is_file()
