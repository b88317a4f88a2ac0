"""The self-test: its judging on constructed runs (no server), and the short form for real.

The real run (marked ``load``) is the one `make test` relies on: A beside both copies (A/A and
A/B), then A/A unpinned, through the real compare machinery, about two minutes. It skips, saying so, only when the
machine was too busy with other work to measure anything (the self-test then answers "unusable",
exit 2).
"""

from __future__ import annotations

import json

import psutil
import pytest

from harness.analysis import conclude
from harness.analysis.criteria import load_criteria
from harness.analysis.quiet import STEAL_LIMIT_SHARE
from harness.bench.pinning import cpu_plan
from harness.cli import main
from harness.commands.selftest import _report_json
from harness.results import CpuLoad, load_results
from harness.runs.selftest import (
    A_A,
    A_B,
    CRITERIA_FILE,
    EXIT_FAIL,
    EXIT_PASS,
    EXIT_UNUSABLE,
    ISOLATION_STEAL_MARGIN_CORES,
    KNOWN_ANSWERS,
    RUNS,
    SELFTEST_PROFILES,
    SLOWDOWN,
    Cause,
    Check,
    KnownAnswer,
    Problem,
    SelftestConfig,
    SelftestReport,
    isolation_checks,
    judge,
    known_answers,
    other_work_limit,
    run_selftest,
    selftest_plan,
    selftest_table,
    write_criteria,
)
from harness.terms import TargetStatus, Verdict, outside_margin
from tests.harness.test_figures import make_run

USERS = 20
REQUESTS = {USERS: 1500}


@pytest.fixture(scope="module")
def criteria(tmp_path_factory):
    return load_criteria(write_criteria(tmp_path_factory.mktemp("criteria")))


def concluded(criteria, a_ms: float, b_ms: float, **kwargs):
    """A run of copies A and B with lognormal latencies around the given medians, judged."""
    return measured(criteria, a_ms, b_ms, **kwargs)[0]


def measured(criteria, a_ms: float, b_ms: float, *, sigma: float = 0.1, **kwargs):
    """As :func:`concluded`, with the run's per-request records."""
    results, records = make_run({"A": {USERS: a_ms}, "B": {USERS: b_ms}}, requests=REQUESTS, sigma=sigma, **kwargs)
    return conclude(_a_against_b(results), records, criteria), records


def _a_against_b(results):
    settings = results.settings.model_copy(update={"baseline": "A", "candidates": ["B"]})
    return results.model_copy(update={"settings": settings})


def codes(problems):
    return [problem.code for problem in problems]


def by_subject(checks: list[Check]) -> dict[str, Check]:
    return {check.subject: check for check in checks}


# -- judging A/A --------------------------------------------------------------------------------
def test_identical_copies_pass_the_a_a_run(criteria):
    checks, problems = judge(A_A, concluded(criteria, 250.0, 250.0))
    assert problems == []
    checks = by_subject(checks)
    assert checks["p95 ratio B/A at 20 users"].status == "pass"
    assert checks["throughput ratio B/A at 20 users"].status == "pass"
    assert checks["p99 ratio B/A at 20 users"].status == "info"
    assert checks["verdict"].status == "pass" and checks["verdict"].verdict == Verdict.DO_NOT_MIGRATE


def test_a_sub_margin_difference_is_shown_but_does_not_fail_the_a_a_run(criteria):
    results = concluded(criteria, 250.0, 257.5)  # 3 %: significant over 1500 requests, inside 10 %
    p95 = next(r for r in results.decision.ratios if r.metric == "p95_ms")
    assert p95.significant and 1.0 < p95.value.value < 1.1
    checks = by_subject(judge(A_A, results)[0])
    shown = checks["p95 ratio B/A at 20 users"]
    assert shown.status == "pass" and shown.ratio.significant and not outside_margin("p95_ms", shown.ratio.value.value)


