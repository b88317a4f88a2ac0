"""The CI gate on constructed runs (fixed seeds, no server): exit codes, regressions against a
baseline, JUnit XML and Markdown, and the `harness gate` command's handling of its inputs."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

from harness.analysis import SIGNIFICANCE_LEVEL, conclude, evaluate, summarize
from harness.analysis.criteria import load_criteria
from harness.cli import build_parser, main
from harness.gate import (
    DEFAULT_ALPHA,
    DEFAULT_MAX_REGRESSION,
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    compare_runs,
    judge_run,
    junit_xml,
    print_gate,
    render_markdown,
)
from harness.gate.checks import GateCheck
from harness.gate.checks import _criterion_check as criteria_check
from harness.gate.junit import ANSWERS_SUITE
from harness.gate.markdown import HEADLINE_ROWS
from harness.gate.result import GateResult
from harness.metrics import GATED_METRICS, PRACTICAL_MARGIN, practical_margin
from harness.report.answers import answers as report_answers
from harness.results import CriterionResult, Results, StepResult, UsabilityIssue, VariantInfo, save_results
from harness.terms import (
    TARGET_REASONS,
    Component,
    CriterionReason,
    Unusable,
    Verdict,
)
from harness.terms import Outcome as CriterionOutcome
from tests.harness.test_figures import clean_audit, make_run

CI_CRITERIA = Path(__file__).resolve().parents[2] / "harness" / "criteria-ci.toml"
REQUESTS = {100: 400, 500: 600}
WIN = {"original": {100: 400.0, 500: 800.0}, "optimized": {100: 100.0, 500: 150.0}}
# The services' CPU in cores: optimized does a quarter of the original's work per request.
CORES = {"original": 0.8, "checklist": 0.9, "optimized": 0.2, "echo": 0.05}


def scaled(medians: dict[str, dict[int, float]], factor: float, service: str | None = "optimized"):
    """``medians`` with ``service``'s (None: every service's) latencies times ``factor``."""
    return {
        s: {u: m * (factor if service in (None, s) else 1) for u, m in levels.items()} for s, levels in medians.items()
    }


def run_of(
    medians=WIN,
    *,
    run_id: str = "current",
    seed: int = 1,
    requests=REQUESTS,
    criteria=None,
    operations: dict[str, float] | None = None,
    **kwargs,
):
    """A concluded run; ``operations``: each named service's database operations times a factor."""
    kwargs.setdefault("service_cores", CORES)
    results, records = make_run(medians, requests=requests, seed=seed, **kwargs)
    if operations:
        steps = [_more_operations(step, operations.get(step.service, 1.0)) for step in results.steps]
        results = results.model_copy(update={"steps": steps})
    results = results.model_copy(update={"run_id": run_id})
    return conclude(results, records, criteria or load_criteria(CI_CRITERIA)), records


def _more_operations(step: StepResult, factor: float) -> StepResult:
    database = step.database
    if factor == 1.0 or database is None:
        return step
    operations = round(database.operations * factor)
    more = database.model_copy(update={"operations": operations, "operations_per_request": operations / step.requests})
    return step.model_copy(update={"database": more})


def saturated(run: tuple[Results, pd.DataFrame], *services: str) -> tuple[Results, pd.DataFrame]:
    """``run`` with ``services`` having filled their own CPUs at every level (a pinned run's flag)."""
    results, records = run
    summaries = [s.model_copy(update={"service_saturated": s.service in services}) for s in results.summaries]
    return results.model_copy(update={"summaries": summaries}), records


@pytest.fixture(scope="module")
def ci_criteria():
    return load_criteria(CI_CRITERIA)


@pytest.fixture(scope="module")
def baseline():
    return run_of(run_id="baseline", seed=1)


def save_run(directory: Path, results: Results, records: pd.DataFrame | None) -> Path:
    save_results(results, directory)
    if records is not None:
        records.to_parquet(directory / "requests.parquet")
    return directory


# -- the shipped CI criteria --------------------------------------------------------------------
def test_ci_criteria_are_relative_and_guard_the_shipped_service(ci_criteria):
    relative = {(r.metric, r.service, r.baseline, r.op, r.factor) for r in ci_criteria.relative}
    assert ("p95_ms", "optimized", "original", "<=", 0.5) in relative
    assert all(c.services == ["optimized"] for c in ci_criteria.absolute)
    assert all(c.at_users is None for c in ci_criteria.absolute)  # no level a CI run may not have


# -- exit codes on criteria ---------------------------------------------------------------------
def test_a_clear_win_passes(ci_criteria):
    results, records = run_of()
    gate = judge_run(results, ci_criteria, records=records)
    assert (gate.status, gate.exit_code) == ("PASS", EXIT_PASS)
    relative = [c for c in gate.checks if c.name == "optimized p95 at most half the original's"]
    assert {c.load for c in relative} == {"100 users", "500 users"}
    assert all(c.result == "PASS" and c.threshold == "<= 0.5 x original" for c in relative)
    assert all("[" in c.value for c in relative)  # the ratio's bootstrap interval is shown
    assert not gate.reasons


def test_a_failed_criterion_fails_and_says_why(ci_criteria):
    results, records = run_of({"original": {100: 400.0, 500: 800.0}, "optimized": {100: 300.0, 500: 600.0}})
    gate = judge_run(results, ci_criteria, records=records)
    assert (gate.status, gate.exit_code) == ("FAIL", EXIT_FAIL)
    failed = gate.with_outcome("fail")
    assert {(c.name, c.load) for c in failed} == {
        ("optimized p95 at most half the original's", "100 users"),
        ("optimized p95 at most half the original's", "500 users"),
    }
    assert any("fails <= 0.5" in reason for reason in gate.reasons)


