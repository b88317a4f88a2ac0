"""Figures from constructed per-request records (no server): step_result, summarize, ratios.

The builders here (``make_records``, ``make_step``, ``make_run``) also serve test_decision and
test_report: a run is constructed the way the harness constructs one, through step_result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from harness.analysis import ratios as candidate_ratios
from harness.analysis import step_result, summarize, summary_records
from harness.analysis.quiet import disturbance, other_work_cores, steal_share
from harness.metrics import RATIO_METRICS
from harness.results import (
    RECORD_COLUMNS,
    AuditFigures,
    BenchSettings,
    CacheFigures,
    ComponentUsage,
    CpuLoad,
    DatabaseFigures,
    LoadSettings,
    MachineInfo,
    Results,
    RunSettings,
    StepResult,
)
from harness.terms import BENCH_ADVICE, Component, Unusable


def ratios(summaries, records, candidate="optimized", baseline="original", seed=0):
    return candidate_ratios(summaries, records, candidate=candidate, baseline=baseline, seed=seed)


T0 = 1_700_000_000.0
WARMUP_S = 2.0
WINDOW_S = 10.0
DOWNSTREAM_MS = 60.0


# -- builders -----------------------------------------------------------------------------------
def make_records(
    service: str,
    users: int,
    latencies_ms: np.ndarray,
    *,
    trial: int = 0,
    start: float = T0,
    window_s: float = WINDOW_S,
    warmup: int = 0,
    status: np.ndarray | None = None,
    kind: str = "text",
    arrival_rate: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """One step run's records: ``latencies_ms`` sent inside the window, ``warmup`` more before it."""
    rng = np.random.default_rng(seed)
    n = len(latencies_ms)
    t_start = np.concatenate([rng.uniform(start, start + window_s, n), rng.uniform(start - WARMUP_S, start, warmup)])
    latency = np.concatenate([latencies_ms, np.full(warmup, 99_999.0)])  # warm-up would dominate if counted
    codes = np.concatenate([status if status is not None else np.full(n, 200), np.full(warmup, 200)])
    total = n + warmup
    frame = pd.DataFrame(
        {
            "service": service,
            "users": users,
            "arrival_rate": arrival_rate,
            "trial": trial,
            "t_start": t_start,
            "intended_start": t_start,
            "latency_ms": latency,
            "corrected_latency_ms": latency,
            "status": codes.astype(int),
            "kind": kind,
            "wamid": [f"wamid.{service}.{users}.{trial}.{i}" for i in range(total)],
            "expects_reply": kind == "text",
            "attempt": 1,
            "error": np.where(codes == 0, "ConnectTimeout", ""),
        }
    )
    assert list(frame.columns) == list(RECORD_COLUMNS)
    return frame


def usage(cores: float = 0.3, cpu_seconds: float | None = None, rss: float = 80.0) -> ComponentUsage:
    return ComponentUsage(
        pids=[1],
        cpu_seconds=cores * WINDOW_S if cpu_seconds is None else cpu_seconds,
        cpu_cores_mean=cores,
        cpu_cores_max=cores + 0.05,
        rss_mb_start=rss,
        rss_mb_end=rss,
        rss_mb_max=rss,
    )


def clean_audit(expected: int, **changes: int) -> AuditFigures:
    figures = dict(
        expected=expected,
        delivered=expected,
        lost=0,
        doubled=0,
        wrong_token=0,
        unexpected=0,
        unacknowledged=0,
    )
    figures.update(changes)
    if "lost" in changes:
        figures["delivered"] = expected - changes["lost"]
    return AuditFigures(**figures)