def test_a_difference_beyond_the_margin_fails_the_a_a_run(criteria):
    checks, problems = judge(A_A, concluded(criteria, 250.0, 300.0))
    checks = by_subject(checks)
    assert problems == []
    assert checks["p95 ratio B/A at 20 users"].status == "fail"
    assert checks["verdict"].status == "fail"  # DO NOT MIGRATE, but on a difference that is not there


def test_an_a_a_run_that_says_migrate_fails(criteria):
    checks = by_subject(judge(A_A, concluded(criteria, 300.0, 250.0))[0])
    assert checks["verdict"].verdict == Verdict.MIGRATE and checks["verdict"].status == "fail"


# -- judging A/B --------------------------------------------------------------------------------
def test_a_slower_b_is_flagged_and_passes_the_a_b_run(criteria):
    checks, problems = judge(A_B, concluded(criteria, 250.0, 250.0 * SLOWDOWN))
    checks = by_subject(checks)
    assert problems == []
    p95 = checks["p95 ratio B/A at 20 users"]
    assert p95.status == "pass" and p95.ratio.value.value > 1.1 and p95.ratio.p_value < 1e-16
    assert checks["throughput ratio B/A at 20 users"].status == "info"
    assert checks["verdict"].status == "pass" and checks["verdict"].verdict == Verdict.DO_NOT_MIGRATE


@pytest.mark.parametrize("b_ms", [250.0, 262.5])  # no difference; one inside the margin
def test_an_a_b_run_that_misses_the_slowdown_fails(criteria, b_ms):
    checks = by_subject(judge(A_B, concluded(criteria, 250.0, b_ms))[0])
    assert checks["p95 ratio B/A at 20 users"].status == "fail"
    assert checks["verdict"].status == "fail"


# -- unusable runs ------------------------------------------------------------------------------
def test_a_bench_bound_level_is_unusable_not_a_verdict(criteria):
    results = concluded(criteria, 250.0, 300.0, generator_cores={("B", USERS): 0.95})
    checks, problems = judge(A_B, results)
    assert [c.status for c in checks] == ["unusable", "info"] and checks[0].causes == (Cause.LEVEL_UNUSABLE,)
    assert codes(problems) == [Cause.NO_USABLE_LEVEL]


def disturbed(criteria, a_ms: float, b_ms: float, loads: dict[str, CpuLoad]):
    """As :func:`concluded`, with each named copy's steps sampled at ``loads[copy]`` before the
    analysis ran: the path a real run takes, where the verdict's quiet-machine rule sees it."""
    results, records = make_run({"A": {USERS: a_ms}, "B": {USERS: b_ms}}, requests=REQUESTS, sigma=0.1)
    steps = [s.model_copy(update={"cpu_load": loads[s.service]}) if s.service in loads else s for s in results.steps]
    return conclude(_a_against_b(results.model_copy(update={"steps": steps})), records, criteria)


def test_a_step_disturbed_by_other_work_on_the_machine_is_unusable(criteria):
    quiet = concluded(criteria, 250.0, 300.0)
    bench_cores = sum(u.cpu_cores_mean for u in quiet.steps[0].components.values())
    limit = other_work_limit(quiet)
    assert limit == pytest.approx(0.5)  # a quarter of 2 cores
    below = CpuLoad(machine_cores=bench_cores + limit - 0.1, machine_cpus=2)
    assert judge(A_B, disturbed(criteria, 250.0, 300.0, {"A": below}))[1] == []
    busy = CpuLoad(machine_cores=bench_cores + limit + 0.2, machine_cpus=2)
    checks, problems = judge(A_B, disturbed(criteria, 250.0, 300.0, {"A": busy}))
    assert checks[0].status == "unusable" and checks[0].causes == (Cause.NOT_QUIET,)
    assert codes(problems) == [Cause.NO_USABLE_LEVEL]


