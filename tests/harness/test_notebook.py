"""notebooks/analysis.ipynb: stored without outputs, and it runs top to bottom (nbclient, a real
kernel of this interpreter) on a small run directory the test constructs; plus its helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from harness.analysis import conclude
from harness.analysis.attribution import DesignedChange, attribute
from harness.analysis.criteria import load_criteria
from harness.metrics import COMPARED_METRICS
from harness.notebook import (
    REPORT_DIR_VARIABLE,
    TARGET_COLUMNS,
    answer_lines,
    claims_frame,
    effects_frame,
    find_report_dir,
    latency_cdf,
    ratios_frame,
    summary_frame,
    targets_frame,
    top_level,
    waterfall_frame,
)
from harness.report.answers import answers, target_lines
from harness.results import save_results
from tests.harness.test_figures import make_run

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"
KERNEL = "harness-notebook-test"
MEDIANS = {
    "echo": {100: 5.0, 500: 8.0},
    "original": {100: 400.0, 500: 800.0},
    "optimized": {100: 100.0, 500: 150.0},
}


@pytest.fixture(scope="module")
def run():
    results, records = make_run(MEDIANS, requests={100: 300, 500: 600}, generator_cores={("original", 500): 0.97})
    results = conclude(results, records, load_criteria())
    # An attribution of one change from original to optimized (the run's own two services).
    change = DesignedChange(
        token="shared-client",
        setting="HTTP_CLIENT",
        before="per-call",
        after="shared",
        title="outbound client",
        added="optimized",
        removed="original",
    )
    attribution = attribute(results, records, "original", "optimized", [change])
    return results.model_copy(update={"attribution": attribution}), records


@pytest.fixture
def reports(tmp_path, run):
    results, records = run
    run_dir = tmp_path / "reports" / "20250101T000000Z"
    save_results(results, run_dir)
    records.to_parquet(run_dir / "requests.parquet")
    (tmp_path / "reports" / "latest").write_text(run_dir.name + "\n")
    return run_dir


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch):
    """A kernelspec that runs this very interpreter (the venv with the project installed):
    JUPYTER_PATH is searched first, so no user or system kernel named alike can stand in."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "harness test kernel",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.metadata.kernelspec.name == "python3"


def _outputs(notebook, kind):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "text" and output.output_type == "stream":
                yield output.text
            elif kind in output.get("data", {}):
                yield output.data[kind]


def test_notebook_runs_top_to_bottom_on_a_run_directory(run, reports, this_python_kernel, monkeypatch):
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(reports))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, kernel_name=this_python_kernel, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text = "".join(_outputs(notebook, "text"))
    _, records = run
    assert f"run directory: {reports}" in text and f"per-request records: {len(records)} rows" in text
    assert "Machine: bench-host" in text
    # The two answers, worded as the console and the report word them, before the evidence.
    results, _ = run
    for answer in answers(results):
        assert answer.headline in text and text.index(answer.headline) < text.index("Machine: bench-host")
    for line in target_lines(results):
        assert line.text in text
    markdown = "".join(_outputs(notebook, "text/markdown"))
    assert "### optimized against original: " in markdown
    html = "".join(_outputs(notebook, "text/html"))
    assert "capacity_rps_per_cpu_ci_low" in html  # the target frame
    assert "p95 ms [95% CI]" in html  # the decision table
    assert "ratio [95% CI]" in html and "optimized / original" in html  # the ratios table
    assert "bench-bound" in text or "load generator" in html  # the unusable level is shown as such
    assert "50x better throughput" in html  # the claims
    assert "minimal migration" in text  # the attribution section read the run's attribution
    # percentiles+throughput, CDF, cache+CPU, ratios, the waterfall
    assert len(list(_outputs(notebook, "image/png"))) >= 5


# -- helpers ------------------------------------------------------------------------------------
def test_find_report_dir_follows_latest_or_the_variable(reports, monkeypatch, tmp_path):
    monkeypatch.delenv(REPORT_DIR_VARIABLE, raising=False)
    assert find_report_dir(reports.parent) == reports
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # found from a subdirectory, as a notebook runs
    assert find_report_dir() == reports
    monkeypatch.setenv(REPORT_DIR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no results.json"):
        find_report_dir()


def test_find_report_dir_explains_an_empty_reports_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(REPORT_DIR_VARIABLE, raising=False)
    with pytest.raises(FileNotFoundError, match="run `harness compare` first"):
        find_report_dir(tmp_path)


def test_frames_are_numeric_and_complete(run):
    results, records = run
    frame = summary_frame(results)
    assert len(frame) == 6 and set(frame["service"]) == set(MEDIANS)
    optimized = frame[(frame["service"] == "optimized") & (frame["users"] == 500)].iloc[0]
    assert optimized["p95_ms_ci_low"] <= optimized["p95_ms"] <= optimized["p95_ms_ci_high"]
    assert not frame.loc[(frame["service"] == "original") & (frame["users"] == 500), "usable"].item()
    assert set(ratios_frame(results)["metric"]) == set(COMPARED_METRICS)
    assert top_level(results) == (500, 0.0)
    cdf = latency_cdf(results, records)
    for _, rows in cdf.groupby("service"):
        assert rows["latency_ms"].is_monotonic_increasing and rows["fraction"].iloc[-1] == 1.0
    assert latency_cdf(results, None).empty


def test_the_target_frame_and_the_answer_lines(run):
    results, _ = run
    frame = targets_frame(results)
    assert list(frame.columns) == TARGET_COLUMNS
    assert list(frame["service"]) == [t.service for t in results.targets] and len(frame) > 0
    for _, row in frame.iterrows():
        target = results.target_for(row["service"])
        assert row["basis"] == target.basis and row["status"] == target.status.value
        if target.service_cpus is not None and target.service_cpus.ci_low is not None:
            assert row["service_cpus_ci_low"] <= row["service_cpus"] <= row["service_cpus_ci_high"]
    lines = answer_lines(results)
    assert lines[0] == answers(results)[0].headline  # the headline first, then its reasons
    assert targets_frame(results.model_copy(update={"targets": []})).empty


def test_claims_effects_and_the_waterfall_frames(run):
    results, _ = run
    claims = claims_frame(results)
    assert set(claims["candidate"]) == {"optimized"} and len(claims) == 5
    effects = effects_frame(results)
    assert set(effects["direction"]) == {"added", "removed"} and effects["ci_low"].notna().all()
    bars = waterfall_frame(results)
    assert list(bars["kind"]) == ["end", "change", "interactions", "end"]
    # the bars add up: baseline + change + interactions = target
    assert bars["delta"].iloc[0] + bars["delta"].iloc[1] + bars["delta"].iloc[2] == pytest.approx(bars["delta"].iloc[3])