def test_a_criterion_that_cannot_be_judged_is_inconclusive(ci_criteria):
    # The load generator saturated at 500 users: that level measured the bench, not the service.
    results, records = run_of(generator_cores={("optimized", 500): 0.97})
    gate = judge_run(results, ci_criteria, records=records)
    assert (gate.status, gate.exit_code) == ("INCONCLUSIVE", EXIT_INCONCLUSIVE)
    held = gate.with_outcome("not judged")
    assert held and all(c.load == "500 users" and c.result == "NOT JUDGED" for c in held)
    assert any("bench-bound by load generator" in reason for reason in gate.reasons)
    # The level's problem holds up each of its checks: named once, with every check it held up.
    assert len(held) > 1 and {c.cause for c in held} == {CriterionReason.LEVEL_UNUSABLE}
    names = ", ".join(f"'{c.name}'" for c in held)
    assert [r for r in gate.reasons if "bench-bound" in r] == [
        f"{len(held)} checks of optimized at 500 users ({names}): {held[0].detail}"
    ]


def test_only_an_unusable_level_gathers_the_checks_it_held_up():
    def held(name: str, cause: CriterionReason) -> GateCheck:
        row = ("criteria", name, "optimized", "50 users", "-", "-", "NOT JUDGED", "not judged", "alike")
        return GateCheck(*row, cause=cause)

    level = [held(name, CriterionReason.LEVEL_UNUSABLE) for name in ("a", "b")]
    apart = [held(name, CriterionReason.NOT_MEASURED) for name in ("c", "d")]  # worded alike, each its own
    assert GateResult("run", "criteria.toml", (*level, *apart)).reasons == [
        "2 checks of optimized at 50 users ('a', 'b'): alike",
        "'c' (optimized at 50 users): alike",
        "'d' (optimized at 50 users): alike",
    ]


def test_not_applicable_criteria_never_hold_the_gate_up():
    # The default criteria's cache criterion on the original (no cache) and its soak criterion.
    results, records = run_of(requests={100: 400, 500: 5500})
    gate = judge_run(results, load_criteria(), records=records)
    skipped = gate.with_outcome("skipped")
    assert {"cache hit rate above 90 %", "no memory growth"} <= {c.name for c in skipped}
    assert all(c.result == "N/A" for c in skipped)


def test_a_failure_outranks_an_inconclusive_check(ci_criteria):
    results, records = run_of(
        {"original": {100: 400.0, 500: 800.0}, "optimized": {100: 300.0, 500: 150.0}},
        generator_cores={("optimized", 500): 0.97},
    )
    gate = judge_run(results, ci_criteria, records=records)
    assert gate.with_outcome("not judged") and gate.exit_code == EXIT_FAIL


def test_a_lost_reply_fails_the_gate(ci_criteria):
    results, records = run_of(audits={("optimized", 100): clean_audit(400, lost=2)})
    gate = judge_run(results, ci_criteria, records=records)
    assert gate.exit_code == EXIT_FAIL
    [audit] = [c for c in gate.checks if c.suite == "audit" and c.outcome == "fail"]
    assert (audit.service, audit.load, audit.value) == ("optimized", "100 users", "2 lost")


def test_an_incomplete_run_cannot_pass(ci_criteria):
    results, records = run_of()
    stopped = results.model_copy(update={"complete": False, "incomplete_reason": "interrupted (Ctrl-C)"})
    gate = judge_run(stopped, ci_criteria, records=records)
    assert gate.exit_code == EXIT_INCONCLUSIVE
    assert any("interrupted (Ctrl-C)" in reason for reason in gate.reasons)


def test_a_threshold_inside_the_interval_is_called_marginal(ci_criteria):
    # optimized p99 around 5 s: the sanity ceiling is inside the p99's interval.
    results, records = run_of(
        {"original": {100: 12000.0, 500: 14000.0}, "optimized": {100: 2500.0, 500: 100.0}}, sigma=0.3
    )
    gate = judge_run(results, ci_criteria, records=records)
    [ceiling] = [c for c in gate.checks if c.name.startswith("p99 under 5 s") and c.load == "100 users"]
    assert "inside the 95% CI" in ceiling.detail


# -- regressions against a baseline -------------------------------------------------------------
def regressions_of(gate):
    return {(c.service, c.load, c.name): c for c in gate.checks if c.suite == "regression"}


def test_a_rerun_of_the_same_services_is_no_regression(ci_criteria, baseline):
    current, records = run_of(seed=2)  # same distributions, other draws
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    checks = regressions_of(gate)
    assert len(checks) == 2 * 2 * len(GATED_METRICS)  # services x levels x (p95, p99, throughput, 2 costs)
    assert all(c.outcome == "pass" and c.result == "NO CHANGE" for c in checks.values())
    assert gate.exit_code == EXIT_PASS and gate.baseline_run_id == "baseline"


def test_a_significantly_slower_service_is_a_regression(ci_criteria, baseline):
    current, records = run_of(scaled(WIN, 1.3), seed=2)
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    assert gate.exit_code == EXIT_FAIL
    p95 = regressions_of(gate)[("optimized", "500 users", "p95 latency vs baseline")]
    assert (p95.result, p95.outcome) == ("REGRESSION", "fail")
    assert "Mann-Whitney p" in p95.detail and "(allowed 10%)" in p95.detail
    original = [c for (service, _, _), c in regressions_of(gate).items() if service == "original"]
    assert all(c.result == "NO CHANGE" for c in original)


