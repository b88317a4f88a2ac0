"""Every rule of the verdict, on constructed runs (fixed seeds, no server). The tests read the
reasons' codes and the criteria's outcomes, never their sentences."""

from __future__ import annotations

import pytest

from harness.analysis import conclude, decide, load_criteria, rejudge
from harness.results import FaultResult
from harness.terms import BENCH_ADVICE, Component, CriterionReason, Outcome, ReasonCode, Verdict
from tests.harness.test_figures import clean_audit, make_run

# 500 users at 5500 requests per 10 s window: 550 rps, enough for the "500 rps at 500 users" criterion.
REQUESTS = {100: 400, 500: 5500}
WIN = {"original": {100: 400.0, 500: 800.0}, "optimized": {100: 100.0, 500: 150.0}}


def verdict_of(medians, criteria=None, **kwargs):
    results, records = make_run(medians, requests=REQUESTS, **kwargs)
    return conclude(results, records, criteria or load_criteria())


def codes(decision):
    return [reason.code for reason in decision.reasons]


@pytest.fixture(scope="module")
def clear_win():
    return verdict_of(WIN)


def test_clear_win_migrates(clear_win):
    decision = clear_win.decision
    assert (decision.candidate, decision.baseline, decision.verdict) == ("optimized", "original", Verdict.MIGRATE)
    assert ReasonCode.SIGNIFICANTLY_BETTER in codes(decision) and ReasonCode.CRITERIA_PASSED in codes(decision)
    assert all(r.outcome is not Outcome.FAIL for r in decision.criteria)
    assert {r.users for r in decision.ratios} == {100, 500}


def test_candidate_that_lost_a_reply_does_not_migrate():
    results = verdict_of(WIN, audits={("optimized", 500): clean_audit(5500, lost=1)})
    decision = results.decision
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(decision) == [ReasonCode.AUDIT_FAILED, ReasonCode.EXPLANATION]


def test_candidate_audit_failure_under_a_fault_does_not_migrate(clear_win):
    fault = FaultResult(
        service="optimized",
        fault="db-outage",
        started_s=5,
        ended_s=15,
        errors_during=40,
        requests_during=100,
        recovery_s=2.0,
        ready_503_seen=True,
        ready_recovered=True,
        audit=clean_audit(60, doubled=2),
    )
    results = rejudge(clear_win.model_copy(update={"faults": [fault]}), load_criteria())
    assert results.decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(results.decision)[0] == ReasonCode.AUDIT_FAILED


def test_candidate_failing_the_p95_threshold_does_not_migrate():
    # Faster than the original but still over 2 s at p95: the criterion decides.
    results = verdict_of({"original": {100: 6000.0, 500: 8000.0}, "optimized": {100: 100.0, 500: 1500.0}})
    decision = results.decision
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert set(codes(decision)) == {ReasonCode.CRITERION_FAILED}
    failed = [(r.criterion, r.users) for r in decision.criteria if r.outcome is Outcome.FAIL]
    assert ("p95 under 2 s", 500) in failed


def test_candidate_significantly_worse_does_not_migrate():
    results = verdict_of({"original": {100: 100.0, 500: 150.0}, "optimized": {100: 100.0, 500: 300.0}})
    decision = results.decision
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(decision) and set(codes(decision)) == {ReasonCode.SIGNIFICANTLY_WORSE}


def test_bench_bound_top_step_is_inconclusive_and_says_what_to_change():
    results = verdict_of(WIN, generator_cores={("optimized", 500): 0.97})
    decision = results.decision
    assert decision.verdict == Verdict.INCONCLUSIVE
    hidden = [r for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED]
    assert {r.reason for r in hidden} == {CriterionReason.LEVEL_UNUSABLE} and {r.users for r in hidden} == {500}
    assert len(hidden) == 7 and "500 rps at 500 users" in {r.criterion for r in hidden}
    assert codes(decision).count(ReasonCode.CRITERIA_NOT_JUDGED) == 1  # one cause, naming all seven
    advice = decision.with_code(ReasonCode.TO_DECIDE)
    assert len(advice) == 1 and BENCH_ADVICE[Component.LOAD_GENERATOR] in advice[0].text


