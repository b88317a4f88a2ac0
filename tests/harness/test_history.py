"""The main-branch history: a run's key figures appended per service and level, and Otava's
change points naming the commit where a lasting change began."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.history import HISTORY_COLUMNS, change_points, history_rows
from harness.cli import main
from harness.commands.history import read_history
from harness.results import save_results
from tests.harness.test_figures import make_records, make_results, make_step

COMMITS = [f"{i:02d}" + "abcdef0123456789" * 2 + "abcdef" for i in range(8)]  # 40 characters each


def synthetic_history(
    cpu_step_from: int | None, runs: int = 8, seed: int = 3, host_speed: tuple[float, ...] = ()
) -> pd.DataFrame:
    """``runs`` runs of optimized at 50 users, ~1 % noise; CPU per request +30 % from run
    ``cpu_step_from`` on (None: flat). ``host_speed[i]`` scales every CPU figure of run i, the
    service's and the load generator's alike (default 1)."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(runs):
        stepped = cpu_step_from is not None and i >= cpu_step_from
        host = host_speed[i] if i < len(host_speed) else 1.0
        cpu = 5.0 * (1.3 if stepped else 1.0) * rng.normal(1, 0.01) * host
        load_generator = 0.9 * rng.normal(1, 0.01) * host
        rows.append(
            {
                "run_id": f"run-{i}",
                "date": (start + timedelta(days=i)).isoformat(),
                "commit": COMMITS[i],
                "service": "optimized",
                "users": 50,
                "arrival_rate": 0.0,
                "trials": 1,
                "p95_ms": 300 * rng.normal(1, 0.01),
                "p99_ms": 400 * rng.normal(1, 0.01),
                "throughput_rps": 150 * rng.normal(1, 0.01),
                "service_cpu_ms_per_request": cpu,
                "cpu_vs_load_generator": cpu / load_generator,
                "load_generator_cpu_ms_per_request": load_generator,
            }
        )
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def test_an_injected_cpu_step_is_named_at_its_commit() -> None:
    found = change_points(synthetic_history(cpu_step_from=3))
    assert [(p.metric, p.commit, p.run_id) for p in found] == [("cpu_vs_load_generator", COMMITS[3], "run-3")]
    point = change_points(synthetic_history(cpu_step_from=3), ("service_cpu_ms_per_request",))[0]  # asked by name
    assert point.ratio == pytest.approx(1.3, abs=0.05) and point.p_value < 0.001
    assert point.date == datetime(2025, 3, 4, tzinfo=UTC)


def test_the_hosts_speed_cancels_in_cpu_over_the_load_generators() -> None:
    # As measured (docs/history.md): the run right after the change found the host a fifth
    # faster, so the raw figure rose late and gradually; the relative one stepped at once.
    speed = (1.0, 1.0, 1.0, 1.0, 0.8, 0.88, 1.0, 1.0)
    found = change_points(synthetic_history(cpu_step_from=4, host_speed=speed), ("cpu_vs_load_generator",))
    assert [(p.commit, round(p.ratio, 1)) for p in found] == [(COMMITS[4], 1.3)]
    flat = change_points(synthetic_history(cpu_step_from=None, host_speed=speed), ("cpu_vs_load_generator",))
    assert flat == []


def test_a_significant_change_under_the_practical_margin_is_not_reported() -> None:
    history = synthetic_history(cpu_step_from=None)
    history.loc[4:, "p95_ms"] *= 1.03  # 3 % with 1 % noise: significant, not practical
    assert change_points(history, ("p95_ms",)) == []
    history.loc[4:, "p95_ms"] *= 1.12
    assert [p.commit for p in change_points(history, ("p95_ms",))] == [COMMITS[4]]