def test_a_faster_service_is_reported_as_an_improvement(ci_criteria, baseline):
    current, records = run_of(scaled(WIN, 0.7), seed=2)
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    p95 = regressions_of(gate)[("optimized", "100 users", "p95 latency vs baseline")]
    assert (p95.result, p95.outcome) == ("IMPROVED", "pass")
    assert gate.exit_code == EXIT_PASS


def test_a_slower_but_noisy_small_sample_is_not_flagged():
    # 30 % slower medians, but 12 requests a side: large enough a change, too few to show it.
    small = {100: 12, 500: 12}
    before, before_records = make_run(WIN, requests=small, seed=1)
    now, now_records = make_run(scaled(WIN, 1.3), requests=small, seed=2)
    before = before.model_copy(update={"summaries": summarize(before.steps, before_records, min_requests=10)})
    now = now.model_copy(update={"summaries": summarize(now.steps, now_records, min_requests=10)})
    found = compare_runs(now, before, now_records, before_records)
    p95 = [r for r in found if (r.service, r.metric) == ("optimized", "p95_ms")]
    assert p95 and all(r.change > 0.10 for r in p95)  # beyond the factor ...
    assert all(r.p_value >= 0.01 for r in p95)  # ... but not significant
    assert all(r.verdict == "no change" and r.suspect for r in p95)
    assert not any(r.verdict == "regression" for r in found)


def test_a_suspected_regression_at_an_unusable_level_is_not_judged(ci_criteria):
    small = {100: 60, 500: 60}  # below the 200 requests a level needs to be usable
    before, before_records = run_of(requests=small, seed=1)
    now, now_records = run_of(scaled(WIN, 2.0), requests=small, seed=2)
    gate = judge_run(now, ci_criteria, records=now_records, baseline=before, baseline_records=before_records)
    p95 = regressions_of(gate)[("optimized", "500 users", "p95 latency vs baseline")]
    assert (p95.result, p95.outcome) == ("NOT JUDGED", "not judged")
    assert "cannot be confirmed" in p95.detail
    assert gate.exit_code == EXIT_INCONCLUSIVE


def test_without_records_the_intervals_decide_and_the_gate_says_so(ci_criteria, baseline):
    # Non-overlapping intervals are a blunter test than Mann-Whitney: a larger change shows.
    current, _ = run_of(scaled(WIN, 1.6), seed=2)
    gate = judge_run(current, ci_criteria, records=None, baseline=baseline[0], baseline_records=baseline[1])
    p95 = regressions_of(gate)[("optimized", "500 users", "p95 latency vs baseline")]
    assert p95.result == "REGRESSION" and "no per-request records" in p95.detail
    assert any("current has no per-request records" in note for note in gate.notes)


def test_the_echo_app_describes_the_machine_and_never_fails(ci_criteria):
    with_echo = {**WIN, "echo": {100: 5.0, 500: 6.0}}
    before, before_records = run_of(with_echo, run_id="baseline", seed=1)
    now, now_records = run_of({**WIN, "echo": {100: 10.0, 500: 12.0}}, seed=2)
    gate = judge_run(now, ci_criteria, records=now_records, baseline=before, baseline_records=before_records)
    echo = [c for (service, _, _), c in regressions_of(gate).items() if service == "echo"]
    assert any(c.result == "REGRESSION (machine)" and c.outcome == "skipped" for c in echo)
    assert any("the machine, not the code" in note for note in gate.notes)
    assert gate.exit_code == EXIT_PASS


def test_differing_settings_are_noted(ci_criteria, baseline):
    current, records = run_of(seed=2)
    bench = current.settings.bench.model_copy(update={"llm_latency_ms": 400.0})
    current = current.model_copy(update={"settings": current.settings.model_copy(update={"bench": bench})})
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    assert any("settings.bench.llm_latency_ms: 400.0 here, 40.0 in the baseline" in note for note in gate.notes)


# -- a short CI run, as the workflow runs it: 50 and 100 users --------------------------------------
SHORT = {
    "original": {50: 400.0, 100: 700.0},
    "checklist": {50: 380.0, 100: 650.0},
    "optimized": {50: 90.0, 100: 100.0},
}
SHORT_REQUESTS = {50: 400, 100: 400}
QUEUED = ("original", "checklist")  # the designs that fill their CPUs at 50 and 100 users


def short_run(factors: dict[str, float] | None = None, *, services=tuple(SHORT), **kwargs):
    """A `compare --users 50,100` (or, with one service, a `run`) with each service's latencies
    times ``factors[service]``. The same seed draws the same requests, so unchanged services
    have identical figures."""
    factors = factors or {}
    medians = {s: {u: m * factors.get(s, 1.0) for u, m in SHORT[s].items()} for s in services}
    return run_of(medians, requests=SHORT_REQUESTS, **kwargs)


def by_metric(gate, metric_label: str) -> dict[tuple[str, str], object]:
    return {(c.service, c.load): c for c in gate.checks if c.name == f"{metric_label} vs baseline"}