def test_missing_top_level_is_inconclusive():
    results = verdict_of({"original": {100: 400.0}, "optimized": {100: 100.0}})
    assert results.decision.verdict == Verdict.INCONCLUSIVE
    top = next(r for r in results.decision.criteria if r.criterion == "500 rps at 500 users")
    assert (top.outcome, top.reason) == (Outcome.NOT_JUDGED, CriterionReason.NO_STEP)


def test_baseline_audit_failure_is_inconclusive():
    results = verdict_of(WIN, audits={("original", 100): clean_audit(400, wrong_token=3)})
    assert results.decision.verdict == Verdict.INCONCLUSIVE
    assert codes(results.decision)[:2] == [ReasonCode.BASELINE_AUDIT_FAILED] * 2


def test_identical_distributions_show_no_measurable_benefit():
    same = {100: 200.0, 500: 300.0}
    decision = verdict_of({"original": same, "optimized": same}).decision
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(decision)[0] == ReasonCode.NO_BENEFIT and ReasonCode.RATIO in codes(decision)
    p95 = [r for r in decision.ratios if r.metric == "p95_ms"]
    assert all(0.9 < r.value.value < 1.1 for r in p95)


def test_one_service_gets_no_verdict_but_its_criteria():
    results, records = make_run({"optimized": {100: 100.0, 500: 150.0}}, requests=REQUESTS)
    concluded = conclude(results, records, load_criteria())
    assert concluded.decisions == [] and concluded.criteria
    assert {r.service for r in concluded.criteria} == {"optimized"}


def test_a_candidate_the_run_did_not_measure_is_inconclusive(clear_win):
    decision = decide(clear_win, clear_win.criteria, [], candidate="checklist", baseline="original")
    assert decision.verdict == Verdict.INCONCLUSIVE and codes(decision) == [ReasonCode.ONE_SERVICE]


def test_every_candidate_gets_its_own_verdict():
    results, records = make_run(
        {
            "original": {100: 400.0, 500: 800.0},
            "checklist": {100: 480.0, 500: 960.0},
            "optimized": {100: 100.0, 500: 150.0},
        },
        requests=REQUESTS,
    )
    results = results.model_copy(
        update={
            "settings": results.settings.model_copy(
                update={"baseline": "original", "candidates": ["checklist", "optimized"]}
            )
        }
    )
    concluded = conclude(results, records, load_criteria())
    verdicts = {d.candidate: d.verdict for d in concluded.decisions}
    assert verdicts == {"checklist": Verdict.DO_NOT_MIGRATE, "optimized": Verdict.MIGRATE}
    assert codes(concluded.decision_for("checklist"))[0] == ReasonCode.SIGNIFICANTLY_WORSE


def test_rejudging_uses_the_stored_ratios(clear_win, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text('[[criterion]]\nname = "p95 under 100 ms"\nmetric = "p95_ms"\nop = "<"\nthreshold = 100\n')
    rejudged = rejudge(clear_win, load_criteria(strict))
    assert rejudged.decision.verdict == Verdict.DO_NOT_MIGRATE
    assert rejudged.decision.ratios == clear_win.decision.ratios


def test_a_candidate_short_of_cpu_is_inconclusive_with_what_a_bigger_machine_must_run():
    results, records = make_run(WIN, requests=REQUESTS)
    bench = results.settings.bench.model_copy(update={"service_cpus": [1], "bench_cpus": [0]})
    results = results.model_copy(update={"settings": results.settings.model_copy(update={"bench": bench})})
    concluded = conclude(results, records, load_criteria())
    saturated = [
        s.model_copy(update={"service_saturated": True, "service_cpu_ms_per_request": 4.0})
        if (s.service, s.users) == ("optimized", 500)
        else s
        for s in concluded.summaries
    ]
    strict = concluded.model_copy(update={"summaries": saturated})
    strict_criteria = load_criteria().model_copy(
        update={
            "absolute": [
                c.model_copy(update={"threshold": 250.0}) if c.metric == "p95_ms" else c
                for c in load_criteria().absolute
            ]
        }
    )
    decision = rejudge(strict, strict_criteria).decision
    assert decision.verdict == Verdict.INCONCLUSIVE
    bigger = decision.with_code(ReasonCode.NEEDS_BIGGER_MACHINE)
    assert len(bigger) == 1 and "--service-cpus 2" in bigger[0].text