def test_a_run_that_stopped_or_broke_a_copy_cannot_be_judged(criteria):
    stopped = concluded(criteria, 250.0, 300.0).model_copy(update={"complete": False, "incomplete_reason": "Ctrl-C"})
    checks, problems = judge(A_B, stopped)
    assert checks == [] and codes(problems) == [Cause.RUN_STOPPED]
    results, records = make_run({"A": {USERS: 250.0}, "B": {USERS: 300.0}}, requests=REQUESTS, sigma=0.1)
    failing = [s.model_copy(update={"success_rate": 0.5}) if s.service == "B" else s for s in results.steps]
    broken = conclude(_a_against_b(results.model_copy(update={"steps": failing})), records, criteria)
    checks, problems = judge(A_B, broken)
    assert checks == [] and codes(problems) == [Cause.COPY_BROKEN]
    assert codes(judge(A_A, None)[1]) == [Cause.NO_RESULTS]


def test_criteria_a_light_run_cannot_judge_do_not_hold_the_verdict():
    # The shipped criteria ask for 500 rps at 500 users: the target-load answer's, not the verdict's.
    checks, problems = judge(A_A, concluded(load_criteria(), 250.0, 250.0))
    assert problems == [] and by_subject(checks)["verdict"].status == "pass"


def test_an_inconclusive_verdict_on_usable_levels_is_unusable_with_its_reasons(criteria):
    results, records = make_run({"A": {USERS: 250.0}, "B": {USERS: 250.0}}, requests=REQUESTS, sigma=0.1)
    unaudited = [s.model_copy(update={"audit": None}) if s.service == "B" else s for s in results.steps]
    checks, problems = judge(
        A_A, conclude(_a_against_b(results.model_copy(update={"steps": unaudited})), records, criteria)
    )
    assert by_subject(checks)["verdict"].status == "unusable"
    assert Cause.VERDICT_INCONCLUSIVE in codes(problems)


def test_a_p95_the_verdict_sets_aside_is_not_read_as_the_a_b_answer(criteria):
    # Both copies filled their CPUs: latency is the queue there, and the verdict reads throughput only.
    results = concluded(criteria, 250.0, 300.0)
    saturated = [r.model_copy(update={"both_saturated": True}) for r in results.decision.ratios]
    decision = results.decision.model_copy(update={"ratios": saturated})
    checks = by_subject(judge(A_B, results.model_copy(update={"decisions": [decision]}))[0])
    assert checks["p95 ratio B/A at 20 users"].status == "unusable"
    aa = by_subject(judge(A_A, results.model_copy(update={"decisions": [decision]}))[0])
    assert aa["p95 ratio B/A at 20 users"].status == "pass"  # not a difference the verdict acts on


# -- the known answers --------------------------------------------------------------------------
def test_a_faster_copy_migrates_with_a_projected_target_and_not_past_a_criterion_it_fails(criteria, tmp_path):
    ab, records = measured(criteria, 250.0, 250.0 * SLOWDOWN)
    checks, problems = known_answers(ab, records, tmp_path)
    assert problems == [] and [c.subject for c in checks] == [case.name for case in KNOWN_ANSWERS]
    target, failing = checks
    assert (target.status, target.verdict) == ("pass", Verdict.MIGRATE)
    assert target.ratio.metric == "p95_ms" and target.ratio.value.ci_high < 0.9  # A against B
    assert f"target {TargetStatus.FITS}" in target.measured or f"target {TargetStatus.EXCEEDS}" in target.measured
    assert (failing.status, failing.verdict) == ("pass", Verdict.DO_NOT_MIGRATE)
    assert "'p95 under 1 ms'" in failing.measured
    assert all((tmp_path / case.file).is_file() for case in KNOWN_ANSWERS)


def test_a_wrong_known_answer_fails(criteria, tmp_path):
    # No difference between the copies: nothing earns MIGRATE, so the first case's answer is wrong.
    checks, _ = known_answers(*measured(criteria, 250.0, 250.0), tmp_path)
    assert [(c.status, c.verdict) for c in checks] == [
        ("fail", Verdict.DO_NOT_MIGRATE),
        ("pass", Verdict.DO_NOT_MIGRATE),
    ]
    # A copy that answers in well under 1 ms passes the criterion meant to fail: MIGRATE is wrong there.
    checks, _ = known_answers(*measured(criteria, 0.4, 0.4 * SLOWDOWN), tmp_path)
    assert [(c.status, c.verdict) for c in checks] == [("pass", Verdict.MIGRATE), ("fail", Verdict.MIGRATE)]