@pytest.mark.parametrize("services", [tuple(SHORT), ("optimized",)], ids=["compare", "run --variant optimized"])
def test_a_short_ci_run_judges_every_ci_criterion(ci_criteria, services):
    results, records = short_run(services=services)
    judged = evaluate(ci_criteria, results)
    assert judged and [r for r in judged if r.outcome is CriterionOutcome.NOT_JUDGED] == []
    relative = [r for r in judged if r.baseline is not None]
    if "original" in services:  # judged at both levels, where both services ran
        assert {(r.criterion, r.users) for r in relative} == {
            (c.name, u) for c in ci_criteria.relative for u in (50, 100)
        }
        assert all(r.outcome is CriterionOutcome.PASS for r in relative)
    else:  # no original in the run: not applicable, never inconclusive
        assert relative and all(r.outcome is CriterionOutcome.NOT_APPLICABLE for r in relative)
    absolute = [r for r in judged if r.baseline is None]
    assert {r.users for r in absolute} == {50, 100} and all(r.outcome is CriterionOutcome.PASS for r in absolute)
    assert judge_run(results, ci_criteria, records=records).exit_code == EXIT_PASS


def test_unchanged_code_passes_though_its_saturated_services_queued_20_percent_longer(ci_criteria):
    # Identical figures, except that the services that filled their CPUs at both levels came out
    # 20 % slower: the queue the load builds on a runner a little slower today, not the code.
    before = saturated(short_run(run_id="baseline"), *QUEUED)
    now = saturated(short_run(dict.fromkeys(QUEUED, 1.2)), *QUEUED)
    gate = judge_run(now[0], ci_criteria, records=now[1], baseline=before[0], baseline_records=before[1])
    assert (gate.status, gate.exit_code) == ("PASS", EXIT_PASS)
    for label in ("p95 latency", "p99 latency"):
        checks = by_metric(gate, label)
        aside = [c for (service, _), c in checks.items() if service in QUEUED]
        assert len(aside) == 4 and all((c.result, c.outcome) == ("N/A (saturated)", "skipped") for c in aside)
        assert all("+20.0%" in c.detail and "the queue the load builds" in c.detail for c in aside)
        assert all(c.result == "NO CHANGE" for (service, _), c in checks.items() if service == "optimized")
    # Throughput and cost are still judged there, and found unchanged.
    for label in ("throughput", "CPU per request", "database operations per request"):
        assert {c.result for c in by_metric(gate, label).values()} == {"NO CHANGE"}
    assert any("latency set aside where the service filled its CPUs (checklist at 50 users" in n for n in gate.notes)


def test_the_same_shift_where_the_service_had_cpu_to_spare_fails_on_trials(ci_criteria):
    # The 20 % of the test above at levels the services did not fill their CPUs, measured in 3
    # trials a level: the trials vary with the runner, so they can show it, and they do.
    before = short_run(run_id="baseline", trials=3)
    now = short_run(dict.fromkeys(QUEUED, 1.2), trials=3)
    gate = judge_run(now[0], ci_criteria, records=now[1], baseline=before[0], baseline_records=before[1])
    assert gate.exit_code == EXIT_FAIL
    p95 = by_metric(gate, "p95 latency")
    assert all(p95[(service, load)].result == "REGRESSION" for service in QUEUED for load in ("50 users", "100 users"))
    assert all("over the trials' figures" in p95[(service, "50 users")].detail for service in QUEUED)
    assert p95[("optimized", "50 users")].result == "NO CHANGE"
    assert any("compared on the trials' figures" in note for note in gate.notes)


def test_across_runs_on_requests_a_modest_latency_rise_is_advisory(ci_criteria):
    # One trial a level: the intervals rest on one run's requests. 15 % is past the margin and
    # "significant", but within what two runs of unchanged code can differ by: advisory.
    before = short_run(run_id="baseline")
    now = short_run({"optimized": 1.15})
    gate = judge_run(now[0], ci_criteria, records=now[1], baseline=before[0], baseline_records=before[1])
    assert (gate.status, gate.exit_code) == ("PASS", EXIT_PASS)
    p95 = by_metric(gate, "p95 latency")[("optimized", "100 users")]
    assert (p95.result, p95.outcome) == ("ADVISORY", "advisory")
    assert "Mann-Whitney p" in p95.detail and "only a rise beyond 20% fails" in p95.detail
    assert p95.threshold == "<= 1.1 x (advisory to 1.2 x)"
    assert any("rests on requests" in note and "--trials 3" in note for note in gate.notes)
    assert "ADVISORY" in render_markdown(gate)
    # 30 %: beyond the wider margin, it fails.
    slower = short_run({"optimized": 1.3})
    gate = judge_run(slower[0], ci_criteria, records=slower[1], baseline=before[0], baseline_records=before[1])
    assert gate.exit_code == EXIT_FAIL
    assert by_metric(gate, "p95 latency")[("optimized", "100 users")].result == "REGRESSION"


def test_thirty_percent_more_cpu_per_request_fails_and_names_the_service(ci_criteria):
    before = short_run(run_id="baseline")
    now = short_run(service_cores={**CORES, "optimized": CORES["optimized"] * 1.3})  # the latencies are unchanged
    gate = judge_run(now[0], ci_criteria, records=now[1], baseline=before[0], baseline_records=before[1])
    assert gate.exit_code == EXIT_FAIL
    failed = gate.with_outcome("fail")
    assert {(c.name, c.service) for c in failed} == {("CPU per request vs baseline", "optimized")}
    assert {c.load for c in failed} == {"50 users", "100 users"}
    cpu = [r for r in compare_runs(now[0], before[0], now[1], before[1]) if r.metric == "service_cpu_ms_per_request"]
    worse = [r for r in cpu if r.service == "optimized"]
    assert all(r.ratio.value == pytest.approx(1.3) for r in worse)
    # Past CPU per request's own margin (20 %), and its interval clear of no change.
    assert all(r.verdict == "regression" and r.margin == practical_margin(r.metric) == 0.2 for r in worse)
    assert all(r.ratio.ci_low > 1 + PRACTICAL_MARGIN for r in worse)
    assert all(r.verdict == "no change" for r in cpu if r.service != "optimized")
    assert any(reason.startswith("'CPU per request vs baseline' (optimized at 50 users)") for reason in gate.reasons)
    assert "ms/request" in failed[0].detail


