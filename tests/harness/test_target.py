"""The second answer, on constructed runs (fixed seeds, no server): can a service hold the
checklist's 500 users on its 4 gunicorn workers, and on what (harness/analysis/target.py).
The tests read statuses, bases and figures, never sentences (the command is the one string a
user runs, so its flags are read)."""

from __future__ import annotations

import math

import pytest

from harness.analysis import conclude, load_criteria
from harness.analysis.claims import repriced
from harness.analysis.target import CHECKLIST_WORKERS, HOURS_PER_MONTH, target_loads
from harness.terms import TargetStatus
from tests.harness.test_figures import WINDOW_S, make_run

OFFERED = 500 / (0.3 + 0.250)  # 500 users, a 0.1-0.5 s pause, 50 ms Graph API + 200 ms LLM
FAST = {50: 100.0, 100: 100.0}  # p95 ~190 ms: within the SLO
TARGET = {500: 300.0}  # 500 users at 5,500 requests a window: 550 req/s, p95 ~580 ms


def target_run(medians, *, cpus=1, saturated=(), requests=None, **kwargs):
    """A concluded run at the checklist's pacing and downstream latency, its services pinned to
    ``cpus`` CPUs; ``saturated`` (service, users) pairs filled them. 400 requests a window at
    50 and 100 users, 5,500 at 500 unless ``requests`` says otherwise."""
    results, records = make_run(medians, requests={500: 5500, **(requests or {})}, **kwargs)
    load = results.settings.load.model_copy(update={"wait_min_s": 0.1, "wait_max_s": 0.5})
    bench = results.settings.bench.model_copy(
        update={
            "graph_latency_ms": 50.0,
            "llm_latency_ms": 200.0,
            "service_cpus": list(range(1, cpus + 1)),
            "bench_cpus": [0],
        }
    )
    settings = results.settings.model_copy(update={"load": load, "bench": bench})
    concluded = conclude(results.model_copy(update={"settings": settings}), records, load_criteria())
    summaries = [
        s.model_copy(update={"service_saturated": True}) if (s.service, s.users) in saturated else s
        for s in concluded.summaries
    ]
    concluded = concluded.model_copy(update={"summaries": summaries})
    return concluded.model_copy(update={"targets": target_loads(concluded)})


def cost_at(results, service, users):
    return next(c for c in results.costs if (c.service, c.users) == (service, users))


def summary_at(results, service, users):
    return next(s for s in results.summaries if (s.service, s.users) == (service, users))


# -- what the target offers, and what it needs -------------------------------------------------------
def test_the_target_offers_500_users_at_the_checklist_s_pacing_behind_its_downstream():
    target = target_run({"optimized": FAST}).target_for("optimized")
    assert target.offered_rps == pytest.approx(909.09, abs=0.01) == pytest.approx(OFFERED)
    assert (target.users, target.deployment_workers) == (500, CHECKLIST_WORKERS)


def test_a_projection_scales_the_cost_figures_cpu_per_request_and_its_interval_to_the_offered_load():
    results = target_run({"optimized": FAST}, service_cores={"optimized": 0.1})  # ~2.5 ms a request
    target = results.target_for("optimized")
    measured = cost_at(results, "optimized", 100).service_cpu_s_per_1000  # the highest level: 100 users
    assert (target.basis, target.cpu_measured_at) == ("projected", "100 users")
    assert target.cpu_ms_per_request == measured.value
    cpus = target.service_cpus
    assert measured.ci_low < measured.value < measured.ci_high
    for figure, ms in [(cpus.value, measured.value), (cpus.ci_low, measured.ci_low), (cpus.ci_high, measured.ci_high)]:
        assert figure == pytest.approx(OFFERED * ms / 1000)
    database_ms = summary_at(results, "optimized", 100).bench_cpu_ms_per_request["database"]
    assert target.database_cores.value == pytest.approx(OFFERED * database_ms / 1000)
    assert target.assumptions and target.command  # a projection states both


def test_a_projection_within_the_checklist_s_4_workers_fits_and_one_beyond_exceeds():
    results = target_run({"original": FAST, "optimized": FAST}, service_cores={"optimized": 0.1, "original": 0.5})
    fits, exceeds = results.target_for("optimized"), results.target_for("original")
    assert math.ceil(fits.service_cpus.value) <= CHECKLIST_WORKERS < math.ceil(exceeds.service_cpus.value)
    assert (fits.status, exceeds.status) == (TargetStatus.FITS, TargetStatus.EXCEEDS)


def test_the_monthly_cost_is_whole_service_cpus_plus_the_database_s_cores_at_the_run_s_price():
    results = target_run({"optimized": FAST}, service_cores={"optimized": 0.1})
    target = results.target_for("optimized")
    price = results.settings.price_per_vcpu_hour
    whole = math.ceil(target.service_cpus.value)
    assert target.price_per_vcpu_hour == price > 0
    assert target.monthly_usd == pytest.approx((whole + target.database_cores.value) * price * HOURS_PER_MONTH)