def make_step(
    records: pd.DataFrame,
    *,
    service: str,
    users: int,
    trial: int = 0,
    start: float = T0,
    generator_cores: float = 0.3,
    database_cores: float = 0.2,
    cache: bool = False,
    audit: AuditFigures | None = None,
    wait_mean_s: float | None = None,
    arrival_rate: float = 0.0,
    service_cores: float = 0.5,
) -> StepResult:
    measured = records[records["t_start"] >= start]
    if wait_mean_s is None:  # a think time consistent with the throughput (Little's law holds)
        wait_mean_s = max(users * WINDOW_S / max(len(measured), 1) - measured["latency_ms"].mean() / 1000, 0.0)
    return step_result(
        records,
        service=service,
        users=users,
        trial=trial,
        started_at=datetime.fromtimestamp(start - WARMUP_S, UTC),
        window=(start, start + WINDOW_S),
        service_cpu_timeline=_timeline(start, service_cores, seed=trial + users),
        components={
            "service": usage(service_cores),
            "load_generator": usage(generator_cores),
            "database": usage(database_cores),
            "upstream": usage(0.1),
        },
        cache=CacheFigures(hits=950, misses=50, hit_rate=0.95) if cache else None,
        database=DatabaseFigures(operations=len(measured), operations_per_request=1.0, connections_max=12),
        audit=audit if audit is not None else clean_audit(len(measured)),
        wait_mean_s=wait_mean_s,
        downstream_latency_ms=DOWNSTREAM_MS,
        arrival_rate=arrival_rate,
    )


def _timeline(start: float, cores: float, seed: int) -> list[tuple[float, float]]:
    """The sampler's view of a service using ``cores`` (+-10 % noise) every 0.5 s of the window."""
    rng = np.random.default_rng(seed)
    at = start + np.arange(0, WINDOW_S + 0.01, 0.5)
    used = np.concatenate([[0.0], np.cumsum(rng.uniform(0.9, 1.1, at.size - 1) * cores * 0.5)])
    return [(float(t), float(cpu)) for t, cpu in zip(at, used, strict=True)]


def make_results(steps: list[StepResult], services: list[str], users: list[int]) -> Results:
    return Results(
        run_id="test-run",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        complete=True,
        machine=MachineInfo(
            hostname="bench-host",
            platform="Linux-test",
            python="3.11.9",
            cpu_count=2,
            cpu_model="Test CPU",
            memory_gib=7.7,
            load_average_at_start=(0.5, 0.4, 0.3),
        ),
        settings=RunSettings(
            command="compare",
            profile="test",
            load=LoadSettings(
                users=tuple(users),
                step_duration_s=WINDOW_S,
                warmup_s=WARMUP_S,
                trials=1,
                wait_min_s=0.5,
                wait_max_s=1.5,
                mix={"text": 1.0},
            ),
            bench=BenchSettings(
                businesses=10,
                phones_per_business=2,
                graph_latency_ms=20.0,
                llm_latency_ms=40.0,
                database="embedded SecantusDB 0.7.0b3",
                service_workers=2,
            ),
            services=services,
            baseline="original" if "original" in services and len(services) > 1 else None,
            candidates=[s for s in services if s not in ("original", "echo")] if "original" in services else [],
            criteria_file="criteria.toml (default)",
        ),
        steps=steps,
    )


def make_run(
    medians_ms: Mapping[str, Mapping[int, float]],
    *,
    requests: Mapping[int, int] | None = None,
    trials: int = 1,
    sigma: float = 0.4,
    generator_cores: Mapping[tuple[str, int], float] = {},
    audits: Mapping[tuple[str, int], AuditFigures] = {},
    service_cores: Mapping[str, float] = {},
    seed: int = 1,
) -> tuple[Results, pd.DataFrame]:
    """A run with lognormal latencies around ``medians_ms[service][users]`` (fixed seeds), and
    ``requests[users]`` requests per trial (default 400)."""
    rng = np.random.default_rng(seed)
    steps, frames = [], []
    for service, levels in medians_ms.items():
        for users, median in levels.items():
            for trial in range(trials):
                start = T0 + 1000 * len(frames)
                n = (requests or {}).get(users, 400)
                latencies = rng.lognormal(np.log(median), sigma, n)
                records = make_records(
                    service,
                    users,
                    latencies,
                    trial=trial,
                    start=start,
                    warmup=20,
                    seed=int(rng.integers(1 << 30)),
                )
                frames.append(records)
                steps.append(
                    make_step(
                        records,
                        service=service,
                        users=users,
                        trial=trial,
                        start=start,
                        generator_cores=generator_cores.get((service, users), 0.3),
                        cache=service == "optimized",
                        audit=audits.get((service, users)),
                        service_cores=service_cores.get(service, 0.5),
                    )
                )
    all_users = sorted({u for levels in medians_ms.values() for u in levels})
    return make_results(steps, list(medians_ms), all_users), pd.concat(frames, ignore_index=True)