def test_more_database_operations_per_request_fail_where_the_database_counts_them(ci_criteria):
    before = short_run(run_id="baseline")
    now = short_run(operations={"optimized": 1.3})
    gate = judge_run(now[0], ci_criteria, records=now[1], baseline=before[0], baseline_records=before[1])
    assert gate.exit_code == EXIT_FAIL
    operations = by_metric(gate, "database operations per request")
    assert {(s, c.result) for (s, _), c in operations.items()} == {
        ("optimized", "REGRESSION"),
        ("original", "NO CHANGE"),
        ("checklist", "NO CHANGE"),
    }
    assert "Poisson" in operations[("optimized", "50 users")].detail


def test_a_criterion_only_the_target_load_can_judge_never_makes_the_gate_inconclusive():
    # The default criteria's "500 rps at 500 users" on a run of 50 and 100 users.
    results, records = short_run(criteria=load_criteria())
    assert any(r.reason is CriterionReason.TARGET_NOT_RUN for r in results.criteria)
    gate = judge_run(results, load_criteria(), records=records)
    target = gate.with_outcome("target")
    assert {(c.name, c.result) for c in target} == {("500 rps at 500 users", "TARGET LOAD")}
    assert {c.service for c in target} == set(SHORT)
    assert all(c.detail.startswith("not judged here: the target-load answer has it (") for c in target)
    assert (gate.status, gate.exit_code) == ("PASS", EXIT_PASS) and not gate.with_outcome("not judged")
    assert "target load (not judged on this machine)" in render_markdown(gate)


@pytest.mark.parametrize("reason", sorted(TARGET_REASONS))
def test_every_target_reason_goes_to_the_target_load_answer(reason):
    results, _ = short_run()
    judged = CriterionResult(
        criterion="p95 under 2 s",
        service="optimized",
        users=500,
        metric="p95_ms",
        op="<",
        threshold=2000,
        value=None,
        outcome=CriterionOutcome.NOT_JUDGED,
        reason=reason,
        detail="500 users need more machine",
    )
    check = criteria_check(judged, results)
    assert (check.outcome, check.result) == ("target", "TARGET LOAD")
    unusable = judged.model_copy(update={"reason": CriterionReason.LEVEL_UNUSABLE})
    assert criteria_check(unusable, results).outcome == "not judged"  # this machine should have judged it


def test_the_gate_shows_each_candidates_verdict_and_target_load(ci_criteria):
    results, records = short_run()
    gate = judge_run(results, ci_criteria, records=records)
    assert [a.service for a in gate.answers] == results.settings.candidates == ["checklist", "optimized"]
    for answer in gate.answers:
        decision, target = results.decision_for(answer.service), results.target_for(answer.service)
        assert answer.verdict is decision.verdict and answer.codes == tuple(r.code for r in decision.reasons)
        assert (answer.target, answer.basis) == (target.status, target.basis)
        assert answer.line.startswith(f"{answer.service}: {decision.verdict.value} (")
        assert answer.line.endswith(f" workers ({target.basis})") and "500 users need ~" in answer.line
    optimized = gate.answers[1]
    assert optimized.verdict is Verdict.MIGRATE and "x p95 at 100 users" in optimized.line
    markdown = render_markdown(gate)
    assert all(f"- {a.line}" in markdown for a in gate.answers)
    console = Console(record=True, width=400)
    print_gate(gate, console)
    printed = console.export_text()
    assert all(a.line in printed for a in gate.answers)
    assert printed.index(gate.answers[0].line) < printed.index("harness gate current")  # before the table


def test_the_gates_answer_lines_are_the_reports_headlines(ci_criteria):
    results, records = short_run()
    lines = [a.line for a in judge_run(results, ci_criteria, records=records).answers]
    assert lines == [answer.headline for answer in report_answers(results)]
    assert {d.verdict for d in results.decisions} == {Verdict.MIGRATE, Verdict.DO_NOT_MIGRATE}


def test_a_run_without_a_verdict_shows_each_services_target_load(ci_criteria):
    results, records = short_run(services=("optimized",))
    (answer,) = judge_run(results, ci_criteria, records=records).answers
    assert answer.verdict is None and answer.line.startswith("optimized: no verdict")
    assert answer.target is results.target_for("optimized").status


def test_the_gate_has_no_margin_of_its_own():
    # None: each metric's own margin, the one the verdict uses; CPU per request has the wider one.
    assert (DEFAULT_MAX_REGRESSION, DEFAULT_ALPHA) == (None, SIGNIFICANCE_LEVEL)
    assert practical_margin("p95_ms") == practical_margin("throughput_rps") == PRACTICAL_MARGIN
    assert practical_margin("service_cpu_ms_per_request") == 2 * PRACTICAL_MARGIN