@pytest.mark.parametrize(("service_cores", "workers"), [(0.1, CHECKLIST_WORKERS), (0.5, 12)])
def test_the_command_names_the_variant_and_the_workers_the_target_needs(service_cores, workers):
    # 0.5 cores for 400 requests in 10 s: 12.5 ms a request, 11.4 CPUs of work at 909 req/s: 12
    # workers; a smaller need still runs the checklist's 4.
    results = target_run({"optimized": FAST}, service_cores={"optimized": service_cores})
    command = results.target_for("optimized").command.split()
    assert command[command.index("--variant") + 1] == "optimized"
    assert command[command.index("--workers") + 1] == str(workers)
    assert command[command.index("--service-cpus") + 1] == str(workers)
    assert command[command.index("--users") + 1] == "500"


# -- measured at the target ---------------------------------------------------------------------------
def test_a_target_level_served_within_every_figure_holds_measured():
    results = target_run({"optimized": {**FAST, **TARGET}})
    target = results.target_for("optimized")
    assert (target.status, target.basis) == (TargetStatus.HOLDS, "measured")
    assert target.service_cpus.value == 1  # what it had, pinned
    assert target.cpu_ms_per_request == summary_at(results, "optimized", 500).service_cpu_ms_per_request
    assert target.monthly_usd == pytest.approx(1 * results.settings.price_per_vcpu_hour * HOURS_PER_MONTH)
    assert not target.command  # nothing left to measure


def test_a_target_level_missed_with_cpu_to_spare_fails_measured_and_with_its_cpus_full_is_projected():
    slow = {"optimized": {**FAST, 500: 3000.0}}  # p95 ~5.8 s at 500 users
    spare = target_run(slow).target_for("optimized")
    assert (spare.status, spare.basis) == (TargetStatus.FAILS, "measured")
    full = target_run(slow, saturated={("optimized", 500)}).target_for("optimized")
    assert (full.status, full.basis) == (TargetStatus.FITS, "projected")  # ~0.9 ms a request: one CPU of work
    assert full.cpu_measured_at == "500 users"


def test_nothing_trusted_to_project_from_is_unknown():
    # The load generator ran out at every level: an under-driven service's CPU per request is not used.
    bound = {("optimized", 50): 0.97, ("optimized", 100): 0.97}
    target = target_run({"optimized": FAST}, generator_cores=bound).target_for("optimized")
    assert (target.status, target.service_cpus, target.monthly_usd) == (TargetStatus.UNKNOWN, None, None)


def test_every_service_gets_a_target_the_baseline_too_but_not_the_echo_app():
    results = target_run({"echo": FAST, "original": FAST, "optimized": FAST})
    assert [t.service for t in results.targets] == ["original", "optimized"]
    assert results.target_for("echo") is None


# -- capacity within the SLO ----------------------------------------------------------------------------
@pytest.mark.parametrize("cpus", [1, 2])
def test_capacity_is_the_highest_throughput_within_the_slo_per_service_cpu(cpus):
    results = target_run({"optimized": {50: 100.0, 100: 100.0, 500: 3000.0}}, cpus=cpus, requests={50: 300})
    target = results.target_for("optimized")
    best = summary_at(results, "optimized", 100)  # 500 users served more, over the SLO
    assert summary_at(results, "optimized", 500).throughput_rps.value > best.throughput_rps.value
    assert (target.capacity_level, target.capacity_within_slo) == ("100 users", True)
    assert target.capacity_rps_per_cpu.value == pytest.approx(400 / WINDOW_S / cpus)
    assert target.capacity_rps_per_cpu.ci_low == pytest.approx(best.throughput_rps.ci_low / cpus)
    assert target.capacity_rps_per_cpu.ci_high == pytest.approx(best.throughput_rps.ci_high / cpus)


def test_with_no_level_within_the_slo_capacity_is_what_the_full_cpus_served_marked_over_the_slo():
    over = {"optimized": {50: 3000.0, 500: 3000.0}}
    results = target_run(over, saturated={("optimized", 50), ("optimized", 500)})
    target = results.target_for("optimized")
    assert (target.capacity_level, target.capacity_within_slo, target.capacity_saturated) == ("500 users", False, True)
    assert target.capacity_rps_per_cpu.value == pytest.approx(
        summary_at(results, "optimized", 500).throughput_rps.value
    )
    # Over the SLO with CPU to spare says nothing of capacity: no figure.
    unsaturated = target_run(over).target_for("optimized")
    assert unsaturated.capacity_rps_per_cpu is None


# -- another price ---------------------------------------------------------------------------------------
def test_repricing_scales_the_monthly_cost_and_keeps_the_cpus():
    unknown = {("original", 50): 0.97, ("original", 100): 0.97}  # nothing of original to project from
    results = target_run(
        {"original": FAST, "optimized": FAST}, service_cores={"optimized": 0.1}, generator_cores=unknown
    )
    price = results.settings.price_per_vcpu_hour
    cheaper = repriced(results, price / 4)
    before, after = results.target_for("optimized"), cheaper.target_for("optimized")
    assert after.monthly_usd == pytest.approx(before.monthly_usd / 4) and after.price_per_vcpu_hour == price / 4
    assert (after.service_cpus, after.database_cores, after.status) == (
        before.service_cpus,
        before.database_cores,
        before.status,
    )
    assert cheaper.target_for("original").monthly_usd is None  # no figure is invented