# -- step_result --------------------------------------------------------------------------------
def test_step_counts_only_the_measured_window():
    latencies = np.arange(1, 1001, dtype=float)
    records = make_records("original", 50, latencies, warmup=300)
    step = make_step(records, service="original", users=50)
    assert step.requests == 1000
    assert step.window_start == T0 and step.window_s == WINDOW_S
    assert step.latency.max_ms == 1000.0  # the 99 999 ms warm-up requests were excluded
    assert (step.latency.p50_ms, step.latency.p95_ms, step.latency.p99_ms) == (500.0, 950.0, 990.0)
    assert step.throughput_rps == pytest.approx(100.0)


def test_step_rates_and_status_counts():
    status = np.array([200] * 90 + [503] * 4 + [0] * 2 + [400] * 4)
    records = make_records("optimized", 10, np.full(100, 50.0), status=status)
    step = make_step(records, service="optimized", users=10)
    assert step.status_counts == {"0": 2, "200": 90, "400": 4, "503": 4}
    assert step.success_rate == pytest.approx(0.90)
    assert step.error_rate == pytest.approx(0.06)
    assert step.throughput_rps == pytest.approx(98 / WINDOW_S)  # answered requests only
    assert step.latency.count == 98


def test_step_added_latency_and_cpu_per_request():
    records = make_records("optimized", 10, np.full(200, 100.0))
    step = make_step(records, service="optimized", users=10)
    assert step.latency_by_kind["text"].p99_ms == 100.0
    assert step.added_latency_p99_ms == pytest.approx(100.0 - DOWNSTREAM_MS)
    assert step.service_cpu_ms_per_request == pytest.approx(0.5 * WINDOW_S * 1000 / 200)


def test_bench_bound_helper_is_named_with_advice():
    records = make_records("optimized", 500, np.full(300, 20.0))
    step = make_step(records, service="optimized", users=500, generator_cores=0.97, database_cores=0.95)
    assert step.bound_by == [Component.LOAD_GENERATOR, Component.DATABASE]
    text = " ".join(step.notes)  # each bound part's note carries its advice
    assert BENCH_ADVICE[Component.LOAD_GENERATOR] in text and BENCH_ADVICE[Component.DATABASE] in text


def test_service_cpu_never_makes_a_step_bench_bound():
    records = make_records("optimized", 500, np.full(300, 20.0))
    step = step_result(
        records,
        service="optimized",
        users=500,
        trial=0,
        started_at=datetime.fromtimestamp(T0, UTC),
        window=(T0, T0 + WINDOW_S),
        components={"service": usage(1.9)},
        cache=None,
        database=None,
        audit=None,
        wait_mean_s=1.0,
        downstream_latency_ms=0.0,
    )
    assert step.bound_by == []


def _machine_step(components, machine):
    records = make_records("optimized", 500, np.full(300, 20.0))
    return step_result(
        records,
        service="optimized",
        users=500,
        trial=0,
        started_at=datetime.fromtimestamp(T0, UTC),
        window=(T0, T0 + WINDOW_S),
        components=components,
        cache=None,
        database=None,
        audit=None,
        wait_mean_s=1.0,
        downstream_latency_ms=0.0,
        cpu_load=CpuLoad(machine_cores=machine[0], machine_cpus=machine[1]),
    )


def test_a_busy_machine_shared_with_a_hungry_bench_bounds_the_step():
    components = {"service": usage(0.8), "database": usage(0.5), "load_generator": usage(0.2), "upstream": usage(0.15)}
    step = _machine_step(components, (1.65, 2))
    assert step.bound_by == ["machine"] and step.cpu_load.machine_cores == 1.65
    assert other_work_cores(step) == pytest.approx(0.0)  # the bench itself took the CPU


