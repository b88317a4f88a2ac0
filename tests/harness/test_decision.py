"""Every rule of the verdict, on constructed runs (fixed seeds, no server). The tests read the
reasons' codes and the criteria's outcomes, never their sentences."""

from __future__ import annotations

import pytest

from harness.analysis import conclude, decide, evaluate, load_criteria, ratios, rejudge, summarize
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


def _short_of_cpu(medians, saturated, criteria=None):
    """A pinned run whose ``saturated`` (service, users) pairs filled their CPUs, its ratios
    computed with that known, under ``criteria`` (p95 under 250 ms by default: strict enough that
    a saturated level's p95 waits for more CPU)."""
    results, records = make_run(medians, requests=REQUESTS)
    bench = results.settings.bench.model_copy(update={"service_cpus": [1], "bench_cpus": [0]})
    results = results.model_copy(update={"settings": results.settings.model_copy(update={"bench": bench})})
    summaries = [
        s.model_copy(update={"service_saturated": True, "service_cpu_ms_per_request": 40.0})
        if (s.service, s.users) in saturated
        else s
        for s in summarize(results.steps, records)
    ]
    with_summaries = results.model_copy(update={"summaries": summaries})
    if criteria is None:
        shipped = load_criteria()
        criteria = shipped.model_copy(
            update={
                "absolute": [
                    c.model_copy(update={"threshold": 250.0}) if c.metric == "p95_ms" else c for c in shipped.absolute
                ]
            }
        )
    judged = evaluate(criteria, with_summaries)
    pair = dict(candidate="optimized", baseline="original")
    return decide(with_summaries, judged, ratios(summaries, records, **pair), **pair)


EVERY_STEP = {(service, users) for service in ("original", "optimized") for users in (100, 500)}


def test_where_both_filled_their_cpus_latency_is_set_aside_and_only_throughput_compared():
    # Twice the p95 at 500 users, the same throughput: worse when the services had CPU to spare,
    # not evidence when both were saturated (their latency is the queue the load builds).
    slower = {"original": {100: 100.0, 500: 150.0}, "optimized": {100: 100.0, 500: 300.0}}
    assert ReasonCode.SIGNIFICANTLY_WORSE in codes(verdict_of(slower).decision)
    decision = _short_of_cpu(slower, EVERY_STEP, criteria=load_criteria())
    assert ReasonCode.SIGNIFICANTLY_WORSE not in codes(decision)
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and ReasonCode.BOTH_SATURATED in codes(decision)
    latency = [r for r in decision.ratios if r.metric in ("p95_ms", "p99_ms")]
    assert latency and not any(r.is_evidence for r in latency) and all(r.both_saturated for r in latency)
    assert all(r.is_evidence for r in decision.ratios if r.metric == "throughput_rps")
    # A latency "win" at equal throughput earns nothing there either.
    win = _short_of_cpu(WIN, EVERY_STEP, criteria=load_criteria())
    assert win.verdict == Verdict.DO_NOT_MIGRATE and ReasonCode.SIGNIFICANTLY_BETTER not in codes(win)


def test_one_saturated_side_keeps_its_latency_as_evidence():
    decision = _short_of_cpu(WIN, {("original", 100), ("original", 500)}, criteria=load_criteria())
    assert decision.verdict == Verdict.MIGRATE
    assert all(r.is_evidence for r in decision.ratios) and ReasonCode.BOTH_SATURATED not in codes(decision)


def test_criteria_waiting_for_cpu_do_not_hold_a_candidate_with_no_benefit_at_inconclusive():
    same = {100: 200.0, 500: 300.0}
    decision = _short_of_cpu({"original": same, "optimized": same}, EVERY_STEP)
    waiting = [r for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED]
    assert waiting and {r.reason for r in waiting} == {CriterionReason.NEEDS_MORE_CPU}
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(decision)[0] == ReasonCode.NO_BENEFIT and ReasonCode.CRITERIA_IMMATERIAL in codes(decision)
    assert ReasonCode.CRITERIA_NOT_JUDGED not in codes(decision)


def test_criteria_waiting_for_cpu_hold_a_candidate_that_shows_a_benefit_at_inconclusive():
    decision = _short_of_cpu(WIN, {("optimized", 500)})
    assert decision.verdict == Verdict.INCONCLUSIVE and ReasonCode.CRITERIA_IMMATERIAL not in codes(decision)


def test_no_benefit_where_measured_is_inconclusive_when_a_level_was_not_measured_or_not_compared():
    same = {100: 200.0, 500: 300.0}
    missing = verdict_of({"original": {100: 200.0}, "optimized": {100: 200.0}}).decision
    assert missing.verdict == Verdict.INCONCLUSIVE  # 500 users never ran: a benefit could be there
    bound = verdict_of({"original": same, "optimized": same}, generator_cores={("optimized", 500): 0.97}).decision
    assert bound.verdict == Verdict.INCONCLUSIVE  # 500 users not comparable: the same
    assert ReasonCode.CRITERIA_IMMATERIAL not in codes(missing) + codes(bound)


def test_one_saturated_part_is_one_piece_of_advice_naming_every_level_it_held_up():
    bound = {("optimized", 100): 0.97, ("optimized", 500): 0.97}
    decision = verdict_of(WIN, generator_cores=bound).decision
    assert decision.verdict == Verdict.INCONCLUSIVE
    advice = decision.with_code(ReasonCode.TO_DECIDE)
    assert len(advice) == 1 and BENCH_ADVICE[Component.LOAD_GENERATOR] in advice[0].text