def test_known_answers_the_run_cannot_give_are_unusable(criteria, tmp_path):
    ab, records = measured(criteria, 250.0, 250.0 * SLOWDOWN)
    checks, problems = known_answers(ab, None, tmp_path)
    assert {c.status for c in checks} == {"unusable"} and codes(problems) == [Cause.NO_RESULTS]
    unaudited = ab.model_copy(update={"steps": [s.model_copy(update={"audit": None}) for s in ab.steps]})
    checks, problems = known_answers(unaudited, records, tmp_path)
    # Unproven delivery leaves the first case unanswered; a failed criterion still decides the second (rule b).
    assert [c.status for c in checks] == ["unusable", "pass"] and codes(problems) == [Cause.VERDICT_INCONCLUSIVE]


def test_exit_codes_rank_a_wrong_answer_above_an_unusable_run():
    passed = Check("A/A", "verdict", "", "", "pass")
    failed = Check("A/B", "verdict", "", "", "fail")
    assert SelftestReport([passed, passed]).exit_code == EXIT_PASS
    busy, no_level = Problem(Cause.NOT_QUIET, "A/A: busy"), Problem(Cause.NO_USABLE_LEVEL, "A/B: no level")
    assert SelftestReport([passed, failed], problems=[busy]).exit_code == EXIT_FAIL
    assert SelftestReport([passed], problems=[no_level]).exit_code == EXIT_UNUSABLE
    assert SelftestReport([Check("A/A", "x", "", "", "info")]).exit_code == EXIT_UNUSABLE


# -- the plans and the orchestration ------------------------------------------------------------
def test_plans_differ_only_in_b_s_upstream(tmp_path):
    config = SelftestConfig(service="original", users=(7, 9), seed=5)
    both, unpinned = (selftest_plan(run, config, tmp_path / CRITERIA_FILE) for run in RUNS)
    app = "original.app:app"
    assert [(t.label, t.app, t.upstream_latency_factor) for t in both.targets] == [
        ("A", app, 1.0),
        ("B", app, 1.0),
        ("B-slower", app, SLOWDOWN),
    ]
    assert [(t.label, t.app, t.upstream_latency_factor) for t in unpinned.targets] == [("A", app, 1.0), ("B", app, 1.0)]
    assert (both.candidates, unpinned.candidates) == (("B", "B-slower"), ("B",))
    for plan in (both, unpinned):
        assert (plan.baseline, plan.echo, plan.command) == ("A", False, "selftest")
        assert plan.load.users == (7, 9) and plan.bench.seed == 5
        assert plan.load.trials == SELFTEST_PROFILES["short"].trials
    assert not unpinned.bench.cpus.pinned
    assert selftest_plan(RUNS[0], SelftestConfig(profile="full"), tmp_path).load.trials >= 3


def pinned(results, cpus=(1,)):
    bench = results.settings.bench.model_copy(update={"service_cpus": list(cpus), "pinning": "services on CPU 1"})
    return results.model_copy(update={"settings": results.settings.model_copy(update={"bench": bench})})


def both_copies(criteria, a_ms: float, b_ms: float, slower_ms: float, *, sigma: float = 0.1):
    """The pinned run: A beside its identical copy B and the copy with the slower upstream."""
    medians = {"A": {USERS: a_ms}, "B": {USERS: b_ms}, "B-slower": {USERS: slower_ms}}
    results, records = make_run(medians, requests=REQUESTS, sigma=sigma)
    settings = results.settings.model_copy(update={"baseline": "A", "candidates": ["B", "B-slower"]})
    return pinned(conclude(results.model_copy(update={"settings": settings}), records, criteria)), records


def made_runs(criteria):
    return {
        "A/A and A/B": both_copies(criteria, 250.0, 250.0, 300.0, sigma=0.05),
        "A/A unpinned": measured(criteria, 250.0, 250.0, sigma=0.2),
    }


