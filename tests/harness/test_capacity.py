"""Capacity at the SLO without a server: the search's next rate, the bracket and its interval,
the scaling fit and the projection, the ratios and the throughput claim on them; then, marked
``load``, a short search of one variant on the real bench."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.capacity import (
    CapacityRule,
    capacity_claims,
    capacity_ratios,
    capacity_result,
    fit_scaling,
    project_cpus,
    scaling_curve,
)
from harness.analysis.stats import block_percentile_ci
from harness.results import CapacityProbe, Estimate, load_results
from harness.runs.capacity import SearchSettings, next_rate
from harness.terms import ProbeVerdict, ScalingModel

RULE = CapacityRule()
SEARCH = SearchSettings(start_rps=10, resolution=0.10, ceiling_rps=1000)


def probe(
    rate: float, verdict: ProbeVerdict, *, phase: str = "grow", p95=(300.0, 250.0, 350.0), service="a", workers=1
):
    value, low, high = p95
    return CapacityProbe(
        service=service,
        workers=workers,
        phase=phase,
        rate_rps=rate,
        sent_rps=rate,
        throughput_rps=rate,
        p95_ms=Estimate(value=value, ci_low=low, ci_high=high),
        error_rate=0.0,
        window_s=10,
        verdict=verdict,
        database_cpu_ms_per_request=1.0,
        database_operations_per_request=3.0,
        service_cpu_ms_per_request=5.0,
    )


S, OVER = ProbeVerdict.SUSTAINED, ProbeVerdict.OVER_SLO


def run_search(capacity: float, search: SearchSettings = SEARCH) -> list[CapacityProbe]:
    """Drive the policy against a service that sustains exactly ``capacity``."""
    probes: list[CapacityProbe] = []
    while (step := next_rate(probes, search)) is not None and len(probes) < 30:
        rate, phase = step
        probes.append(probe(rate, S if rate <= capacity else OVER, phase=phase))
    return probes


def test_the_search_grows_then_bisects_to_its_resolution_then_validates():
    probes = run_search(100)
    grows = [p.rate_rps for p in probes if p.phase == "grow"]
    assert grows == [10, 20, 40, 80, 160]
    assert probes[-1].phase == "validate" and probes[-1].verdict is S
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert result.validated and 100 / 1.1 <= result.capacity_rps.value <= 100
    assert result.capacity_rps.ci_high / result.capacity_rps.value <= 1.1 + 1e-9  # the resolution
    assert result.capacity_rps.ci_low == result.capacity_rps.value  # every sustained p95 was clearly under


def test_a_service_that_sustains_nothing_at_the_start_is_searched_downwards():
    probes = run_search(3)
    assert [p.rate_rps for p in probes[:3]] == [10, 5, 2.5]
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert 3 / 1.1 <= result.capacity_rps.value <= 3


def test_below_the_floor_the_search_gives_up_and_says_so():
    probes = run_search(0.1)
    assert min(p.rate_rps for p in probes) >= SEARCH.floor_rps
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert result.capacity_rps.value is None and "no rate tried was sustained" in result.notes[0]


def test_at_the_ceiling_the_capacity_is_a_lower_bound():
    probes = run_search(5000)
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert result.capacity_rps.value == 1000 and result.ceiling_reached and result.capacity_rps.ci_high is None


def test_a_failed_validation_moves_the_capacity_down():
    probes = [
        probe(10, S),
        probe(20, S),
        probe(40, OVER),
        probe(28.3, S, phase="bisect"),
        probe(33.6, OVER, phase="bisect"),
    ]
    probes += [probe(30.8, S, phase="bisect"), probe(32.2, OVER, phase="bisect")]
    assert next_rate(probes, SEARCH) == (30.8, "validate")
    probes.append(probe(30.8, OVER, phase="validate"))
    assert next_rate(probes, SEARCH) == (28.3, "validate")  # 30.8 / 28.3 is within the resolution
    probes.append(probe(28.3, S, phase="validate"))
    assert next_rate(probes, SEARCH) is None
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert (result.capacity_rps.value, result.capacity_rps.ci_high, result.validated) == (28.3, 30.8, True)


def test_a_bench_limit_ends_the_search_with_a_lower_bound_and_a_note():
    probes = [probe(10, S), probe(20, S), probe(40, ProbeVerdict.BENCH_BOUND)]
    assert next_rate(probes, SEARCH) == (20, "validate")
    probes.append(probe(20, S, phase="validate"))
    assert next_rate(probes, SEARCH) is None
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert result.capacity_rps.value == 20 and result.capacity_rps.ci_high is None
    assert any("the bench, not a, set the limit" in note for note in result.notes)


def test_the_interval_starts_at_the_highest_rate_clearly_under_the_slo():
    near = (1800.0, 1500.0, 2300.0)  # sustained, but its interval reaches the SLO
    probes = [probe(10, S), probe(20, S), probe(22, S, phase="validate", p95=near), probe(24, OVER)]
    result = capacity_result(probes, service="a", workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
    assert (result.capacity_rps.value, result.capacity_rps.ci_low, result.capacity_rps.ci_high) == (22, 20, 24)


def test_capacity_per_cpu_divides_by_the_service_cpus():
    probes = [probe(100, S, workers=2, phase="validate"), probe(110, OVER, workers=2)]
    result = capacity_result(probes, service="a", workers=2, service_cpus=[2, 3], rule=RULE, ceiling_rps=1000)
    assert result.per_cpu_rps.value == 50


def test_one_worker_count_assumes_linear_scaling_and_says_it_is_not_fitted():
    fit = fit_scaling("a", [(1, 120.0)])
    assert fit.model is ScalingModel.LINEAR and not fit.fitted and fit.parameters["lambda"] == 120
    assert "assumed" in fit.note


def test_linear_points_stay_linear():
    fit = fit_scaling("a", [(1, 100.0), (2, 201.0), (3, 299.0), (4, 402.0)])
    assert fit.model is ScalingModel.LINEAR and fit.fitted
    assert fit.parameters["lambda"] == pytest.approx(100, rel=0.02) and len(fit.residuals) == 4


def test_retrograde_points_are_fitted_by_the_usl_with_small_residuals():
    truth = scaling_curve(ScalingModel.USL, {"lambda": 100.0, "sigma": 0.05, "kappa": 0.02})
    counts = np.arange(1, 9)
    points = [(int(n), float(x)) for n, x in zip(counts, truth(counts) * (1 + 0.002 * (-1) ** counts), strict=True)]
    fit = fit_scaling("a", points)
    assert fit.model is ScalingModel.USL
    assert max(abs(r) for r in fit.residuals) < 5


def test_the_projection_counts_workers_to_the_target_and_the_database_beside_it():
    fit = fit_scaling("a", [(1, 100.0)])
    capacity = capacity_result(
        [probe(100, S, phase="validate"), probe(105, OVER)],
        service="a",
        workers=1,
        service_cpus=[1],
        rule=RULE,
        ceiling_rps=1000,
    )
    projection = project_cpus(fit, 910.0, "500 users", capacity)
    assert projection.workers_needed == 10
    assert projection.database_cores_at_target == pytest.approx(0.91) and projection.database_limit_rps == 1000
    assert any("upper bound" in assumption for assumption in projection.assumptions)


def test_a_usl_that_peaks_below_the_target_never_reaches_it():
    fit = fit_scaling("a", [(1, 100.0)]).model_copy(
        update={"model": ScalingModel.USL, "parameters": {"lambda": 100.0, "sigma": 0.1, "kappa": 0.05}, "fitted": True}
    )
    projection = project_cpus(fit, 5000.0, "a lot", None)
    assert projection.workers_needed is None and projection.peak_rps < 5000


def test_ratios_combine_the_brackets_ends_and_judge_the_throughput_claim():
    base = capacity_result(
        [probe(10, S, phase="validate", service="b"), probe(11, OVER, service="b")],
        service="b",
        workers=1,
        service_cpus=[1],
        rule=RULE,
        ceiling_rps=1000,
    )
    fast = capacity_result(
        [probe(150, S, phase="validate"), probe(165, OVER)],
        service="a",
        workers=1,
        service_cpus=[1],
        rule=RULE,
        ceiling_rps=1000,
    )
    (ratio,) = capacity_ratios([base, fast], "b")
    assert ratio.value.value == 15 and ratio.value.ci_low == pytest.approx(150 / 11) and ratio.value.ci_high == 16.5
    (claim,) = capacity_claims([ratio])
    assert claim.code == "throughput_50x" and claim.outcome == "not_held"


def test_the_block_bootstrap_is_wider_than_the_single_request_one_for_bursts():
    rng = np.random.default_rng(0)
    seconds = np.repeat(np.arange(20), 50)
    # Every other second queues: its requests are slow together.
    values = rng.normal(300, 10, seconds.size) + np.where(seconds % 2 == 0, 0, 1000)
    low, high = block_percentile_ci(values, seconds, 95, seed=0)
    single_low, single_high = block_percentile_ci(values, np.arange(values.size), 95, seed=0)
    assert high - low >= single_high - single_low
    assert block_percentile_ci(values[:5], np.zeros(5), 95) is None  # one block says nothing


@pytest.mark.load
def test_a_short_capacity_search_records_a_capacity_with_its_interval_and_the_pinning(tmp_path):
    from harness.cli import main

    code = main(
        [
            "capacity",
            "--variants",
            "optimized",
            "--start-rps",
            "40",
            "--resolution",
            "1.0",
            "--probe-window",
            "4",
            "--validation-window",
            "6",
            "--warmup",
            "2",
            "--ceiling-rps",
            "80",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    results = load_results(tmp_path / "run")
    assert code == 0 and results.complete
    search = results.capacity
    (result,) = search.results
    assert result.capacity_rps.value is not None and result.validated
    assert result.capacity_rps.ci_low is not None
    assert results.settings.bench.pinning.startswith("services on CPU")
    assert result.service_cpus == results.settings.bench.service_cpus
    (projection,) = search.projections
    assert projection.workers_needed is not None and projection.target_rps == pytest.approx(500 / 0.55)
    assert all(step.arrival_rate > 0 for step in results.steps)
    assert (tmp_path / "run" / "report.html").exists()


def capacity_run():
    """A constructed capacity run: b sustains 10 req/s, a 150 (one worker CPU each)."""
    from harness.results import CapacitySearch
    from tests.harness.test_figures import make_run

    results, _ = make_run({"a": {50: 100.0}, "b": {50: 100.0}}, requests={50: 200})
    probes = [probe(10, S, phase="validate", service="b"), probe(11, OVER, service="b")]
    probes += [probe(150, S, phase="validate"), probe(165, OVER)]
    found = [
        capacity_result(probes, service=name, workers=1, service_cpus=[1], rule=RULE, ceiling_rps=1000)
        for name in ("b", "a")
    ]
    fits = [fit_scaling(r.service, [(1, r.capacity_rps.value)]) for r in found]
    search = CapacitySearch(
        slo_p95_ms=2000,
        max_error_rate=0.001,
        min_delivered=0.99,
        resolution=0.1,
        probe_window_s=10,
        validation_window_s=30,
        timeout_s=6,
        target_rps=909.1,
        target="500 users at the checklist's pacing",
        baseline="b",
        results=found,
        probes=probes,
        fits=fits,
        projections=[project_cpus(f, 909.1, "500 users", r) for f, r in zip(fits, found, strict=True)],
        ratios=capacity_ratios(found, "b"),
    )
    return results.model_copy(update={"capacity": search, "summaries": [], "decisions": [], "criteria": []})


def test_a_capacity_run_s_report_leads_with_each_capacity_and_labels_the_projection():
    from harness.report import render_html, render_summary
    from harness.report.capacity import capacity_cards

    results = capacity_run()
    cards = {card.service: card for card in capacity_cards(results)}
    assert cards["a"].capacity.startswith("150.0 req/s [150.0, 165.0]") and cards["a"].validated
    assert cards["a"].against.startswith("15.0×") and cards["b"].against is None
    assert cards["a"].projection.startswith("PROJECTED: 7 worker CPU(s)") and "assumed" in cards["a"].projection
    summary = render_summary(results)
    assert summary.splitlines()[0].endswith("Capacity at p95 < 2000 ms (req/s, 1 worker CPU): a 150.0, b 10.0")
    assert "PROJECTED" in summary and "against" not in summary.splitlines()[0]
    html = render_html(results)
    assert html.count('class="card capacity-card') == 2 and "verdict-card" not in html
