"""Every rule of the verdict, on constructed runs (fixed seeds, no server)."""

from __future__ import annotations

import pytest

from harness.criteria import load_criteria
from harness.decision import DO_NOT_MIGRATE, INCONCLUSIVE, MIGRATE, conclude, decide
from harness.results import FaultResult
from tests.harness.test_figures import clean_audit, make_run

# 500 users at 5500 requests per 10 s window: 550 rps, enough for the "500 rps at 500 users" criterion.
REQUESTS = {100: 400, 500: 5500}
WIN = {"original": {100: 400.0, 500: 800.0}, "optimized": {100: 100.0, 500: 150.0}}


def verdict_of(medians, criteria=None, **kwargs):
    results, records = make_run(medians, requests=REQUESTS, **kwargs)
    return conclude(results, records, criteria or load_criteria())


@pytest.fixture(scope="module")
def clear_win():
    return verdict_of(WIN)


def test_clear_win_migrates(clear_win):
    decision = clear_win.decision
    assert decision.verdict == MIGRATE
    assert any(
        "at 500 users: optimized p95 latency is" in r and "significantly better (ratio < 0.9)" in r
        for r in decision.reasons
    )
    assert any("passes all" in r for r in decision.reasons)
    assert all(r.passed is not False for r in decision.criteria)
    assert {r.users for r in decision.ratios} == {100, 500}


def test_candidate_that_lost_a_reply_does_not_migrate():
    results = verdict_of(WIN, audits={("optimized", 500): clean_audit(5500, lost=1)})
    assert results.decision.verdict == DO_NOT_MIGRATE
    first = results.decision.reasons[0]
    assert "optimized at 500 users (trial 0): delivery audit failed" in first and "1 lost" in first
    assert "loses or doubles replies is not a migration" in results.decision.reasons[-1]


def test_candidate_audit_failure_under_a_fault_does_not_migrate(clear_win):
    fault = FaultResult(
        service="optimized",
        fault="db-down",
        started_s=5,
        ended_s=15,
        errors_during=40,
        requests_during=100,
        recovery_s=2.0,
        ready_503_seen=True,
        ready_recovered=True,
        audit=clean_audit(60, doubled=2),
    )
    decision = decide(clear_win.model_copy(update={"faults": [fault]}), load_criteria())
    assert decision.verdict == DO_NOT_MIGRATE
    assert "under fault 'db-down'" in decision.reasons[0] and "2 doubled" in decision.reasons[0]


def test_candidate_failing_the_p95_threshold_does_not_migrate():
    # Faster than the original but still over 2 s at p95: the criterion decides.
    results = verdict_of(
        {"original": {100: 6000.0, 500: 8000.0}, "optimized": {100: 100.0, 500: 1500.0}}
    )
    decision = results.decision
    assert decision.verdict == DO_NOT_MIGRATE
    assert any(
        "optimized fails criterion 'p95 under 2 s': optimized at 500 users: p95_ms =" in r
        and "fails < 2000" in r
        for r in decision.reasons
    )


def test_candidate_significantly_worse_does_not_migrate():
    results = verdict_of(
        {"original": {100: 100.0, 500: 150.0}, "optimized": {100: 100.0, 500: 300.0}}
    )
    decision = results.decision
    assert decision.verdict == DO_NOT_MIGRATE
    assert any(
        "at 500 users: optimized p95 latency is" in r and "significantly worse (ratio > 1.1)" in r
        for r in decision.reasons
    )


def test_bench_bound_top_step_is_inconclusive_and_names_the_component():
    results = verdict_of(WIN, generator_cores={("optimized", 500): 0.97})
    decision = results.decision
    assert decision.verdict == INCONCLUSIVE
    text = "\n".join(decision.reasons)
    assert (
        "optimized at 500 users is not usable (bench-bound by load generator): 7 criteria could not be judged"
        in text
    )
    assert "'500 rps at 500 users'" in text
    assert "load generator saturated at 500 users (optimized): add --locust-workers" in text


def test_missing_top_level_is_inconclusive():
    results = verdict_of({"original": {100: 400.0}, "optimized": {100: 100.0}})
    assert results.decision.verdict == INCONCLUSIVE
    assert any("no measured step of optimized at 500 users" in r for r in results.decision.reasons)


def test_baseline_audit_failure_is_inconclusive():
    results = verdict_of(WIN, audits={("original", 100): clean_audit(400, wrong_token=3)})
    assert results.decision.verdict == INCONCLUSIVE
    assert "original at 100 users (trial 0): delivery audit failed" in results.decision.reasons[0]
    assert "3 wrong-token" in results.decision.reasons[0]


def test_identical_distributions_show_no_measurable_benefit():
    same = {100: 200.0, 500: 300.0}
    results = verdict_of({"original": same, "optimized": same})
    decision = results.decision
    assert decision.verdict == DO_NOT_MIGRATE
    assert decision.reasons[0].startswith("no measurable benefit")
    p95 = [r for r in decision.ratios if r.metric == "p95_ms"]
    assert all(0.9 < r.value.value < 1.1 for r in p95)
    assert any("p95 latency ratio" in r for r in decision.reasons[1:])


def test_one_service_gets_no_migration_verdict_but_its_criteria():
    results, records = make_run({"optimized": {100: 100.0, 500: 150.0}}, requests=REQUESTS)
    decision = conclude(results, records, load_criteria()).decision
    assert decision.verdict == INCONCLUSIVE
    assert decision.reasons[0].startswith("one service only")
    assert decision.criteria and decision.ratios == []
    assert {r.service for r in decision.criteria} == {"optimized"}


def test_rejudging_uses_the_stored_ratios(clear_win, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text(
        '[[criterion]]\nname = "p95 under 100 ms"\nmetric = "p95_ms"\nop = "<"\nthreshold = 100\n'
    )
    decision = decide(clear_win, load_criteria(strict))
    assert decision.verdict == DO_NOT_MIGRATE
    assert decision.ratios == clear_win.decision.ratios