def fake_runs(made):
    """A stand-in for the bench: each run's constructed results, its records in its run directory."""
    seen = []

    def run(name, expectation, plan, run_dir):
        factors = tuple(t.upstream_latency_factor for t in plan.targets)
        seen.append((name, run_dir.name, factors, plan.bench.cpus.pinned))
        results, records = made[name]
        run_dir.mkdir(parents=True, exist_ok=True)
        records.to_parquet(run_dir / "requests.parquet")
        return results

    return run, seen


@pytest.mark.parametrize("profile", ["short", "full"])
def test_run_selftest_runs_a_beside_both_copies_then_in_full_a_a_unpinned_and_reports_all(tmp_path, criteria, profile):
    run, seen = fake_runs(made_runs(criteria))

    report = run_selftest(SelftestConfig(profile=profile), tmp_path, run)
    pins = cpu_plan().pinned
    both = ("A/A and A/B", "pinned", (1.0, 1.0, SLOWDOWN), pins)
    unpinned = ("A/A unpinned", "aa-unpinned", (1.0, 1.0), False)
    isolation = [c for c in report.checks if c.scenario == "isolation"]
    if profile == "short":  # one trial's widths are too noisy to judge: said, not measured
        assert seen == [both] and [c.status for c in isolation] == ["info"]
        assert report.exit_code == EXIT_PASS and set(report.run_dirs) == {"A/A and A/B", "A/A", "A/B"}
        return
    assert seen == [both, unpinned] and isolation and "info" not in {c.status for c in isolation}
    assert report.exit_code == EXIT_PASS and report.outcome == "PASS"
    assert (tmp_path / CRITERIA_FILE).is_file()
    # Each case's view of the shared run: A and its own copy, named B, concluded on its own.
    aa, ab = load_results(tmp_path / "aa"), load_results(tmp_path / "ab")
    for view in (aa, ab):
        assert (view.settings.baseline, view.settings.candidates) == ("A", ["B"])
        assert {step.service for step in view.steps} == {"A", "B"} and (tmp_path / view.run_id / "summary.md").is_file()
    aa_p95, ab_p95 = (next(r for r in run.decision.ratios if r.metric == "p95_ms") for run in (aa, ab))
    assert ab_p95.value.value > 1.1 > aa_p95.value.value
    assert set(report.run_dirs) == {"A/A and A/B", "A/A", "A/B", "A/A unpinned"}
    table = selftest_table(report)
    assert list(table.columns) == ["run", "check", "expected", "measured", "result"]
    assert set(table["result"]) == {"PASS", "INFO"}
    assert set(table["run"]) == {"A/A", "A/B", "A/A unpinned", "isolation", "known answer"}
    assert list(table[table["run"] == "known answer"]["check"]) == [case.name for case in KNOWN_ANSWERS]


def test_a_known_answer_the_harness_gets_wrong_fails_the_self_test(tmp_path, criteria, monkeypatch):
    made = made_runs(criteria)
    # A case whose answer is not the verdict's: the faster copy, under criteria it passes, kept back.
    wrong = KnownAnswer("wrong", "wrong.toml", KNOWN_ANSWERS[0].criteria, "DO NOT MIGRATE", Verdict.DO_NOT_MIGRATE)
    monkeypatch.setattr("harness.runs.selftest.KNOWN_ANSWERS", (wrong,))
    report = run_selftest(SelftestConfig(), tmp_path, fake_runs(made)[0])
    assert report.exit_code == EXIT_FAIL and [c.status for c in report.checks if c.scenario == "known answer"] == [
        "fail"
    ]


