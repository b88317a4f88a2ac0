"""The gate's known answers: the patches are real code that follows optimized's handler, and each
case's gate outcome is judged by codes (the end-to-end short form is in tests/test_gate_e2e.py)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from harness.analysis import conclude, load_criteria
from harness.results import VariantInfo
from harness.runs.gateknown import (
    ANCHOR,
    GATE_CASES,
    GATE_PROFILES,
    PATCHED_FILE,
    apply_patch,
    case_label,
    case_view,
    judge_case,
)
from harness.runs.variants import VariantError
from tests.harness.test_figures import make_run
from tests.harness.test_gate import CI_CRITERIA, CORES, SHORT, SHORT_REQUESTS, relative_run

ROOT = Path(__file__).resolve().parents[2]
CASES = {case.kind: case for case in GATE_CASES}


def test_optimized_still_has_the_line_every_patch_wraps():
    assert (ROOT / PATCHED_FILE).read_text(encoding="utf-8").count(ANCHOR) == 1


@pytest.mark.parametrize("kind", ["cpu", "latency"])
def test_a_patch_is_real_code_in_a_copy(tmp_path, kind):
    (tmp_path / "optimized").mkdir()
    shutil.copy(ROOT / PATCHED_FILE, tmp_path / PATCHED_FILE)
    apply_patch(tmp_path, kind, 1.7)
    patched = (tmp_path / PATCHED_FILE).read_text(encoding="utf-8")
    ast.parse(patched)  # still Python
    assert ANCHOR not in patched and "1.7 / 1000" in patched
    assert ("thread_time" in patched) == (kind == "cpu") and ("asyncio.sleep" in patched) == (kind == "latency")
    assert (ROOT / PATCHED_FILE).read_text(encoding="utf-8").count(ANCHOR) == 1  # the working tree untouched


def test_a_patch_that_no_longer_applies_says_so(tmp_path):
    (tmp_path / "optimized").mkdir()
    (tmp_path / PATCHED_FILE).write_text("app = None\n", encoding="utf-8")
    with pytest.raises(VariantError, match="no longer has the line"):
        apply_patch(tmp_path, "cpu", 1.0)


def test_the_short_form_doubles_the_issues_sizes():
    short, full = GATE_PROFILES["short"], GATE_PROFILES["full"]
    assert (short.cpu_ms, short.delay_ms) == (2 * full.cpu_ms, 2 * full.delay_ms)


@pytest.mark.parametrize(
    ("kind", "factors", "status"),
    [
        ("unchanged", {}, "pass"),
        ("unchanged", {"cpu": 1.3}, "fail"),  # unchanged code must pass: a cost regression is a wrong answer
        ("cpu", {"cpu": 1.3}, "pass"),
        ("cpu", {}, "fail"),  # a regression the gate missed
        ("cpu", {"p95": 1.25}, "fail"),  # caught, but not as the cost it is
        ("latency", {"p95": 1.25}, "pass"),
        ("latency", {"cpu": 1.3}, "fail"),
    ],
)
def test_each_case_is_judged_by_the_check_that_failed(kind, factors, status, tmp_path):
    results, records = relative_run(**factors)
    answer = judge_case(CASES[kind], results, records, tmp_path)
    assert answer.status == status, answer.measured
    assert answer.exit_code in (0, 1) and not answer.disturbed


def test_a_run_the_bench_could_not_make_is_unusable(tmp_path):
    answer = judge_case(CASES["cpu"], None, None, tmp_path)
    assert answer.status == "unusable" and answer.exit_code is None


def test_each_case_is_judged_on_the_base_and_its_own_copy_alone(tmp_path):
    """The run of every case, viewed as the pull-request job's run of one: the slower copy fails
    the gate on p95, and the unchanged copy passes beside the same base steps."""
    base, fast = "optimized@HEAD", SHORT["optimized"]
    copies = {case.kind: case_label(case, "optimized") for case in GATE_CASES}
    medians = {base: fast, **{label: fast for label in copies.values()}}
    medians[copies["latency"]] = {users: ms * 1.4 for users, ms in fast.items()}
    cores = {name: CORES["optimized"] for name in medians}
    results, records = make_run(medians, requests=SHORT_REQUESTS, seed=1, service_cores=cores, trials=2)
    variants = {base: VariantInfo(summary="optimized at HEAD", commit="0" * 40)}
    variants |= {label: VariantInfo(summary=f"patched: {kind}") for kind, label in copies.items()}
    settings = results.settings.model_copy(
        update={"baseline": base, "candidates": list(copies.values()), "variants": variants}
    )
    results = conclude(results.model_copy(update={"settings": settings}), records, load_criteria(CI_CRITERIA))
    for case in GATE_CASES:
        view, mine = case_view(results, records, copies[case.kind], "optimized")
        assert (view.settings.baseline, view.settings.candidates) == (base, ["optimized"])
        assert view.settings.variants["optimized"].summary == f"patched: {case.kind}"
        assert {step.service for step in view.steps} == set(mine["service"]) == {base, "optimized"}
        assert len(mine) == len(records[records["service"].isin([base, copies[case.kind]])])
        answer = judge_case(case, view, mine, tmp_path)
        # the cpu copy costs the same here: only its own case is judged on what it should show
        assert answer.status == ("fail" if case.kind == "cpu" else "pass"), answer.measured