def test_a_cost_rise_inside_its_wider_margin_passes(ci_criteria):
    # 15 %: past the latency margin, inside CPU per request's own, so no failure and no "not judged".
    before = short_run(run_id="baseline")
    now = short_run(service_cores={**CORES, "optimized": CORES["optimized"] * 1.15})
    cpu = [r for r in compare_runs(now[0], before[0], now[1], before[1]) if r.metric == "service_cpu_ms_per_request"]
    assert cpu and all(r.verdict != "regression" and r.margin == 0.2 for r in cpu)
    tight = compare_runs(now[0], before[0], now[1], before[1], max_regression=0.1)
    assert any(r.verdict == "regression" for r in tight if r.metric == "service_cpu_ms_per_request")


# -- JUnit and Markdown -------------------------------------------------------------------------
def test_junit_has_one_case_per_check_and_marks_failures_and_skips(ci_criteria, baseline):
    current, records = run_of(scaled(WIN, 1.3), seed=2, generator_cores={("original", 100): 0.97})
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    root = ET.fromstring(junit_xml(gate).encode())
    assert root.tag == "testsuites"
    answers = root.findall(f"./testsuite[@name='{ANSWERS_SUITE}']/testcase")
    assert [case.find("system-out").text for case in answers] == [a.line for a in gate.answers] != []
    assert all(case.find("failure") is None and case.find("skipped") is None for case in answers)
    cases = [c for c in root.findall("./testsuite/testcase") if c not in answers]
    assert len(cases) == len(gate.checks) == int(root.get("tests")) - len(answers)
    assert (
        len(root.findall("./testsuite/testcase/failure")) == len(gate.with_outcome("fail")) == int(root.get("failures"))
    )
    skipped = root.findall("./testsuite/testcase/skipped")
    assert len(skipped) == sum(len(gate.with_outcome(o)) for o in ("not judged", "target", "skipped"))
    assert all(s.get("message") for s in skipped)
    names = {c.get("name") for c in cases}
    assert "optimized p95 at most half the original's [optimized @ 500 users]" in names
    assert "p95 latency vs baseline [optimized @ 500 users]" in names
    assert len(names) == len(cases)  # every case distinguishable in a CI's test list
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))


def test_junit_survives_control_characters_in_recorded_text(ci_criteria):
    results, records = run_of()
    results = results.model_copy(update={"complete": False, "incomplete_reason": "boom \x1b[31m\x00"})
    xml = junit_xml(judge_run(results, ci_criteria, records=records))
    assert "boom" in ET.fromstring(xml.encode()).find(".//skipped").get("message")


def _tables(text: str) -> list[list[str]]:
    """The Markdown tables of ``text``, each as its lines (header first, the rule line left out)."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not set(line) <= set("|-: "):
                current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_states_the_status_the_rule_and_every_check(ci_criteria, baseline):
    current, records = run_of(scaled(WIN, 1.3), seed=2)
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    text = render_markdown(gate)
    assert text.startswith("## ❌ Performance gate: FAIL (exit 1)")
    assert "regressions against baseline `baseline`" in text and "Mann-Whitney U p < 0.01" in text
    above, folded = text.split("<details>")
    # Above the fold: only the checks that held the gate up; below it, every check.
    (short,) = _tables(above)
    blocking = gate.with_outcome("fail") + gate.with_outcome("not judged")
    assert len(short) == 1 + min(len(blocking), HEADLINE_ROWS) and "❌ REGRESSION" in above
    (every,) = _tables(folded)
    assert len(every) == 1 + len(gate.checks)  # header + one row per check
    assert f"**{len(gate.checks)} checks:** {len(gate.with_outcome('fail'))} fail" in above
    assert len(above.splitlines()) < 60


def test_markdown_of_a_passing_gate_shows_the_comparison_with_the_baseline(ci_criteria, baseline):
    current, records = run_of(seed=2)
    gate = judge_run(current, ci_criteria, records=records, baseline=baseline[0], baseline_records=baseline[1])
    assert gate.status == "PASS"
    above, _ = render_markdown(gate).split("<details>")
    (short,) = _tables(above)
    regression = [c for c in gate.checks if c.suite == "regression" and c.outcome != "skipped"]
    assert regression and len(short) == 1 + min(len(regression), HEADLINE_ROWS)
    alone = render_markdown(judge_run(current, ci_criteria, records=records))
    assert _tables(alone.split("<details>")[0]) == [] and "Every check passed." in alone


# -- the command --------------------------------------------------------------------------------
@pytest.fixture
def run_dir(tmp_path):
    results, records = run_of()
    return save_run(tmp_path / "run", results, records)


def test_command_writes_its_reports_next_to_the_results(run_dir, capsys):
    assert main(["gate", str(run_dir / "results.json"), "--criteria", str(CI_CRITERIA)]) == EXIT_PASS
    out = capsys.readouterr().out
    assert "harness gate current" in out and "Gate: PASS" in out
    ET.parse(run_dir / "gate-junit.xml")
    assert (run_dir / "gate-summary.md").read_text().startswith("## ✅ Performance gate: PASS")


def test_command_against_a_baseline_directory(tmp_path, run_dir):
    slower, records = run_of(scaled(WIN, 1.3), seed=2)
    current = save_run(tmp_path / "slower", slower, records)
    junit, markdown = tmp_path / "out" / "j.xml", tmp_path / "out" / "s.md"
    code = main(
        [
            "gate",
            str(current),
            "--criteria",
            str(CI_CRITERIA),
            "--baseline",
            str(run_dir),
            "--junit",
            str(junit),
            "--markdown",
            str(markdown),
        ]
    )
    assert code == EXIT_FAIL
    assert ET.parse(junit).getroot().get("failures") != "0"
    assert "REGRESSION" in markdown.read_text()
    # A generous factor lets the same change through.
    assert (
        main(
            [
                "gate",
                str(current),
                "--criteria",
                str(CI_CRITERIA),
                "--baseline",
                str(run_dir),
                "--max-regression",
                "0.5",
                "--junit",
                str(junit),
                "--markdown",
                str(markdown),
            ]
        )
        == EXIT_PASS
    )


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "results.json").unlink(), "not found"),
        (lambda d: (d / "results.json").write_text("{not json"), "not a valid results file"),
        (lambda d: (d / "results.json").write_text(json.dumps({"schema_version": 99})), "schema version 99"),
    ],
)
def test_unreadable_results_are_inconclusive_with_a_clear_message(run_dir, capsys, damage, message):
    damage(run_dir)
    assert main(["gate", str(run_dir)]) == EXIT_INCONCLUSIVE
    err = capsys.readouterr().err
    assert message in err and "nothing was judged" in err


def test_unreadable_baseline_or_criteria_are_inconclusive(run_dir, tmp_path, capsys):
    assert main(["gate", str(run_dir), "--baseline", str(tmp_path / "nowhere")]) == EXIT_INCONCLUSIVE
    assert "baseline" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[criterion]]\nname = 'x'\nmetric = 'nope'\nop = '<'\nthreshold = 1\n")
    assert main(["gate", str(run_dir), "--criteria", str(bad)]) == EXIT_INCONCLUSIVE
    assert "unknown metric" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--alpha", "1.5"], ["--max-regression", "-0.1"], ["--alpha", "x"]])
def test_out_of_range_options_are_refused(run_dir, option):
    with pytest.raises(SystemExit) as stopped:
        main(["gate", str(run_dir), *option])
    assert stopped.value.code == 2


# -- the example GitHub Actions workflow --------------------------------------------------------
WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "perf-gate.yml"


def harness_command_lines(script: str) -> list[list[str]]:
    """Each `harness ...` invocation of a shell script, cut where the shell takes over again."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():  # a command continued over lines is one
        line = line.strip()
        match = re.search(r"(?:^|\s)(?:\S*/)?harness\s+(.*)$", line)
        if line.startswith("#") or not match:
            continue
        words = shlex.split(re.split(r"\|\||&&|;|\s\|\s|>>?", match.group(1))[0])
        found.append(words)
    return found


