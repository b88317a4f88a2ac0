"""Every rule of the verdict, on constructed runs (fixed seeds, no server). The tests read the
reasons' codes and the criteria's outcomes, never their sentences."""

from __future__ import annotations

import pytest

from contract.architecture import parse_variant
from harness.analysis import conclude, decide, evaluate, load_criteria, ratios, rejudge, summarize
from harness.analysis.target import target_load
from harness.results import CpuLoad, Estimate, FaultResult, Ratio, UsabilityIssue
from harness.runs.variants import variant_info
from harness.terms import (
    BENCH_ADVICE,
    Component,
    CriterionReason,
    Outcome,
    ReasonCode,
    TargetStatus,
    Unusable,
    Verdict,
)
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


def test_a_level_the_run_did_not_include_is_the_target_answers_and_never_holds_the_verdict():
    results = verdict_of({"original": {100: 400.0}, "optimized": {100: 100.0}})
    decision = results.decision
    assert decision.verdict == Verdict.MIGRATE
    top = next(r for r in decision.criteria if r.criterion == "500 rps at 500 users")
    assert (top.outcome, top.reason) == (Outcome.NOT_JUDGED, CriterionReason.TARGET_NOT_RUN)
    assert len(decision.with_code(ReasonCode.TARGET_ELSEWHERE)) == 1
    assert ReasonCode.CRITERIA_NOT_JUDGED not in codes(decision)
    assert results.target_for("optimized").basis == "projected"  # the second answer has the 500 users


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


def test_a_candidate_far_better_at_low_load_whose_target_needs_more_cpu_migrates_and_the_target_says_what_to_run():
    # Both miss the checklist's p95 at 500 users on this machine's one service CPU, optimized with
    # that CPU full: the checklist's 500-user criteria need a bigger machine.
    slow_top = {"original": {100: 400.0, 500: 8000.0}, "optimized": {100: 100.0, 500: 2500.0}}
    results, records = make_run(slow_top, requests=REQUESTS)
    bench = results.settings.bench.model_copy(update={"service_cpus": [1], "bench_cpus": [0]})
    results = results.model_copy(update={"settings": results.settings.model_copy(update={"bench": bench})})
    concluded = conclude(results, records, load_criteria())
    saturated = [
        s.model_copy(update={"service_saturated": True, "service_cpu_ms_per_request": 40.0})
        if (s.service, s.users) == ("optimized", 500)
        else s
        for s in concluded.summaries
    ]
    short = concluded.model_copy(update={"summaries": saturated, "costs": []})  # 40 ms of CPU per request
    decision = rejudge(short, load_criteria()).decision
    waiting = [r for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED]
    assert waiting and {(r.reason, r.users) for r in waiting} == {(CriterionReason.NEEDS_MORE_CPU, 500)}
    assert decision.verdict == Verdict.MIGRATE
    assert len(decision.with_code(ReasonCode.TARGET_ELSEWHERE)) == 1
    assert ReasonCode.CRITERIA_NOT_JUDGED not in codes(decision)
    # The second answer says what a bigger machine must run: 500 users offer ~472 req/s here,
    # at 40 ms each that is 19 CPUs of work, more than the checklist's 4 workers.
    target = target_load(short, "optimized")
    assert (target.status, target.basis) == (TargetStatus.EXCEEDS, "projected")
    assert "--variant optimized" in target.command and "--service-cpus 19" in target.command


def _strict_p95():
    """The shipped criteria with p95 under 250 ms: strict enough that a saturated level's p95 fails."""
    shipped = load_criteria()
    return shipped.model_copy(
        update={
            "absolute": [
                c.model_copy(update={"threshold": 250.0}) if c.metric == "p95_ms" else c for c in shipped.absolute
            ]
        }
    )


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
    return _decide_on(results, records, summaries, _strict_p95() if criteria is None else criteria)


def _decide_on(results, records, summaries, criteria):
    """optimized against original on ``summaries`` (changed by the test), judged anew."""
    with_summaries = results.model_copy(update={"summaries": summaries})
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


def test_criteria_waiting_for_a_bigger_machine_leave_a_candidate_with_no_benefit_at_do_not_migrate():
    same = {100: 200.0, 500: 300.0}
    decision = _short_of_cpu({"original": same, "optimized": same}, EVERY_STEP)
    waiting = [r for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED]
    assert waiting and {r.reason for r in waiting} == {CriterionReason.NEEDS_MORE_CPU}
    assert decision.verdict == Verdict.DO_NOT_MIGRATE
    assert codes(decision)[0] == ReasonCode.NO_BENEFIT and ReasonCode.TARGET_ELSEWHERE in codes(decision)
    # Nothing this machine could judge is missing: no criterion is left to call immaterial.
    assert not {ReasonCode.CRITERIA_NOT_JUDGED, ReasonCode.CRITERIA_IMMATERIAL} & set(codes(decision))