def test_a_busy_machine_shared_with_another_tenant_bounds_the_step():
    components = {"service": usage(0.8), "database": usage(0.1), "load_generator": usage(0.05)}
    step = _machine_step(components, (1.7, 2))  # 0.75 cores went to processes outside the run
    assert step.bound_by == ["machine"]
    assert other_work_cores(step) == pytest.approx(0.75)


def test_a_machine_saturated_by_the_service_itself_is_a_fair_measurement():
    components = {"service": usage(1.7), "database": usage(0.1), "load_generator": usage(0.05)}
    assert _machine_step(components, (1.9, 2)).bound_by == []


def test_a_quiet_machine_is_not_a_bound():
    components = {
        "service": usage(0.45),
        "database": usage(0.33),
        "load_generator": usage(0.16),
        "upstream": usage(0.13),
    }
    assert _machine_step(components, (1.07, 2)).bound_by == []


# -- a quiet machine (analysis/quiet.py) ----------------------------------------------------------
QUIET_BENCH = {"service": usage(0.45), "database": usage(0.33), "load_generator": usage(0.16), "upstream": usage(0.13)}


@pytest.mark.parametrize(
    ("cpus", "outside", "disturbed"),
    [(2, 0.0, False), (2, 0.45, False), (2, 0.55, True), (4, 0.95, False), (4, 1.05, True)],
)
def test_work_outside_the_bench_over_a_quarter_of_the_cores_disturbs_a_step(cpus, outside, disturbed):
    step = _machine_step(QUIET_BENCH, (1.07 + outside, cpus))
    assert other_work_cores(step) == pytest.approx(outside)
    assert (disturbance(step) is not None) is disturbed


@pytest.mark.parametrize(
    ("cpus", "steal", "disturbed"),
    [(2, None, False), (2, 0.09, False), (2, 0.11, True), (4, 0.19, False), (4, 0.21, True)],
)
def test_steal_over_half_the_practical_margin_of_the_cores_disturbs_a_step(cpus, steal, disturbed):
    quiet = _machine_step(QUIET_BENCH, (1.07, cpus))
    step = quiet.model_copy(update={"cpu_load": quiet.cpu_load.model_copy(update={"steal_cores": steal})})
    assert (disturbance(step) is not None) is disturbed


@pytest.mark.parametrize(("on_services", "disturbed"), [(0.04, False), (0.06, True)])
def test_steal_on_a_pinned_runs_service_cpu_is_judged_against_that_cpu(on_services, disturbed):
    # 0.07 cores of 2 is under the machine's limit; on the service's one CPU it may not be.
    quiet = _machine_step(QUIET_BENCH, (1.07, 2))
    load = quiet.cpu_load.model_copy(
        update={"steal_cores": 0.07, "service_steal_cores": on_services, "service_cpus": [1], "bench_cpus": [0]}
    )
    assert steal_share(load) == pytest.approx(max(0.035, on_services))
    why = disturbance(quiet.model_copy(update={"cpu_load": load}))
    assert (why is not None) is disturbed
    assert why is None or f"{on_services:.2f} on the services' CPUs" in why


def test_a_step_without_machine_samples_is_not_called_disturbed():
    assert disturbance(_machine_step(QUIET_BENCH, (1.07, 2)).model_copy(update={"cpu_load": None})) is None


def test_a_level_with_one_disturbed_trial_is_not_usable_and_names_the_disturbance_as_its_cause():
    results, records = make_run({"optimized": {100: 100.0}}, trials=2)  # each step's bench: 1.1 cores
    assert summarize(results.steps, records)[0].usable
    stolen = CpuLoad(machine_cores=1.1, machine_cpus=2, steal_cores=0.5)
    outside = CpuLoad(machine_cores=1.8, machine_cpus=2)  # 0.7 cores outside the bench
    for load in (stolen, outside):
        steps = [results.steps[0], results.steps[1].model_copy(update={"cpu_load": load})]
        summary = summarize(steps, records)[0]
        assert [issue.code for issue in summary.unusable] == [Unusable.DISTURBED]