def test_the_example_workflow_is_valid_and_its_harness_commands_parse():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "push"} <= set(triggers)
    steps = workflow["jobs"]["perf-gate"]["steps"]
    uses = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert {"actions/checkout", "actions/setup-python", "actions/upload-artifact"} <= set(uses)
    assert any(step.get("with", {}).get("python-version") == "3.11" for step in steps)
    scripts = "\n".join(step.get("run", "") for step in steps)
    # The base branch a pull request fetches: here, a revision this clone has.
    commands = harness_command_lines(re.sub(r"origin/\$\{\{\s*github\.base_ref\s*\}\}", "HEAD", scripts))
    parser = build_parser()
    for words in commands:
        args = parser.parse_args(words)  # exits (fails the test) on an invalid command line
        if args.command == "gate":
            assert args.criteria is not None and (WORKFLOW.parents[2] / args.criteria).is_file()
    assert {words[0] for words in commands} == {"compare", "gate", "history"}
    assert any("--baseline" in words for words in commands)
    # Each main-branch run (and only those) is appended to the history, which then names change points.
    history = [step for step in steps if "harness history append" in step.get("run", "")]
    assert len(history) == 1 and "refs/heads/main" in history[0]["if"] and "history show" in history[0]["run"]
    assert "make install" in scripts and "GITHUB_STEP_SUMMARY" in scripts
    assert "gate-junit.xml" in WORKFLOW.read_text()


def test_the_shipped_ci_criteria_are_found_by_name_from_anywhere(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["gate", str(run_dir), "--criteria", "criteria-ci.toml"]) == EXIT_PASS
    assert "criteria-ci.toml" in (run_dir / "gate-summary.md").read_text()


# -- this change against its base revision, measured side by side in one run --------------------
BASE = "optimized@origin/main"


def relative_run(p95: float = 1.0, cpu: float = 1.0, *, both_saturated_at: int | None = None, trials: int = 1):
    """A run of `compare --baseline optimized@origin/main --candidates optimized`: the base
    revision and this change interleaved, the change's latencies times ``p95`` and CPU times ``cpu``."""
    medians = {BASE: SHORT["optimized"], "optimized": {u: m * p95 for u, m in SHORT["optimized"].items()}}
    cores = {BASE: CORES["optimized"], "optimized": CORES["optimized"] * cpu}
    results, records = make_run(medians, requests=SHORT_REQUESTS, seed=1, service_cores=cores, trials=trials)
    variants = {
        BASE: VariantInfo(summary="optimized (as origin/main has it)", commit="0" * 40),
        "optimized": VariantInfo(),
    }
    settings = results.settings.model_copy(update={"baseline": BASE, "candidates": ["optimized"], "variants": variants})
    results = conclude(results.model_copy(update={"settings": settings}), records, load_criteria(CI_CRITERIA))
    if both_saturated_at is not None:  # a pinned run's flags: both filled their CPUs at that level
        summaries = [
            s.model_copy(update={"service_saturated": s.users == both_saturated_at}) for s in results.summaries
        ]
        [decision] = results.decisions
        ratios = [r.model_copy(update={"both_saturated": r.users == both_saturated_at}) for r in decision.ratios]
        decisions = [decision.model_copy(update={"ratios": ratios})]
        results = results.model_copy(update={"summaries": summaries, "decisions": decisions})
    return results, records