def test_an_older_history_without_the_relative_cpu_still_shows(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    older = synthetic_history(cpu_step_from=3).drop(
        columns=["cpu_vs_load_generator", "load_generator_cpu_ms_per_request"]
    )
    older.rename(columns={"service_cpu_ms_per_request": "cpu_ms_per_request"}).to_csv(history, index=False)
    assert main(["history", "show", "--history", str(history)]) == 0
    frame = read_history(history)  # the column's name before the metric registry, read as today's
    assert change_points(frame) == []  # raw CPU is searched only when asked
    assert [p.metric for p in change_points(frame, ("service_cpu_ms_per_request",))] == ["service_cpu_ms_per_request"]


def test_a_flat_history_has_no_change_point() -> None:
    assert change_points(synthetic_history(cpu_step_from=None)) == []


def test_a_stricter_threshold_and_a_metric_filter_are_honoured() -> None:
    history = synthetic_history(cpu_step_from=3)
    assert change_points(history, ("p95_ms",)) == []
    assert change_points(history, ("service_cpu_ms_per_request",), max_pvalue=1e-30) == []


def _stored_run(directory: Path) -> Path:
    steps = []
    for service, latency in (("original", 300.0), ("optimized", 60.0)):
        for trial in (0, 1):
            records = make_records(service, 50, np.full(400, latency + 10 * trial), trial=trial, seed=trial)
            steps.append(make_step(records, service=service, users=50, trial=trial))
    results = make_results(steps, ["original", "optimized"], [50])
    save_results(results, directory)
    return directory


def test_append_adds_one_row_per_service_and_level_from_a_stored_run(tmp_path: Path) -> None:
    run_dir = _stored_run(tmp_path / "run")
    rows = history_rows(make_results([], ["original"], [50]), "c0ffee")
    assert rows.empty and list(rows.columns) == list(HISTORY_COLUMNS)

    for suffix in ("csv", "jsonl"):
        history = tmp_path / f"history.{suffix}"
        assert main(["history", "append", str(run_dir), "--history", str(history), "--commit", COMMITS[0]]) == 0
        assert main(["history", "append", str(run_dir), "--history", str(history), "--commit", COMMITS[0]]) == 0
        frame = read_history(history)
        assert list(frame.columns) == list(HISTORY_COLUMNS)
        assert sorted(frame["service"]) == ["optimized", "original"]  # once: the second append is a no-op
        original = frame[frame["service"] == "original"].iloc[0]
        assert original["commit"] == COMMITS[0] and original["users"] == 50 and original["trials"] == 2
        assert original["p95_ms"] == pytest.approx(305, abs=1)  # the median of the two trials
        assert original["throughput_rps"] > 0 and original["service_cpu_ms_per_request"] > 0
        assert original["cpu_vs_load_generator"] == pytest.approx(
            original["service_cpu_ms_per_request"] / original["load_generator_cpu_ms_per_request"], rel=0.05
        )
        assert original["date"].startswith("2025-01-01")


def test_show_names_the_commit_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history.csv"
    synthetic_history(cpu_step_from=3).to_csv(history, index=False)
    plot = tmp_path / "trend.png"
    assert main(["history", "show", "--history", str(history), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert f"began at commit {COMMITS[3][:12]}" in out
    assert re.search(r"optimized at 50 users: cpu_vs_load_generator 5\.69 -> 7\.14 \(1\.26x", out)
    assert "service_cpu_ms_per_request 5.03 -> 6.5" not in out
    assert plot.stat().st_size > 1000
    assert main(["history", "show", "--history", str(tmp_path / "none.csv")]) == 2


# Two measured demos (docs/history.md): optimized at 50 users, 8 commits, +0.85 ms CPU per message
# injected at the 5th. The raw figure followed the host: no change point in the first, the wrong
# commit (the 4th) in the second.
MEASURED = {
    "first": ([3.23, 2.89, 3.21, 3.18, 3.36, 3.64, 4.00, 4.08], [3.65, 3.45, 3.64, 3.80, 5.00, 4.69, 4.45, 4.54]),
    "second": ([2.41, 2.67, 2.63, 3.39, 3.70, 3.52, 3.40, 3.29], [3.55, 3.54, 3.61, 3.58, 4.38, 4.61, 4.59, 4.89]),
}


@pytest.mark.parametrize("demo", sorted(MEASURED))
def test_the_measured_demos_name_the_injected_commit_only_over_the_load_generator(demo: str) -> None:
    raw, relative = MEASURED[demo]
    history = synthetic_history(cpu_step_from=None)
    history["service_cpu_ms_per_request"] = raw
    history["cpu_vs_load_generator"] = relative
    assert [p.commit for p in change_points(history, ("cpu_vs_load_generator",))] == [COMMITS[4]]
    assert [p.commit for p in change_points(history, ("service_cpu_ms_per_request",))] != [COMMITS[4]]
