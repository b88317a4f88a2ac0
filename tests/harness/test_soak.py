"""Soak: memory growth is detected in a process that leaks and not in one that does not, and a
short real soak fills the results, the criterion and the report."""

from __future__ import annotations

import sys
import time

import pytest

from harness.cli import main
from harness.processes import ManagedProcess
from harness.results import load_results
from harness.runs.soak import MIN_SAMPLES, soak_plan, soak_result, watch_rss
from tests.plans import short_plan

# Grows about 4 MB every 0.25 s (touching the pages, so they count in RSS), up to ~200 MB.
_LEAKING = (
    "import time\nheap = []\nfor _ in range(200):\n    heap.append(bytearray(b'x' * 4_000_000))\n"
    "    time.sleep(0.25)\ntime.sleep(60)"
)
_STEADY = "import time\nballast = bytearray(b'x' * 20_000_000)\ntime.sleep(60)"


def _rss_of(code: str) -> list[tuple[float, float]]:
    with ManagedProcess("memory-helper", [sys.executable, "-c", code]) as helper:
        time.sleep(1.0)  # past the interpreter's start-up
        return watch_rss(helper.pid, duration_s=3.0, interval_s=0.25)


def test_a_leaking_process_is_growing_and_a_steady_one_is_not():
    leaking = soak_result("leaking", 1, _rss_of(_LEAKING))
    assert leaking.growing and leaking.rss_slope_ci[0] > 100  # ~960 MB/min by construction
    steady = soak_result("steady", 1, _rss_of(_STEADY))
    assert not steady.growing and abs(steady.rss_slope_mb_per_min) < 0.5
    assert len(steady.rss_samples) >= 10 and steady.duration_s > 2.5


def test_a_soak_too_short_for_its_sampling_is_refused():
    with pytest.raises(ValueError, match=f"fewer than {MIN_SAMPLES}"):
        soak_plan(short_plan(step_duration_s=20), sample_interval_s=5)
    plan = soak_plan(short_plan(step_duration_s=20, trials=3), sample_interval_s=1)
    assert plan.echo is False and plan.load.trials == 1 and plan.command == "soak" and plan.scenario.fault is None


@pytest.mark.load
@pytest.mark.shares_machine  # unpinned: it asserts the form of what a soak records, not its figures
def test_a_short_soak_fills_results_criterion_and_report(tmp_path):
    run_dir = tmp_path / "soak"
    code = main(
        [
            "soak",
            "--variants",
            "optimized",
            "--users",
            "8",
            "--duration",
            "12",
            "--sample-interval",
            "0.5",
            "--warmup",
            "2",
            "--businesses",
            "10",
            "--service-cpus",
            "0",
            "--out",
            str(run_dir),
        ]
    )
    assert code == 0
    results = load_results(run_dir)
    assert results.settings.command == "soak" and [s.service for s in results.steps] == ["optimized"]
    (soak,) = results.soak
    assert soak.service == "optimized" and soak.users == 8
    assert len(soak.rss_samples) >= 15 and 10 <= soak.duration_s <= 15
    assert all(mb > 10 for _, mb in soak.rss_samples)  # a Python web service, not a stray pid
    assert soak.rss_slope_ci is not None and soak.rss_slope_ci[0] <= soak.rss_slope_mb_per_min <= soak.rss_slope_ci[1]
    judged = [c for c in results.criteria if c.metric == "rss_slope_mb_per_min" and c.service == "optimized"]
    assert len(judged) == 1 and judged[0].passed is not None and judged[0].value == soak.rss_slope_ci[0]
    assert "## Soak and memory" in (run_dir / "summary.md").read_text()
    assert "<h2>Soak and memory</h2>" in (run_dir / "report.html").read_text()