def _pinned_step(components, service_cores, bench_cores):
    load = CpuLoad(
        machine_cores=service_cores + bench_cores,
        machine_cpus=2,
        service_cpus=[1],
        bench_cpus=[0],
        service_cores=service_cores,
        bench_cores=bench_cores,
    )
    records = make_records("optimized", 500, np.full(300, 20.0))
    return step_result(
        records,
        service="optimized",
        users=500,
        trial=0,
        started_at=datetime.fromtimestamp(T0, UTC),
        window=(T0, T0 + WINDOW_S),
        components=components,
        cache=None,
        database=None,
        audit=None,
        wait_mean_s=1.0,
        downstream_latency_ms=0.0,
        cpu_load=load,
    )


def test_pinned_a_service_that_fills_its_own_cpus_is_its_capacity_not_a_bound():
    components = {"service": usage(0.97), "database": usage(0.4), "load_generator": usage(0.1)}
    step = _pinned_step(components, service_cores=0.98, bench_cores=0.6)
    assert step.bound_by == []  # the machine is 1.58 of 2 cores busy, but each set is judged apart
    assert step.cpu_load.pinned


def test_pinned_saturated_bench_cpus_bound_the_step_and_name_the_busiest_part():
    components = {"service": usage(0.7), "database": usage(0.6), "load_generator": usage(0.25), "upstream": usage(0.1)}
    step = _pinned_step(components, service_cores=0.7, bench_cores=0.95)
    assert step.bound_by == [Component.BENCH_CPUS]
    assert BENCH_ADVICE[Component.BENCH_CPUS] in " ".join(step.notes)


def test_littles_law_gap_flags_load_that_was_not_offered():
    records = make_records("original", 100, np.full(100, 100.0))  # 10 rps achieved
    step = make_step(records, service="original", users=100, wait_mean_s=0.9)  # 100 users / 1 s = 100 rps
    assert step.offered_rps == pytest.approx(100.0)
    assert step.littles_law_gap == pytest.approx(-0.9)


def test_open_loop_uses_the_arrival_rate_and_corrected_latency():
    records = make_records("optimized", 0, np.full(500, 30.0), arrival_rate=50.0)
    step = make_step(records, service="optimized", users=0, arrival_rate=50.0)
    assert step.offered_rps == 50.0
    assert step.corrected_latency is not None and step.corrected_latency.count == 500


def test_empty_window_gives_no_figures():
    records = make_records("original", 10, np.empty(0), warmup=20)
    step = make_step(records, service="original", users=10, wait_mean_s=1.0)
    assert step.requests == 0 and step.latency.count == 0 and step.latency.p95_ms is None
    assert step.service_cpu_ms_per_request is None


# -- summarize ----------------------------------------------------------------------------------
def test_summary_pools_every_trial_and_bootstraps_over_trials():
    results, records = make_run({"original": {50: 100.0}}, trials=3)
    (summary,) = summarize(results.steps, records)
    pooled = summary_records(summary, records)
    assert summary.trials == 3 and summary.requests == 1200 == len(pooled)
    assert summary.p95_ms.value == pytest.approx(np.percentile(pooled["latency_ms"], 95, method="inverted_cdf"))
    assert summary.p95_ms.ci_low <= summary.p95_ms.ci_high
    assert summary.interval_basis == "trials"
    assert summary.usable and summary.audit_passed is True and summary.has_cache is False


def test_summary_of_one_trial_bootstraps_over_requests():
    results, records = make_run({"optimized": {50: 100.0}})
    (summary,) = summarize(results.steps, records)
    assert summary.p95_ms.ci_low < summary.p95_ms.value < summary.p95_ms.ci_high
    assert summary.throughput_rps.value == pytest.approx(40.0)
    assert summary.throughput_rps.ci_low < 40.0 < summary.throughput_rps.ci_high
    assert summary.cache_hit_rate == pytest.approx(0.95)
    assert summary.interval_basis == "requests"


