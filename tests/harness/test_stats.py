from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.stats import (
    bootstrap_ci,
    bootstrap_ratio_ci,
    latency_summary,
    littles_law_offered_rps,
    mann_whitney,
    percentile,
    percentile_cis,
    percentile_ratio_cis,
    percentile_statistic,
    rss_slope,
    subsample,
)


def test_percentiles_are_exact_nearest_rank_on_known_data():
    summary = latency_summary(np.arange(1, 1001, dtype=float))
    assert summary.count == 1000
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms, summary.max_ms) == (
        500.0,
        950.0,
        990.0,
        1000.0,
    )
    assert summary.mean_ms == 500.5


@pytest.mark.parametrize("n", [1, 2, 3, 7, 99, 101])
def test_p99_never_above_the_max_and_always_an_observed_value(n):
    values = np.random.default_rng(n).lognormal(3, 1, n)
    summary = latency_summary(values)
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= summary.max_ms == values.max()
    assert {summary.p50_ms, summary.p95_ms, summary.p99_ms} <= set(values)


def test_empty_and_nan_latencies():
    empty = latency_summary([])
    assert empty.count == 0 and empty.p99_ms is None and empty.mean_ms is None
    assert latency_summary([np.nan, 5.0]).count == 1
    assert percentile([], 95) is None


def test_bootstrap_ci_contains_the_true_value_on_a_large_sample():
    rng = np.random.default_rng(7)
    samples = rng.normal(100.0, 15.0, 20_000)
    low, high = bootstrap_ci(samples, np.mean, seed=3)
    assert low < 100.0 < high
    assert high - low < 1.0  # 95% CI of a mean of 10k draws (subsampled): about +-0.3
    p95_low, p95_high = bootstrap_ci(samples, percentile_statistic(95), seed=3)
    assert p95_low < 100.0 + 15.0 * 1.6449 < p95_high


def test_bootstrap_ci_is_reproducible_and_degenerate_inputs_give_none():
    samples = np.random.default_rng(0).exponential(10, 500)
    assert bootstrap_ci(samples, np.median, seed=1) == bootstrap_ci(samples, np.median, seed=1)
    assert bootstrap_ci([], np.mean) is None
    assert bootstrap_ci([3.0], np.mean) is None
    assert bootstrap_ci([2.0, 2.0, 2.0], np.mean) is None
    assert bootstrap_ci([1.0, 2.0, 4.0], np.mean, method="BCa") is not None


def test_bootstrap_ratio_ci_brackets_the_true_ratio():
    rng = np.random.default_rng(11)
    low, high = bootstrap_ratio_ci(rng.exponential(50, 3000), rng.exponential(100, 3000), seed=2)
    assert low < 0.5 < high and high < 1


def test_percentile_intervals_in_one_pass_match_one_at_a_time():
    samples = np.random.default_rng(4).lognormal(3, 0.6, 4000)
    together = percentile_cis(samples, [50, 95, 99], seed=8)
    alone = [bootstrap_ci(samples, percentile_statistic(q), seed=8) for q in (50, 95, 99)]
    assert together == alone  # same seed, same resamples
    for (low, high), q in zip(together, (50, 95, 99), strict=True):
        assert low <= percentile(samples, q) <= high
    assert percentile_cis([1.0], [50, 95]) == [None, None]


def test_percentile_ratio_intervals_bracket_the_true_ratios():
    rng = np.random.default_rng(12)
    fast, slow = rng.lognormal(np.log(100), 0.4, 3000), rng.lognormal(np.log(300), 0.4, 3000)
    (p95_low, p95_high), (p99_low, p99_high) = percentile_ratio_cis(fast, slow, [95, 99], seed=1)
    assert p95_low < 1 / 3 < p95_high and p99_low < 1 / 3 < p99_high
    assert percentile_ratio_cis([1.0], slow, [95, 99]) == [None, None]


def test_mann_whitney_separates_shifted_from_identical():
    rng = np.random.default_rng(5)
    a = rng.lognormal(4, 0.5, 2000)
    assert mann_whitney(a, a * 1.3) < 1e-6
    assert mann_whitney(a, rng.permutation(a)) > 0.5
    assert mann_whitney([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert mann_whitney([], [1.0]) is None


def test_mann_whitney_subsamples_deterministically():
    rng = np.random.default_rng(9)
    a, b = rng.normal(0, 1, 5000), rng.normal(0.05, 1, 5000)
    assert mann_whitney(a, b, max_samples=1000) == mann_whitney(a, b, max_samples=1000)
    assert len(subsample(a, 1000)) == 1000 and set(subsample(a, 1000)) <= set(a)


def test_littles_law():
    assert littles_law_offered_rps(50, 0.1, 0.9) == pytest.approx(50.0)
    assert littles_law_offered_rps(0, 0.1, 0.9) is None
    assert littles_law_offered_rps(10, 0.0, 0.0) is None


def test_rss_slope_detects_growth_through_gc_noise():
    rng = np.random.default_rng(2)
    seconds = np.arange(0, 1800, 10.0)
    sawtooth = 5 * ((seconds % 120) / 120)  # GC: memory climbs, then drops
    growing = rss_slope(
        list(
            zip(
                seconds,
                100 + seconds / 60 * 2.0 + sawtooth + rng.normal(0, 0.5, seconds.size),
                strict=True,
            )
        )
    )
    assert growing.slope_mb_per_min == pytest.approx(2.0, abs=0.3)
    assert growing.ci[0] < growing.slope_mb_per_min < growing.ci[1]
    assert growing.growing
    flat = rss_slope(list(zip(seconds, 100 + sawtooth + rng.normal(0, 0.5, seconds.size), strict=True)))
    assert not flat.growing and abs(flat.slope_mb_per_min) < 0.5


def test_rss_slope_needs_samples():
    with pytest.raises(ValueError, match="at least 3"):
        rss_slope([(0, 1.0), (1, 2.0)])
