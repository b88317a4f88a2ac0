"""The service's CPU per request at a load level, with its interval.

The point figure is the service's CPU seconds over the measured windows divided by the requests
sent in them (as :attr:`LevelSummary.service_cpu_ms_per_request`). Its interval resamples whole
seconds: each second of each trial's window is a pair (the service's CPU in it, from the
sampler's timeline; the requests sent in it, from the records), resampled together, so a second
with more requests keeps its larger CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..results import Estimate, StepResult
from .levels import estimate
from .stats import paired_samples_ci

__all__ = ["cpu_pairs", "cpu_per_request", "cpu_per_second", "ms_per_request", "service_ms_per_request"]


def cpu_per_second(step: StepResult) -> np.ndarray:
    """The service's CPU seconds in each whole second of the step's window (its timeline
    interpolated at the second marks); empty without a timeline."""
    timeline = step.service_cpu_timeline
    if len(timeline) < 2 or step.window_start is None:
        return np.empty(0)
    at, cpu = (np.asarray(column, dtype=float) for column in zip(*timeline, strict=True))
    marks = step.window_start + np.arange(int(math.floor(step.window_s)) + 1)
    marks = marks[marks <= at[-1] + 1e-6]
    if marks.size < 2:
        return np.empty(0)
    return np.diff(np.interp(marks, at, cpu))


def cpu_pairs(steps: Sequence[StepResult], records: pd.DataFrame) -> np.ndarray:
    """A 2 x seconds array: the service's CPU seconds and the requests sent, per second, over
    every step given (their records: ``records`` of one service and level)."""
    columns = []
    if records.empty or "t_start" not in records:
        return np.empty((2, 0))
    for step in steps:
        cpu = cpu_per_second(step)
        if cpu.size == 0:
            continue
        mine = records[records["trial"] == step.trial] if "trial" in records else records
        starts = mine["t_start"].to_numpy(dtype=float) - step.window_start
        sent = np.bincount(starts[(starts >= 0) & (starts < cpu.size)].astype(int), minlength=cpu.size)
        columns.append(np.vstack([cpu, sent[: cpu.size]]))
    return np.hstack(columns) if columns else np.empty((2, 0))


def ms_per_request(pairs: np.ndarray, axis: int = -1) -> np.ndarray:
    """CPU milliseconds per request of (resampled) pairs: the ratio of their sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return pairs[0].sum(axis=axis) * 1000 / pairs[1].sum(axis=axis)


def service_ms_per_request(steps: Sequence[StepResult]) -> float | None:
    """The point figure: the service's CPU over the windows per request sent in them."""
    requests = sum(step.requests for step in steps)
    usage = [step.components["service"] for step in steps if "service" in step.components]
    return sum(u.cpu_seconds for u in usage) * 1000 / requests if usage and requests else None


def cpu_per_request(steps: Sequence[StepResult], records: pd.DataFrame, seed: int = 0) -> Estimate:
    """The service's CPU ms per request over the steps, with its bootstrap 95% interval over seconds."""
    value = service_ms_per_request(steps)
    pairs = cpu_pairs(steps, records)
    ci = paired_samples_ci([pairs], ms_per_request, seed=seed) if pairs.shape[1] >= 2 else None
    if ci is not None and value is not None and pairs[1].sum():
        # The pairs cover whole seconds only: centre the interval on the figure it qualifies.
        shift = value - float(ms_per_request(pairs))
        ci = (ci[0] + shift, ci[1] + shift)
    return estimate(value, ci)