def test_criteria_waiting_for_a_bigger_machine_do_not_hold_a_candidate_that_shows_a_benefit():
    decision = _short_of_cpu(WIN, {("optimized", 500)})
    assert {(r.reason, r.users) for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED} == {
        (CriterionReason.NEEDS_MORE_CPU, 500)
    }
    assert decision.verdict == Verdict.MIGRATE and ReasonCode.TARGET_ELSEWHERE in codes(decision)


def test_no_benefit_where_measured_is_the_verdict_when_a_level_was_left_out_but_not_when_one_was_not_compared():
    same = {100: 200.0, 500: 300.0}
    missing = verdict_of({"original": {100: 200.0}, "optimized": {100: 200.0}}).decision
    # 500 users never ran: that level is the target-load answer's; the verdict stands on 100 users.
    assert missing.verdict == Verdict.DO_NOT_MIGRATE and codes(missing)[0] == ReasonCode.NO_BENEFIT
    assert ReasonCode.TARGET_ELSEWHERE in codes(missing)
    bound = verdict_of({"original": same, "optimized": same}, generator_cores={("optimized", 500): 0.97}).decision
    # 500 users ran but the load generator ran out: a benefit could be there, and this machine
    # can measure it (--locust-workers).
    assert bound.verdict == Verdict.INCONCLUSIVE and ReasonCode.NOT_COMPARED not in codes(missing)
    assert ReasonCode.CRITERIA_IMMATERIAL not in codes(missing) + codes(bound)


def test_one_saturated_part_is_one_piece_of_advice_naming_every_level_it_held_up():
    bound = {("optimized", 100): 0.97, ("optimized", 500): 0.97}
    decision = verdict_of(WIN, generator_cores=bound).decision
    assert decision.verdict == Verdict.INCONCLUSIVE
    advice = decision.with_code(ReasonCode.TO_DECIDE)
    assert len(advice) == 1 and BENCH_ADVICE[Component.LOAD_GENERATOR] in advice[0].text


# -- criteria this machine could judge, and could not --------------------------------------------
def _unanswered_metrics(medians, *, saturated=False):
    """optimized (which has a cache and serves /metrics) whose /metrics did not answer at any
    level, its CPUs full or with CPU to spare."""
    results, records = make_run(medians, requests=REQUESTS)
    variants = {"optimized": variant_info("optimized", parse_variant("optimized"))}
    bench = results.settings.bench.model_copy(update={"service_cpus": [1], "bench_cpus": [0]})
    settings = results.settings.model_copy(update={"variants": variants, "bench": bench})
    summaries = [
        s.model_copy(update={"has_cache": False, "cache_hit_rate": None, "service_saturated": saturated})
        if s.service == "optimized"
        else s
        for s in summarize(results.steps, records)
    ]
    return _decide_on(results.model_copy(update={"settings": settings}), records, summaries, load_criteria())


def _too_few_requests():
    results, records = make_run(WIN, requests={100: 400, 500: 150})
    return conclude(results, records, load_criteria()).decision


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (_too_few_requests, CriterionReason.LEVEL_UNUSABLE),
        (lambda: verdict_of(WIN, generator_cores={("optimized", 500): 0.97}).decision, CriterionReason.LEVEL_UNUSABLE),
        (lambda: _unanswered_metrics(WIN), CriterionReason.METRICS_UNANSWERED),
    ],
    ids=["too-few-requests", "saturated-load-generator", "metrics-unanswered-with-cpu-to-spare"],
)
def test_criteria_this_machine_could_judge_hold_a_winning_candidate_at_inconclusive(case, reason):
    decision = case()
    assert ReasonCode.SIGNIFICANTLY_BETTER not in codes(decision)  # the win is not claimed
    assert decision.verdict == Verdict.INCONCLUSIVE and ReasonCode.CRITERIA_NOT_JUDGED in codes(decision)
    assert reason in {r.reason for r in decision.criteria if r.outcome is Outcome.NOT_JUDGED}
    assert ReasonCode.TARGET_ELSEWHERE not in codes(decision)


