"""Statistics over per-request records: percentiles, bootstrap intervals, significance, trends.

Percentiles are computed from the raw per-request latencies (never from Locust's rounded
histogram buckets) with the nearest-rank definition: every reported percentile is a latency
some request actually had, so a p99 can never exceed the max and is never interpolated down.
Resampling is bounded in time by a deterministic subsample of large inputs; a subsample makes
an interval wider, never narrower, so the bound costs precision, not honesty.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ..metrics import LATENCY_METRICS
from ..results import LatencySummary

__all__ = [
    "BOOTSTRAP_MAX_SAMPLES",
    "GROWTH_THRESHOLD_MB_PER_MIN",
    "MANN_WHITNEY_MAX_SAMPLES",
    "PERCENTILE_METHOD",
    "RssTrend",
    "block_percentile_ci",
    "bootstrap_ci",
    "bootstrap_ratio_ci",
    "latency_summary",
    "littles_law_offered_rps",
    "mann_whitney",
    "paired_samples_ci",
    "percentile",
    "percentile_cis",
    "percentile_ratio_cis",
    "percentile_statistic",
    "rss_slope",
    "subsample",
]

# Nearest rank: the smallest observed value with at least q% of the observations at or below it.
PERCENTILE_METHOD = "inverted_cdf"
BOOTSTRAP_MAX_SAMPLES = 10_000  # keeps 1000 resamples of a level to about a second
MANN_WHITNEY_MAX_SAMPLES = 50_000
GROWTH_THRESHOLD_MB_PER_MIN = 0.5

Statistic = Callable[..., "np.ndarray | float"]


def _clean(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def percentile(values: ArrayLike, q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0..100) of ``values``; None when there are none."""
    array = _clean(values)
    if array.size == 0:
        return None
    return float(np.percentile(array, q, method=PERCENTILE_METHOD))


def percentile_statistic(q: float | Sequence[float]) -> Statistic:
    """A vectorised ``statistic(sample, axis)`` for :func:`bootstrap_ci`: the q-th percentile(s)."""
    return partial(np.percentile, q=q, method=PERCENTILE_METHOD)


def latency_summary(latencies_ms: ArrayLike) -> LatencySummary:
    """Count, mean, max and every percentile of the registry (:data:`~harness.metrics.LATENCY_METRICS`)."""
    array = _clean(latencies_ms)
    if array.size == 0:
        return LatencySummary(count=0, mean_ms=None, max_ms=None, **dict.fromkeys(LATENCY_METRICS))
    values = np.percentile(array, list(LATENCY_METRICS.values()), method=PERCENTILE_METHOD)
    return LatencySummary(
        count=int(array.size),
        mean_ms=float(array.mean()),
        max_ms=float(array.max()),
        **{name: float(value) for name, value in zip(LATENCY_METRICS, values, strict=True)},
    )


def subsample(values: ArrayLike, limit: int, seed: int = 0) -> np.ndarray:
    """At most ``limit`` of ``values``, drawn without replacement with a fixed seed (reproducible)."""
    array = _clean(values)
    if array.size <= limit:
        return array
    return np.random.default_rng(seed).choice(array, size=limit, replace=False)


def _intervals(result: Any) -> list[tuple[float, float] | None]:
    lows = np.atleast_1d(result.confidence_interval.low)
    highs = np.atleast_1d(result.confidence_interval.high)
    return [
        (float(low), float(high)) if np.isfinite(low) and np.isfinite(high) else None
        for low, high in zip(lows, highs, strict=True)
    ]


def _bootstrap(
    data: tuple[np.ndarray, ...],
    statistic: Statistic,
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
    method: str = "percentile",
    axis: int = 0,
) -> list[tuple[float, float] | None]:
    # One call for a vector-valued statistic (p50, p95 and p99 at once): the resamples are
    # drawn and sorted once, which is most of the cost.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples: scipy warns and returns NaN -> None
        result = stats.bootstrap(
            data,
            statistic,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method=method,
            rng=np.random.default_rng(seed),
            vectorized=True,
            paired=False,
            axis=axis,
        )
    return _intervals(result)


def _informative(array: np.ndarray) -> bool:
    # Fewer than 2 samples, or all equal: a resample has no spread, and an interval of zero
    # width would claim a certainty the data do not give.
    return array.size >= 2 and bool(np.ptp(array) > 0)


def bootstrap_ci(
    samples: ArrayLike,
    statistic: Statistic = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    method: str = "percentile",
    max_samples: int = BOOTSTRAP_MAX_SAMPLES,
) -> tuple[float, float] | None:
    """Bootstrap confidence interval of ``statistic(samples, axis=...)``.

    None when it cannot say anything: fewer than 2 samples, or all samples equal. ``method`` is
    scipy's: "percentile" or "BCa" (BCa's jackknife is O(n^2): for trial-level figures, not
    raw requests).
    """
    array = subsample(samples, max_samples, seed)
    if not _informative(array):
        return None
    intervals = _bootstrap(
        (array,),
        statistic,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        method=method,
    )
    return intervals[0]


def percentile_cis(
    samples: ArrayLike,
    qs: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    max_samples: int = BOOTSTRAP_MAX_SAMPLES,
) -> list[tuple[float, float] | None]:
    """Percentile-bootstrap intervals of several percentiles of ``samples`` in one pass."""
    array = subsample(samples, max_samples, seed)
    if not _informative(array):
        return [None] * len(qs)
    statistic = percentile_statistic(list(qs))
    return _bootstrap((array,), statistic, confidence=confidence, n_resamples=n_resamples, seed=seed)


