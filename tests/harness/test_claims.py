"""The checklist's promises checked on constructed runs (no server): each held, not held, or
not judgeable, by its code, with the figure and interval it rests on; and the cost figures."""

from __future__ import annotations

import pytest

from harness.analysis import conclude, load_criteria
from harness.analysis.claims import check_claims, cost_figures, repriced
from tests.harness.test_figures import make_run

REQUESTS = {100: 400, 500: 5500}
# The original answers ten times slower at 100 users and 25 times at 500; its CPU per request is
# ten times the candidate's (0.5 cores against 0.05 cores for the same requests).
RUN = {"original": {100: 1000.0, 500: 2500.0}, "optimized": {100: 100.0, 500: 100.0}}


@pytest.fixture(scope="module")
def concluded():
    results, records = make_run(RUN, requests=REQUESTS, service_cores={"original": 0.5, "optimized": 0.05})
    return conclude(results, records, load_criteria()), records


def claims_of(concluded):
    return {claim.code: claim for claim in concluded[0].claims}


def test_every_claim_is_checked_for_every_candidate(concluded):
    claims = concluded[0].claims
    assert {c.code for c in claims} == {"throughput_50x", "faster_5x", "success_999", "concurrent_500", "cost_76"}
    assert {(c.candidate, c.baseline) for c in claims} == {("optimized", "original")}


def test_faster_response_times_hold_when_every_level_shows_them(concluded):
    faster = claims_of(concluded)["faster_5x"]
    assert faster.outcome == "held" and faster.measured.ci_low >= 5 and faster.level == "100 users"


def test_the_same_requests_answered_are_not_50x_the_throughput(concluded):
    throughput = claims_of(concluded)["throughput_50x"]
    assert throughput.outcome == "not_held" and throughput.measured.ci_high < 50 and throughput.level == "500 users"


def test_a_90_percent_cpu_reduction_holds_the_76_percent_promise(concluded):
    cost = claims_of(concluded)["cost_76"]
    assert cost.outcome == "held" and cost.measured.value == pytest.approx(0.9, abs=0.01)
    assert cost.measured.ci_low >= 0.76


def test_success_needs_enough_requests_to_show_99_9_percent(concluded):
    success = claims_of(concluded)["success_999"]
    assert success.measured.value == 1.0 and success.outcome == "cannot_judge"  # 400 requests cannot show it
    assert success.measured.ci_low < 0.999


def test_500_users_held_when_the_checklist_s_own_test_passes_there(concluded):
    concurrent = claims_of(concluded)["concurrent_500"]
    assert concurrent.outcome == "held" and concurrent.measured.value == 500


def test_a_candidate_that_fails_the_load_test_below_500_users_does_not_handle_500():
    results, records = make_run({"original": {100: 3000.0}, "optimized": {100: 2500.0}}, requests={100: 400})
    concurrent = next(c for c in conclude(results, records, load_criteria()).claims if c.code == "concurrent_500")
    assert concurrent.outcome == "not_held" and concurrent.measured.value == 0


def test_a_run_that_never_reached_500_users_cannot_judge_it():
    results, records = make_run({"original": {100: 1000.0}, "optimized": {100: 100.0}}, requests={100: 400})
    concurrent = next(c for c in conclude(results, records, load_criteria()).claims if c.code == "concurrent_500")
    assert concurrent.outcome == "cannot_judge" and concurrent.measured.value == 100


def test_costs_per_thousand_requests_and_per_million_at_the_price(concluded):
    results, records = concluded
    costs = {(c.service, c.users): c for c in cost_figures(results, records)}
    original = costs[("original", 500)]
    assert original.service_cpu_s_per_1000.value == pytest.approx(0.5 * 10 * 1000 / 5500)
    assert original.service_cpu_s_per_1000.ci_low < original.service_cpu_s_per_1000.value
    assert original.usd_per_million.value == pytest.approx(
        original.service_cpu_s_per_1000.value * 1000 / 3600 * results.settings.price_per_vcpu_hour
    )
    assert check_claims(results, records) == results.claims  # what conclude stored


def test_costs_at_another_price_keep_the_cpu_and_scale_the_money(concluded):
    results, _ = concluded
    cheaper = repriced(results, 0.024)
    assert cheaper.settings.price_per_vcpu_hour == 0.024
    for before, after in zip(results.costs, cheaper.costs, strict=True):
        assert after.service_cpu_s_per_1000 == before.service_cpu_s_per_1000
        assert after.usd_per_million.value == pytest.approx(before.usd_per_million.value / 2)
        assert after.usd_per_million.ci_high == pytest.approx(before.usd_per_million.ci_high / 2)