def test_summary_unusable_when_bench_bound_or_too_few_requests():
    results, records = make_run(
        {"optimized": {50: 100.0, 500: 100.0}},
        requests={50: 100, 500: 400},
        generator_cores={("optimized", 500): 0.95},
    )
    few, bound = summarize(results.steps, records)
    assert [issue.code for issue in few.unusable] == [Unusable.TOO_FEW_REQUESTS]
    assert [(issue.code, issue.component) for issue in bound.unusable] == [(Unusable.BENCH_BOUND, "load_generator")]
    assert bound.bound_by == ["load_generator"]
    assert bound.load_generator_cpu_cores == 0.95


def test_summary_without_records_is_unusable_not_invented():
    results, _ = make_run({"optimized": {50: 100.0}})
    (summary,) = summarize(results.steps, pd.DataFrame())
    assert [issue.code for issue in summary.unusable] == [Unusable.NO_RECORDS] and summary.p95_ms.value is None
    assert summary.throughput_rps.value == pytest.approx(40.0)  # from the steps' own counts


# -- ratios -------------------------------------------------------------------------------------
def test_ratio_of_a_clear_win_is_significant():
    results, records = make_run({"original": {100: 400.0}, "optimized": {100: 100.0}})
    summaries = summarize(results.steps, records)
    by_metric = {r.metric: r for r in ratios(summaries, records)}
    p95 = by_metric["p95_ms"]
    assert p95.value.value == pytest.approx(0.25, rel=0.15)
    assert p95.value.ci_high < 1 and p95.significant and p95.p_value < 1e-10
    assert set(by_metric) == set(RATIO_METRICS)  # CPU per request only where its steps are given


def test_ratio_of_identical_distributions_is_not_significant():
    results, records = make_run({"original": {100: 100.0}, "optimized": {100: 100.0}})
    by_metric = {r.metric: r for r in ratios(summarize(results.steps, records), records)}
    assert by_metric["p95_ms"].value.ci_low < 1 < by_metric["p95_ms"].value.ci_high
    assert by_metric["p95_ms"].significant is False
    assert by_metric["throughput_rps"].significant is False


def test_ratios_only_at_levels_both_services_ran():
    results, records = make_run({"original": {50: 100.0}, "optimized": {50: 90.0, 100: 90.0}})
    assert {r.users for r in ratios(summarize(results.steps, records), records)} == {50}


def test_open_loop_levels_are_judged_on_corrected_latency():
    latencies = np.random.default_rng(3).lognormal(np.log(50), 0.3, 400)
    steps, frames = [], []
    for i, service in enumerate(("original", "optimized")):
        records = make_records(service, 0, latencies, arrival_rate=40.0, start=T0 + 100 * i)
        if service == "original":  # its schedule slipped: requests waited 500 ms to be sent
            records["corrected_latency_ms"] = records["latency_ms"] + 500
        frames.append(records)
        steps.append(make_step(records, service=service, users=0, arrival_rate=40.0, start=T0 + 100 * i))
    records = pd.concat(frames, ignore_index=True)
    original, optimized = summarize(steps, records)
    assert original.p95_ms.value == pytest.approx(optimized.p95_ms.value + 500)
    p95 = next(r for r in ratios([original, optimized], records) if r.metric == "p95_ms")
    assert p95.arrival_rate == 40.0 and p95.value.value < 0.5 and p95.significant


def test_a_level_only_slowed_by_the_bench_is_marked_so():
    results, records = make_run({"optimized": {50: 100.0}})
    slowed = [s.model_copy(update={"bound_by": ["machine", "database"]}) for s in results.steps]
    (summary,) = summarize(slowed, records)
    assert not summary.usable and summary.slowed_by_bench
    driven = [s.model_copy(update={"bound_by": ["machine", "load_generator"]}) for s in results.steps]
    (summary,) = summarize(driven, records)
    assert not summary.usable and not summary.slowed_by_bench
    few, few_records = make_run({"optimized": {50: 100.0}}, requests={50: 50})
    (summary,) = summarize([s.model_copy(update={"bound_by": ["machine"]}) for s in few.steps], few_records)
    assert not summary.slowed_by_bench  # too few requests is a reason of its own
