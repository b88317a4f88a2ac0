"""`harness gate` on a real, short `harness compare` of this project's own services, as CI runs it.

The session's short compare run (every service and the echo app at two small user levels,
Locust in one process; tests/conftest.py) feeds every check of the gate, as CI's compare feeds
its gate; a tiny run with Locust as a master and one worker process shows the results have the
same form.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from harness.cli import main
from harness.gate import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from harness.gate.junit import ANSWERS_SUITE
from harness.metrics import GATED_METRICS
from harness.records import load_run_records
from harness.results import RECORD_COLUMNS, load_results

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[1]
CI_CRITERIA = ROOT / "harness" / "criteria-ci.toml"


@pytest.fixture
def run_dir(compare_run_dir):
    """The session's short compare run (tests/conftest.py), shared with the compare e2e tests."""
    return compare_run_dir


@pytest.fixture
def distributed_dir(distributed_run):
    """The session's distributed run (tests/conftest.py): a Locust master and its workers."""
    return distributed_run[0]


def expected_code(junit: ET.Element) -> int:
    """The exit code the JUnit report implies: any failure fails; else anything not judged that
    must be (a NOT JUDGED skip, not an N/A one) is inconclusive; else pass."""
    if junit.findall(".//failure"):
        return EXIT_FAIL
    if any(s.get("message", "").startswith("NOT JUDGED") for s in junit.iter("skipped")):
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


@pytest.mark.shares_machine
def test_gate_exit_code_matches_its_judgement(run_dir, tmp_path):
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    code = main(
        ["gate", str(run_dir), "--criteria", str(CI_CRITERIA), "--junit", str(junit), "--markdown", str(markdown)]
    )
    assert code in (EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE)
    root = ET.parse(junit).getroot()
    assert code == expected_code(root)
    cases = {case.get("name") for case in root.iter("testcase")}
    for users in (8, 16):  # one case per criterion x service x level, judged on this run's levels
        assert f"optimized p95 at most half the original's [optimized @ {users} users]" in cases
        assert f"delivery audit [original @ {users} users]" in cases
    status = {EXIT_PASS: "PASS", EXIT_FAIL: "FAIL", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}[code]
    text = markdown.read_text()
    assert text.splitlines()[0].endswith(f"Performance gate: {status} (exit {code})")
    # The run's two answers for each candidate, as the run concluded them: shown, not gated.
    (answer,) = [suite for suite in root.iter("testsuite") if suite.get("name") == ANSWERS_SUITE]
    lines = [case.find("system-out").text for case in answer.iter("testcase")]
    candidates = load_results(run_dir).settings.candidates
    assert sorted(line.split(":")[0] for line in lines) == sorted(candidates) and len(candidates) >= 1
    # The second answer is the 500-user target's, projected ("500 users need ...") or not known.
    assert all(("500-user target" in line or "500 users need" in line) and f"- {line}" in text for line in lines)
    # The service that ships lost or doubled no reply on this run.
    audits = [case for case in root.iter("testcase") if case.get("name").startswith("delivery audit")]
    assert audits and not any(case.find("failure") is not None for case in audits)


@pytest.mark.shares_machine
def test_the_same_run_as_its_own_baseline_shows_no_regression(run_dir, tmp_path):
    junit = tmp_path / "self.xml"
    alone = main(
        [
            "gate",
            str(run_dir),
            "--criteria",
            str(CI_CRITERIA),
            "--junit",
            str(tmp_path / "alone.xml"),
            "--markdown",
            str(tmp_path / "alone.md"),
        ]
    )
    code = main(
        [
            "gate",
            str(run_dir / "results.json"),
            "--criteria",
            str(CI_CRITERIA),
            "--baseline",
            str(run_dir),
            "--junit",
            str(junit),
            "--markdown",
            str(tmp_path / "self.md"),
        ]
    )
    assert code == alone  # the regression checks add no failure and nothing inconclusive
    suites = {suite.get("name"): suite for suite in ET.parse(junit).getroot().iter("testsuite")}
    regression = suites["harness gate: regression"]
    # services x levels x (p95, p99, throughput, CPU and database operations per request)
    levels = {(step.service, step.users) for step in load_results(run_dir).steps}
    assert int(regression.get("tests")) == len(levels) * len(GATED_METRICS) and len(levels) >= 4
    assert regression.get("failures") == "0"
    results = [case.find("system-out").text.split(":")[0] for case in regression.iter("testcase")]
    # Latency where a service filled its CPUs is set aside (N/A: a figure the run did not report);
    # everything else is unchanged.
    assert set(results) <= {"NO CHANGE", "N/A (saturated)", "N/A"} and "NO CHANGE" in results