def test_metrics_unanswered_by_a_service_whose_cpus_were_full_are_the_target_answers():
    decision = _unanswered_metrics(WIN, saturated=True)
    cache = {r.reason for r in decision.criteria if r.metric == "cache_hit_rate"}
    assert cache == {CriterionReason.NEEDS_MORE_CPU}
    assert decision.verdict == Verdict.MIGRATE and ReasonCode.TARGET_ELSEWHERE in codes(decision)


def test_criteria_this_machine_could_judge_cannot_hold_a_no_benefit_verdict_when_every_level_was_compared():
    # A criterion can only hold a migration back: with no benefit anywhere it changes nothing.
    same = {100: 200.0, 500: 300.0}
    decision = _unanswered_metrics({"original": same, "optimized": same})
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and codes(decision)[0] == ReasonCode.NO_BENEFIT
    assert ReasonCode.CRITERIA_IMMATERIAL in codes(decision) and ReasonCode.CRITERIA_NOT_JUDGED not in codes(decision)


# -- a disturbed machine ----------------------------------------------------------------------------
STEAL = CpuLoad(machine_cores=1.1, machine_cpus=2, steal_cores=0.5)  # the host took a quarter of 2 cores


def _disturbed(medians, where, **kwargs):
    """A run whose steps at ``where`` ((service, users) pairs) lost CPU to the VM's host."""
    results, records = make_run(medians, requests=REQUESTS, **kwargs)
    steps = [s.model_copy(update={"cpu_load": STEAL}) if (s.service, s.users) in where else s for s in results.steps]
    return conclude(results.model_copy(update={"steps": steps}), records, load_criteria())


@pytest.mark.parametrize(
    "where",
    [{("optimized", 500)}, {("original", 500)}, {("original", 100), ("optimized", 100)}],
    ids=lambda where: "+".join(f"{service}@{users}" for service, users in sorted(where)),  # one order on every worker
)
def test_a_disturbed_level_makes_a_winning_candidate_inconclusive_and_names_the_machine_as_the_cause(where):
    results = _disturbed(WIN, where)
    decision = results.decision
    assert decision.verdict == Verdict.INCONCLUSIVE and len(decision.with_code(ReasonCode.MACHINE_DISTURBED)) == 1
    disturbed = {(s.service, s.users) for s in results.summaries if Unusable.DISTURBED in {i.code for i in s.unusable}}
    assert disturbed == where


def test_a_disturbed_level_makes_no_benefit_inconclusive_rather_than_a_property_of_the_design():
    same = {100: 200.0, 500: 300.0}
    decision = _disturbed({"original": same, "optimized": same}, {("optimized", 500)}).decision
    assert decision.verdict == Verdict.INCONCLUSIVE and ReasonCode.MACHINE_DISTURBED in codes(decision)
    assert ReasonCode.NO_BENEFIT not in codes(decision)


@pytest.mark.parametrize(
    ("medians", "kwargs", "code"),
    [
        (WIN, {"audits": {("optimized", 100): clean_audit(400, lost=1)}}, ReasonCode.AUDIT_FAILED),
        (
            {"original": {100: 6000.0, 500: 800.0}, "optimized": {100: 3000.0, 500: 150.0}},
            {},
            ReasonCode.CRITERION_FAILED,
        ),
        (
            {"original": {100: 100.0, 500: 150.0}, "optimized": {100: 300.0, 500: 150.0}},
            {},
            ReasonCode.SIGNIFICANTLY_WORSE,
        ),
    ],
    ids=["a-audit", "b-criterion", "c-worse"],
)
def test_rules_a_to_c_decide_on_usable_data_even_when_another_level_was_disturbed(medians, kwargs, code):
    decision = _disturbed(medians, {("optimized", 500)}, **kwargs).decision
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and codes(decision)[0] == code
    assert ReasonCode.MACHINE_DISTURBED not in codes(decision)


# -- knife edges --------------------------------------------------------------------------------------
def _ratio(users, metric, value, low, high, significant=True):
    return Ratio(
        users=users, metric=metric, value=Estimate(value=value, ci_low=low, ci_high=high), significant=significant
    )


def _decide_with(results, *given):
    """The verdict on ``results`` (both levels usable, every criterion passed) with these ratios."""
    return decide(results, results.criteria, list(given), candidate="optimized", baseline="original")


FAR_WIN = _ratio(100, "p95_ms", 0.5, 0.45, 0.55)
EDGE_WIN = _ratio(500, "p95_ms", 0.85, 0.80, 0.93)  # its interval reaches 0.9
FLAT = _ratio(500, "throughput_rps", 1.0, 0.97, 1.03, significant=False)