def block_percentile_ci(
    values: ArrayLike,
    blocks: ArrayLike,
    q: float,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Block-bootstrap interval of the ``q``-th percentile: whole blocks (e.g. each second of a
    window) are resampled, so the interval keeps the correlation of requests that queued together
    (resampling single requests would treat a burst of slow ones as luck and narrow the interval).
    scipy's bootstrap resamples single observations only, hence these few lines."""
    array, labels = np.asarray(values, dtype=float), np.asarray(blocks)
    keep = np.isfinite(array)
    array, labels = array[keep], labels[keep]
    groups = [array[labels == label] for label in np.unique(labels)]
    if len(groups) < 2 or not _informative(array):
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(groups), size=(n_resamples, len(groups)))
    estimates = np.array(
        [np.percentile(np.concatenate([groups[i] for i in row]), q, method=PERCENTILE_METHOD) for row in draws]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ratio_ci(
    numerator: ArrayLike,
    denominator: ArrayLike,
    statistic: Statistic = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    max_samples: int = BOOTSTRAP_MAX_SAMPLES,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of ``statistic(numerator) / statistic(denominator)``, the two
    samples resampled independently (they come from different services)."""
    intervals = _ratio_intervals(numerator, denominator, statistic, confidence, n_resamples, seed, max_samples)
    return intervals[0] if intervals else None


def percentile_ratio_cis(
    numerator: ArrayLike,
    denominator: ArrayLike,
    qs: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    max_samples: int = BOOTSTRAP_MAX_SAMPLES,
) -> list[tuple[float, float] | None]:
    """Intervals of the ratios of several percentiles (e.g. p95 and p99) in one pass."""
    statistic = percentile_statistic(list(qs))
    intervals = _ratio_intervals(numerator, denominator, statistic, confidence, n_resamples, seed, max_samples)
    return intervals or [None] * len(qs)


def _ratio_intervals(
    numerator: ArrayLike,
    denominator: ArrayLike,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    seed: int,
    max_samples: int,
) -> list[tuple[float, float] | None]:
    top = subsample(numerator, max_samples, seed)
    bottom = subsample(denominator, max_samples, seed + 1)
    if top.size < 2 or bottom.size < 2 or not (_informative(top) or _informative(bottom)):
        return []

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(statistic(a, axis=axis)) / np.asarray(statistic(b, axis=axis))

    data = (top, bottom)
    return _bootstrap(data, ratio, confidence=confidence, n_resamples=n_resamples, seed=seed)


def paired_samples_ci(
    samples: Sequence[np.ndarray],
    statistic: Statistic,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of ``statistic(*samples, axis=-1)`` where each sample is a
    2-D array whose columns are resampled together (e.g. CPU seconds and requests of the same
    second), the samples independently of each other (e.g. two services)."""
    arrays = [np.asarray(sample, dtype=float) for sample in samples]
    if any(array.ndim != 2 or array.shape[-1] < 2 for array in arrays):
        return None
    if not any(np.ptp(array, axis=-1).any() for array in arrays):
        return None
    intervals = _bootstrap(tuple(arrays), statistic, confidence=confidence, n_resamples=n_resamples, seed=seed, axis=-1)
    return intervals[0]


def mann_whitney(
    a: ArrayLike, b: ArrayLike, *, seed: int = 0, max_samples: int = MANN_WHITNEY_MAX_SAMPLES
) -> float | None:
    """Two-sided Mann-Whitney U p-value that ``a`` and ``b`` come from the same distribution.

    None when either side is empty. Above ``max_samples`` per side a fixed-seed subsample keeps
    the test bounded in time (at 50k per side it already detects shifts far below 1%).
    """
    x, y = subsample(a, max_samples, seed), subsample(b, max_samples, seed + 1)
    if x.size == 0 or y.size == 0:
        return None
    p_value = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return p_value if np.isfinite(p_value) else 1.0  # all values tied: no evidence of a difference


def littles_law_offered_rps(users: int, mean_response_s: float, mean_wait_s: float) -> float | None:
    """Closed-loop arrival rate the users can offer: N / (mean response time + mean think time)."""
    cycle_s = mean_response_s + mean_wait_s
    if users <= 0 or not np.isfinite(cycle_s) or cycle_s <= 0:
        return None
    return users / cycle_s


class RssTrend(NamedTuple):
    slope_mb_per_min: float
    ci: tuple[float, float] | None
    growing: bool


def rss_slope(
    samples: Sequence[tuple[float, float]],
    *,
    confidence: float = 0.95,
    threshold_mb_per_min: float = GROWTH_THRESHOLD_MB_PER_MIN,
) -> RssTrend:
    """Trend of RSS over a soak: Theil-Sen slope in MB/min and its confidence interval.

    Theil-Sen (the median of pairwise slopes) shrugs off the saw-tooth of garbage collection
    that would drag a least-squares fit. The memory is ``growing`` only when even the interval's
    low end exceeds the threshold: growth shown by the data, not suggested by noise.
    """
    if len(samples) < 3:
        raise ValueError(f"an RSS trend needs at least 3 samples, got {len(samples)}")
    seconds, megabytes = (np.asarray(column, dtype=float) for column in zip(*samples, strict=True))
    if np.ptp(seconds) == 0:
        raise ValueError("RSS samples span no time")
    slope, _intercept, low, high = stats.theilslopes(megabytes, seconds, alpha=confidence)
    ci = (float(low) * 60, float(high) * 60) if np.isfinite(low) and np.isfinite(high) else None
    growing = ci[0] > threshold_mb_per_min if ci else float(slope) * 60 > threshold_mb_per_min
    return RssTrend(float(slope) * 60, ci, bool(growing))
