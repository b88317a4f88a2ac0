"""Soak: each service under constant load for a long window, its memory watched throughout.

The RSS of the service's process tree is sampled every ``sample_interval_s`` of the measured
window (the warm-up, where pools and caches fill, is left out) and a Theil-Sen slope is fitted
(:func:`harness.analysis.stats.rss_slope`). The memory is *growing* only when even the low end of the
slope's 95% interval is above the threshold, so the "no memory growth" criterion fails on growth
the data shows, not on the saw-tooth of garbage collection.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..analysis.stats import rss_slope
from ..bench import Bench, ResourceSampler, ServiceProcess
from ..results import SoakResult
from ..upstream import UpstreamProcess
from .plan import RunPlan
from .step import StepOutcome

__all__ = [
    "DEFAULT_SAMPLE_INTERVAL_S",
    "MIN_SAMPLES",
    "SoakScenario",
    "soak_plan",
    "soak_result",
    "watch_rss",
]

DEFAULT_SAMPLE_INTERVAL_S = 5.0
MIN_SAMPLES = 10  # fewer points make the slope's interval too wide to say anything


def soak_result(service: str, users: int, samples: Sequence[tuple[float, float]]) -> SoakResult:
    """The fitted trend of ``(seconds, RSS MB)`` samples of one service."""
    trend = rss_slope(samples)
    ci = (round(trend.ci[0], 4), round(trend.ci[1], 4)) if trend.ci else None
    return SoakResult(
        service=service,
        users=users,
        duration_s=round(samples[-1][0] - samples[0][0], 3),
        rss_samples=list(samples),
        rss_slope_mb_per_min=round(trend.slope_mb_per_min, 4),
        rss_slope_ci=ci,
        growing=trend.growing,
    )


def watch_rss(pid: int, duration_s: float, interval_s: float = DEFAULT_SAMPLE_INTERVAL_S) -> list[tuple[float, float]]:
    """The RSS of one process tree every ``interval_s`` for ``duration_s`` (seconds, MB)."""
    sampler = ResourceSampler({"process": pid}, interval_s).start()
    try:
        time.sleep(duration_s)
    finally:
        sampler.stop()
    return sampler.rss_series("process")


def soak_plan(plan: RunPlan, sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S) -> RunPlan:
    """``plan`` turned into a soak: its window watched for memory growth, one trial, no echo app."""
    window = plan.load.step_duration_s
    if sample_interval_s <= 0:
        raise ValueError("the sample interval must be more than 0 s")
    if window < MIN_SAMPLES * sample_interval_s:
        raise ValueError(
            f"a {window:g} s soak sampled every {sample_interval_s:g} s gives fewer than "
            f"{MIN_SAMPLES} RSS samples: lengthen it or sample more often"
        )
    scenario = SoakScenario(sample_interval_s, window)
    return replace(plan, scenario=scenario, echo=False, load=plan.load.model_copy(update={"trials": 1}), command="soak")


@dataclass(frozen=True)
class SoakScenario:
    """The :class:`~harness.runs.plan.StepScenario` of a soak: nothing broken, the memory watched."""

    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S
    window_s: float | None = None  # samples past the measured window (the load winding down) are left out
    fault: None = None

    @contextlib.contextmanager
    def around_step(
        self, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
    ) -> Iterator[_SoakStep]:
        step = _SoakStep(label, service.pid, self.sample_interval_s, self.window_s)
        try:
            yield step
        finally:
            step.close()


class _SoakStep:
    def __init__(self, label: str, pid: int, interval_s: float, window_s: float | None) -> None:
        self.label = label
        self._window_s = window_s
        self._sampler = ResourceSampler({"service": pid}, interval_s)
        self._started = False

    def during_window(self, elapsed_s: float, service: ServiceProcess) -> None:
        if not self._started:  # the window's first tick: sampling leaves the warm-up out
            self._started = True
            self._sampler.start()

    def close(self) -> None:
        if self._started:
            self._sampler.stop()

    def finding(self, outcome: StepOutcome) -> SoakResult:
        samples = self._sampler.rss_series("service") if self._started else []
        if self._window_s is not None:
            samples = [sample for sample in samples if sample[0] <= self._window_s]
        if len(samples) < 3:
            raise RuntimeError(f"the soak of {self.label} has {len(samples)} RSS samples; it needs at least 3")
        return soak_result(self.label, outcome.result.users, samples)