def side_by_side(gate):
    return {(c.name, c.load): c for c in gate.checks if c.suite == "side by side"}


def test_unchanged_code_beside_its_base_revision_passes(ci_criteria):
    results, records = relative_run()
    gate = judge_run(results, ci_criteria, records=records)
    checks = side_by_side(gate)
    names = {f"{label} vs {BASE}" for label in ("p95 latency", "throughput", "CPU per request")}
    names.add(f"database operations per request vs {BASE}")
    assert {name for name, _ in checks} == names and {load for _, load in checks} == {"50 users", "100 users"}
    assert all(c.service == "optimized" and c.result == "NO CHANGE" for c in checks.values())
    assert (gate.status, gate.exit_code) == ("PASS", EXIT_PASS) and gate.side_by_side == (BASE,)
    assert gate.baseline_run_id is None  # no stored baseline needed
    assert f"**This change against {BASE}, side by side:**" in render_markdown(gate)
    suites = [s.get("name") for s in ET.fromstring(junit_xml(gate).split("\n", 1)[1]).iter("testsuite")]
    assert f"harness gate: this change against {BASE}, side by side" in suites


def test_thirty_percent_more_cpu_beside_the_base_fails_naming_metric_and_level(ci_criteria):
    results, records = relative_run(cpu=1.3)
    gate = judge_run(results, ci_criteria, records=records)
    assert gate.exit_code == EXIT_FAIL
    failed = [c for c in gate.with_outcome("fail") if c.suite == "side by side"]
    assert {(c.name, c.service, c.load) for c in failed} == {
        (f"CPU per request vs {BASE}", "optimized", load) for load in ("50 users", "100 users")
    }
    assert all(
        c.result == "REGRESSION" and "95% CI" in c.detail and "CPU per request = 1.3" in c.detail for c in failed
    )
    assert any(reason.startswith(f"'CPU per request vs {BASE}' (optimized at 50 users)") for reason in gate.reasons)


def test_a_quarter_slower_p95_beside_the_base_fails_where_not_saturated(ci_criteria):
    results, records = relative_run(p95=1.25)
    gate = judge_run(results, ci_criteria, records=records)
    assert gate.exit_code == EXIT_FAIL
    p95 = side_by_side(gate)[(f"p95 latency vs {BASE}", "100 users")]
    assert (p95.result, p95.outcome) == ("REGRESSION", "fail") and "Mann-Whitney p" in p95.detail


def test_a_quarter_slower_p95_where_both_filled_their_cpus_is_not_judged(ci_criteria):
    results, records = relative_run(p95=1.25, both_saturated_at=100)
    checks = side_by_side(judge_run(results, ci_criteria, records=records))
    p95 = checks[(f"p95 latency vs {BASE}", "100 users")]
    assert (p95.result, p95.outcome) == ("N/A (saturated)", "skipped") and "the queue" in p95.detail
    assert checks[(f"p95 latency vs {BASE}", "50 users")].outcome == "fail"  # where it had CPU to spare
    only_saturated = relative_run(p95=1.25, both_saturated_at=100)[0]
    summaries = [s for s in only_saturated.summaries if s.users == 100]
    one_level = only_saturated.model_copy(update={"summaries": summaries})
    gate = judge_run(one_level, ci_criteria, records=records)
    assert not [c for c in gate.with_outcome("fail") if c.suite == "side by side"]


def test_a_level_not_usable_for_both_is_not_judged_unless_the_machine_is_too_small(ci_criteria):
    results, records = relative_run()
    disturbed = UsabilityIssue(code=Unusable.DISTURBED, detail="steal took 30 % of a CPU")
    short = UsabilityIssue(code=Unusable.BENCH_BOUND, component=Component.BENCH_CPUS, detail="bench CPUs full")
    for issue, outcome in ((disturbed, "not judged"), (short, "skipped")):
        summaries = [s.model_copy(update={"unusable": [issue] if s.users == 100 else []}) for s in results.summaries]
        gate = judge_run(results.model_copy(update={"summaries": summaries}), ci_criteria, records=records)
        [level] = [c for c in gate.checks if c.suite == "side by side" and c.load == "100 users"]
        assert level.outcome == outcome and issue.detail in level.detail


def test_a_regression_must_show_in_every_trial_or_it_is_not_judged(ci_criteria):
    results, records = relative_run(p95=1.25, trials=2)
    p95 = side_by_side(judge_run(results, ci_criteria, records=records))[(f"p95 latency vs {BASE}", "50 users")]
    assert (p95.result, p95.outcome) == ("REGRESSION", "fail")  # worse in both trials
    # One trial of the change measured better than its base: a step went wrong, not the code.
    steps = [
        s.model_copy(update={"latency": s.latency.model_copy(update={"p95_ms": 1.0})})
        if (s.service, s.users, s.trial) == ("optimized", 50, 0)
        else s
        for s in results.steps
    ]
    gate = judge_run(results.model_copy(update={"steps": steps}), ci_criteria, records=records)
    p95 = side_by_side(gate)[(f"p95 latency vs {BASE}", "50 users")]
    assert (p95.result, p95.outcome) == ("NOT JUDGED", "not judged") and "trials disagree" in p95.detail
    failed = {(c.name, c.load) for c in gate.with_outcome("fail")}
    assert (f"p95 latency vs {BASE}", "100 users") in failed and (f"p95 latency vs {BASE}", "50 users") not in failed