@pytest.mark.parametrize(
    ("given", "edge"),
    [((EDGE_WIN, FLAT), True), ((FAR_WIN, FLAT), False), ((FAR_WIN, EDGE_WIN), False)],
    ids=["every-win-at-the-edge", "a-clear-win", "one-clear-win-of-two"],
)
def test_a_migrate_whose_every_deciding_interval_reaches_the_margin_is_a_knife_edge(clear_win, given, edge):
    decision = _decide_with(clear_win, *given)
    assert decision.verdict == Verdict.MIGRATE
    assert codes(decision).count(ReasonCode.KNIFE_EDGE) == int(edge)


@pytest.mark.parametrize(("high", "edge"), [(0.92, True), (0.85, False)])
def test_a_significant_loss_whose_interval_reaches_the_margin_is_a_knife_edge(clear_win, high, edge):
    loss = _ratio(500, "throughput_rps", 0.80, 0.70, high)  # the checklist's 0.80x at 250 users
    decision = _decide_with(clear_win, loss)
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and codes(decision)[0] == ReasonCode.SIGNIFICANTLY_WORSE
    assert codes(decision).count(ReasonCode.KNIFE_EDGE) == int(edge)


@pytest.mark.parametrize(("low", "edge"), [(0.85, True), (0.92, False)])
def test_no_benefit_with_an_interval_reaching_past_the_margin_towards_one_is_a_knife_edge(clear_win, low, edge):
    near = _ratio(100, "p95_ms", 0.96, low, 1.05, significant=False)
    decision = _decide_with(clear_win, near, FLAT)
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and codes(decision)[0] == ReasonCode.NO_BENEFIT
    assert codes(decision).count(ReasonCode.KNIFE_EDGE) == int(edge)


@pytest.mark.parametrize(
    ("component", "edge"), [(Component.BENCH_CPUS, True), (Component.MACHINE, True), (Component.DATABASE, False)]
)
def test_no_benefit_beside_a_level_the_bench_guard_set_aside_is_a_knife_edge(clear_win, component, edge):
    issue = UsabilityIssue(code=Unusable.BENCH_BOUND, component=component, detail="bench-bound")
    summaries = [
        s.model_copy(update={"unusable": [issue], "bound_by": [component]})
        if (s.service, s.users) == ("optimized", 500)
        else s
        for s in clear_win.summaries
    ]
    set_aside = clear_win.model_copy(update={"summaries": summaries})
    judged = evaluate(load_criteria(), set_aside)
    flat = _ratio(100, "p95_ms", 1.0, 0.97, 1.03, significant=False)  # no benefit, none within reach
    decision = decide(set_aside, judged, [flat], candidate="optimized", baseline="original")
    # The machine was too small for 500 users: the verdict stands on 100 users.
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and ReasonCode.NOT_COMPARED in codes(decision)
    assert codes(decision).count(ReasonCode.KNIFE_EDGE) == int(edge)


# -- CPU per request is compared only where the services had CPUs of their own ------------------
def _cpu_run(pinned: bool):
    """Same latencies, the candidate burning 1.3x the CPU per request; each step's CPU load says
    whether the services ran on CPUs of their own."""
    medians = {"original": {100: 100.0}, "optimized": {100: 100.0}}
    results, records = make_run(medians, requests=REQUESTS, service_cores={"original": 0.5, "optimized": 0.65})
    load = CpuLoad(machine_cores=1.0, machine_cpus=2, service_cpus=[1] if pinned else [], bench_cpus=[0])
    steps = [s.model_copy(update={"cpu_load": load}) for s in results.steps]
    return conclude(results.model_copy(update={"steps": steps}), records, load_criteria())


def test_thirty_percent_more_cpu_on_cpus_of_its_own_does_not_migrate():
    decision = _cpu_run(pinned=True).decision
    (cpu,) = [r for r in decision.ratios if r.metric == "service_cpu_ms_per_request"]
    assert cpu.is_evidence and not cpu.cpus_shared and cpu.value.value == pytest.approx(1.3)
    assert decision.verdict == Verdict.DO_NOT_MIGRATE and ReasonCode.SIGNIFICANTLY_WORSE in codes(decision)


def test_cpu_per_request_on_cpus_shared_with_the_bench_is_set_aside():
    decision = _cpu_run(pinned=False).decision
    (cpu,) = [r for r in decision.ratios if r.metric == "service_cpu_ms_per_request"]
    assert cpu.cpus_shared and cpu.placement_cost and not cpu.is_evidence and not cpu.queue_latency
    assert ReasonCode.SIGNIFICANTLY_WORSE not in codes(decision)
    assert any("shared CPUs with the bench" in r.text for r in decision.reasons)