def test_a_pinned_a_a_interval_wider_than_the_unpinned_one_fails_the_isolation_check(criteria):
    narrow, wide = concluded(criteria, 250.0, 250.0, sigma=0.05), concluded(criteria, 250.0, 250.0, sigma=0.2)
    (passed,) = isolation_checks(pinned(narrow), wide)
    (failed,) = isolation_checks(pinned(wide), narrow)
    assert passed.status == "pass" and failed.status == "fail" and "pinned" in failed.measured
    # The host took more from the pinned run than from the unpinned one: the widths are not compared.
    steal = ISOLATION_STEAL_MARGIN_CORES + 0.02  # uneven, each under the limit
    stolen = pinned(wide).model_copy(update={"steps": [_with_steal(step, steal) for step in pinned(wide).steps]})
    (unfair,) = isolation_checks(stolen, narrow)
    assert unfair.status == "unusable" and unfair.causes == (Cause.NOT_QUIET,)
    (fair,) = isolation_checks(
        stolen, narrow.model_copy(update={"steps": [_with_steal(s, steal) for s in narrow.steps]})
    )
    assert fair.status == "fail"
    # Past the steal limit in either run the level is not usable (the analysis's rule): no width
    # to compare, whichever run lost more.
    heavy = CpuLoad(machine_cores=0.3, machine_cpus=2, steal_cores=STEAL_LIMIT_SHARE * 2 + 0.1)
    assert isolation_checks(pinned(narrow), disturbed(criteria, 250.0, 250.0, {"A": heavy})) == []
    (unpinnable,) = isolation_checks(narrow, wide)  # the machine could not pin: said, not judged
    assert unpinnable.status == "info"
    assert isolation_checks(None, wide) == []


def _with_steal(step, cores: float):
    load = step.cpu_load or CpuLoad(machine_cores=0.5, machine_cpus=2)
    return step.model_copy(update={"cpu_load": load.model_copy(update={"steal_cores": cores})})


def test_bad_arguments_are_clear_errors(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["selftest", "--profile", "huge"])
    assert exited.value.code == 2 and "invalid choice" in capsys.readouterr().err