@pytest.mark.shares_machine
def test_results_with_locust_workers_have_the_same_form(distributed_dir, run_dir):
    single = run_dir  # the session's run, with Locust in one process
    distributed, alone = load_results(distributed_dir), load_results(single)
    assert (distributed.settings.load.locust_workers, alone.settings.load.locust_workers) == (1, 0)
    assert distributed.settings.load.remote_workers == 1
    raw = [json.loads((d / "results.json").read_text()) for d in (distributed_dir, single)]
    assert raw[0].keys() == raw[1].keys() and raw[0]["settings"].keys() == raw[1]["settings"].keys()
    assert raw[0]["steps"][0].keys() == raw[1]["steps"][0].keys()
    assert raw[0]["summaries"][0].keys() == raw[1]["summaries"][0].keys()
    for results, directory in ((distributed, distributed_dir), (alone, single)):
        records = load_run_records(directory, results.records_file)
        assert records is not None and list(records.columns) == list(RECORD_COLUMNS)
        for step in results.steps:  # every step's requests were recorded, whoever sent them
            assert "load_generator" in step.components
            mine = records[(records["service"] == step.service) & (records["users"] == step.users)]
            assert len(mine) >= step.requests > 0
    records = [load_run_records(d, r.records_file) for d, r in ((distributed_dir, distributed), (single, alone))]
    assert dict(records[0].dtypes) == dict(records[1].dtypes)
    # A master and the worker it started: the generator's CPU covers both processes.
    assert all(len(step.components["load_generator"].pids) >= 2 for step in distributed.steps)


@pytest.mark.shares_machine
def test_every_process_was_stopped(distributed_dir):
    leftovers = [
        p.info
        for p in psutil.process_iter(["pid", "cmdline"])
        if str(distributed_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


# -- the gate's known answers, for real: patched copies of HEAD beside HEAD ----------------------
# They measure: unlike the tests above, this one runs alone.
@pytest.mark.timeout(420)
def test_the_gates_known_answers_hold(tmp_path):
    out = tmp_path / "selftest"
    code = main(["selftest", "--profile", "short", "--part", "gate", "--out", str(out)])
    report = json.loads((out / "selftest.json").read_text())
    summary = (out / "selftest.md").read_text()
    busy = [c for c in report["checks"] if c["status"] == "unusable" and c["causes"] == ["not_quiet"]]
    if code == 2 and busy and all(c["status"] in ("pass", "unusable") for c in report["checks"]):
        pytest.skip("the machine was busy with other work; the gate's known answers could not measure:\n" + summary)
    assert code == 0, summary
    checks = {c["check"]: c for c in report["checks"] if c["run"] == "gate"}
    assert set(checks) == {"unchanged code", "more CPU per message", "a slower answer"}
    assert checks["unchanged code"]["measured"].startswith("PASS (exit 0)")
    assert "CPU per request vs optimized@HEAD" in checks["more CPU per message"]["measured"]
    assert "p95 latency vs optimized@HEAD" in checks["a slower answer"]["measured"]
    measured = load_results(out / "gate")  # one run: the base beside every case's copy
    assert measured.settings.candidates == ["optimized-unchanged", "optimized-cpu", "optimized-latency"]
    for kind in ("unchanged", "cpu", "latency"):  # each case's view a relative run: the copy is this change
        results = load_results(out / f"gate-{kind}")
        assert results.settings.baseline == "optimized@HEAD" and results.settings.candidates == ["optimized"]
        assert results.settings.variants["optimized@HEAD"].commit and not results.settings.variants["optimized"].commit
        assert {step.service for step in results.steps} == {"optimized@HEAD", "optimized"}
    # A view is a run directory like any other: `harness gate` judges it as the self-test did.
    assert main(["gate", str(out / "gate-cpu"), "--criteria", str(CI_CRITERIA)]) == EXIT_FAIL