# -- the short form, for real -------------------------------------------------------------------
@pytest.mark.load
@pytest.mark.timeout(360)
def test_short_selftest_passes_end_to_end(tmp_path):
    out = tmp_path / "selftest"
    code = main(["selftest", "--profile", "short", "--part", "verdict", "--out", str(out)])
    summary = (out / "selftest.md").read_text()
    if code == EXIT_UNUSABLE and _only_because_the_machine_was_busy(json.loads((out / "selftest.json").read_text())):
        pytest.skip("the machine was busy with other work; the self-test could not measure:\n" + summary)
    assert code == EXIT_PASS, summary

    aa, ab = (load_results(out / name) for name in ("aa", "ab"))
    both = load_results(out / "pinned")  # A measured once, beside both copies
    assert {s.service for s in both.steps} == {"A", "B", "B-slower"} and both.settings.bench.service_cpus
    assert aa.settings.bench.service_cpus and not (out / "aa-unpinned").exists()  # the full profile's
    assert "not measured" in summary  # the isolation check, said plainly
    assert aa.settings.command == ab.settings.command == "selftest"
    assert (aa.settings.candidates, aa.settings.baseline) == (["B"], "A")
    assert aa.decision.verdict != "MIGRATE"
    p95 = next(r for r in ab.decision.ratios if r.metric == "p95_ms")
    assert p95.significant and p95.value.value > 1.1 and ab.decision.verdict == "DO NOT MIGRATE"
    for run in (aa, ab):
        assert {s.service for s in run.steps} == {"A", "B"}  # no echo step
        assert all(s.audit is not None and s.audit.passed for s in run.steps)
    for run_dir in (out / "aa", out / "ab"):
        assert (run_dir / "summary.md").is_file() and (run_dir / "report.html").is_file()
    assert "| A/B" in summary and "PASS" in summary
    known = [c for c in json.loads((out / "selftest.json").read_text())["checks"] if c["run"] == "known answer"]
    assert [(c["status"], c["verdict"]) for c in known] == [("pass", "MIGRATE"), ("pass", "DO NOT MIGRATE")]
    leftovers = [
        p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"]) if str(out) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def _only_because_the_machine_was_busy(report: dict) -> bool:
    """Every unusable level was excluded for other work on the machine, and nothing else failed."""
    unusable = [check for check in report["checks"] if check["status"] == "unusable" and check["causes"]]
    return (
        bool(unusable)
        and all(check["causes"] == [Cause.NOT_QUIET] for check in unusable)
        and all(problem["code"] in (Cause.NO_USABLE_LEVEL, Cause.NOT_QUIET) for problem in report["problems"])
    )


def _stolen(steal: float, on_service: float | None = None) -> CpuLoad:
    """A step's samples with ``steal`` cores of 2 taken by the host (``on_service`` of them on the
    service's one CPU: a pinned run)."""
    if on_service is None:
        return CpuLoad(machine_cores=0.3, machine_cpus=2, steal_cores=steal)
    return CpuLoad(
        machine_cores=0.3,
        machine_cpus=2,
        steal_cores=steal,
        service_cpus=[1],
        bench_cpus=[0],
        service_steal_cores=on_service,
    )


LIMIT = STEAL_LIMIT_SHARE * 2


def test_steal_under_the_limit_changes_nothing(criteria):
    assert judge(A_B, disturbed(criteria, 250.0, 300.0, {"A": _stolen(LIMIT - 0.02)}))[1] == []


@pytest.mark.parametrize(
    ("a_ms", "b_ms", "stolen"),
    [
        (250.0, 300.0, {"B": _stolen(LIMIT + 0.05)}),  # A/A with B 20 % slower would fail
        (250.0, 250.0, {"A": _stolen(LIMIT + 0.3)}),  # and identical copies would pass
        # A fresh clone's CI: 0.15 cores of steal in A's step (under the old 0.20-core limit), the
        # service's CPU per request 1.30x its copy's. Half of it on the service's one CPU is past
        # the limit there.
        (250.0, 250.0, {"A": _stolen(0.148, on_service=0.074)}),
    ],
)
def test_a_level_the_host_disturbed_is_judged_neither_pass_nor_fail(criteria, a_ms, b_ms, stolen):
    checks, problems = judge(A_A, disturbed(criteria, a_ms, b_ms, stolen))
    assert checks[0].status == "unusable" and checks[0].causes == (Cause.NOT_QUIET,)
    assert "steal" in checks[0].measured
    assert codes(problems) == [Cause.NO_USABLE_LEVEL]
    assert all(check.status not in ("pass", "fail") for check in checks)


def test_a_run_the_host_disturbed_is_skipped_by_the_end_to_end_test_not_failed(criteria):
    checks, problems = judge(A_A, disturbed(criteria, 250.0, 300.0, {"B": _stolen(LIMIT + 0.05)}))
    report = _report_json(SelftestReport(checks, problems=problems))
    assert report["exit_code"] == EXIT_UNUSABLE and _only_because_the_machine_was_busy(report)


def test_a_run_that_measured_the_target_load_is_not_the_first_case(criteria, tmp_path):
    results, records = make_run({"A": {500: 250.0}, "B": {500: 300.0}}, requests={500: 5500}, sigma=0.1)
    ab = conclude(_a_against_b(results), records, criteria)
    assert ab.target_for("A").basis == "measured"
    target, failing = known_answers(ab, records, tmp_path)[0]
    assert target.status == "info" and failing.status == "pass"


def test_a_shared_run_without_its_records_is_unusable_not_judged_as_one_case(tmp_path, criteria):
    made = made_runs(criteria)
    run, _ = fake_runs(made)

    def without_records(name, expectation, plan, run_dir):
        results = run(name, expectation, plan, run_dir)
        if name == "A/A and A/B":
            (run_dir / "requests.parquet").unlink()  # the run's records lost: A/A and A/B cannot be split
        return results

    report = run_selftest(SelftestConfig(), tmp_path, without_records)
    assert report.exit_code == EXIT_UNUSABLE
    assert {p.code for p in report.problems if p.text.startswith(("A/A:", "A/B:"))} == {Cause.NO_RESULTS}
    assert not [c for c in report.checks if c.scenario in ("A/A", "A/B")]
