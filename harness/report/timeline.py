"""Over time: every step second by second, from the per-request records.

One figure per load level, small multiples per service (rows): the requests answered each second
(failed ones in red), the p50 and p95 latency of the requests sent in that second, and the
service's CPU in cores when its sampler's timeline was kept. The x axis is seconds from the start
of the measured window: the warm-up before it is shaded, a fault injected into the step is
marked, so a stall, a queue building up or a slow start shows where the figures alone hide it.

Requests are binned by the second they were sent (as the throughput's interval counts them), so
a stall shows as the seconds whose requests waited; several trials of a level are overlaid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis import latency_column
from ..analysis.cpu import cpu_per_second
from ..records import ABANDONED
from ..results import FaultResult, LevelSummary, Results, StepResult
from ..terms import load_label
from .firstscreen import issue_text, level_key
from .style import BAD, service_colors

__all__ = ["SecondSeries", "fault_spans", "levels", "per_second", "timeline_figure"]

_WARMUP_COLOR = "0.88"
_FAULT_COLOR = "#d62728"
_Level = tuple[int, float]


@dataclass(frozen=True)
class SecondSeries:
    """One step's requests per second, from its warm-up to the end of its window."""

    x: np.ndarray  # the middle of each second, relative to the window's start
    answered: np.ndarray
    failed: np.ndarray  # 5xx or no answer
    p50_ms: np.ndarray  # NaN where nothing was answered
    p95_ms: np.ndarray


def levels(results: Results) -> list[_Level]:
    """The load levels that have a step with a measured window, in order."""
    found = {(s.users, s.arrival_rate) for s in results.steps if s.window_start is not None}
    return sorted(found, key=lambda level: level_key(*level))


def _step_records(step: StepResult, records: pd.DataFrame) -> pd.DataFrame:
    return records[
        (records["service"] == step.service)
        & (records["users"] == step.users)
        & np.isclose(records["arrival_rate"].astype(float), step.arrival_rate)
        & (records["trial"] == step.trial)
    ]


def per_second(step: StepResult, records: pd.DataFrame, warmup_s: float) -> SecondSeries | None:
    """The step's requests per second over its warm-up and window (None: no window, no records)."""
    if step.window_start is None or records.empty:
        return None
    first, last = -int(math.ceil(warmup_s)), int(math.ceil(step.window_s))
    mine = _step_records(step, records)
    relative = mine["t_start"].to_numpy(dtype=float) - step.window_start
    keep = (relative >= first) & (relative < last) & (mine["error"].to_numpy() != ABANDONED)
    if not keep.any():
        return None
    bins = np.floor(relative[keep]).astype(int) - first
    status = mine["status"].to_numpy(dtype=int)[keep]
    latency = mine[latency_column(step.arrival_rate)].to_numpy(dtype=float)[keep]
    size = last - first
    answered = status != 0
    failed = (status == 0) | (status >= 500)
    p50, p95 = np.full(size, np.nan), np.full(size, np.nan)
    if answered.any():
        quantiles = pd.Series(latency[answered]).groupby(bins[answered]).quantile([0.5, 0.95]).unstack()
        p50[quantiles.index.to_numpy()] = quantiles[0.5].to_numpy()
        p95[quantiles.index.to_numpy()] = quantiles[0.95].to_numpy()
    return SecondSeries(
        x=np.arange(first, last) + 0.5,
        answered=np.bincount(bins[answered], minlength=size)[:size].astype(float),
        failed=np.bincount(bins[failed], minlength=size)[:size].astype(float),
        p50_ms=p50,
        p95_ms=p95,
    )


def _fault_of(fault: FaultResult, step: StepResult) -> bool:
    """The fault was injected into this step: its service, and its level and trial when the fault
    names them (older runs did not; then every step of the service was given it)."""
    if fault.service != step.service:
        return False
    if fault.users is None and fault.arrival_rate == 0:
        return True
    users = fault.users if fault.users is not None else step.users
    return (users, fault.trial) == (step.users, step.trial) and math.isclose(fault.arrival_rate, step.arrival_rate)


def fault_spans(results: Results, step: StepResult) -> list[tuple[float, float]]:
    """The faults injected into the step, relative to its window's start (a fault's times count
    from its step's start)."""
    if step.window_start is None:
        return []
    began = step.started_at.timestamp()
    spans = {
        (round(began + f.started_s - step.window_start, 1), round(began + f.ended_s - step.window_start, 1))
        for f in results.faults
        if _fault_of(f, step)
    }
    return sorted(spans)


def _summary(results: Results, service: str, level: _Level) -> LevelSummary | None:
    return next((s for s in results.summaries if (s.service, s.users, s.arrival_rate) == (service, *level)), None)


def _unusable_note(summary: LevelSummary | None) -> str:
    if summary is None or summary.usable:
        return ""
    return "not usable: " + ", ".join(dict.fromkeys(issue_text(issue) for issue in summary.unusable))


def _shade(axes: Axes, warmup_s: float, faults: Sequence[tuple[float, float]]) -> None:
    if warmup_s > 0:
        axes.axvspan(-warmup_s, 0, color=_WARMUP_COLOR, zorder=0, linewidth=0)
    for start, end in faults:
        axes.axvspan(start, end, color=_FAULT_COLOR, alpha=0.15, zorder=0, linewidth=0)
        axes.axvline(start, color=_FAULT_COLOR, linewidth=0.8)


def timeline_figure(results: Results, records: pd.DataFrame | None, level: _Level) -> Figure | None:
    """Small multiples of one load level: a row per service, a column per quantity."""
    if records is None or records.empty:
        return None
    warmup_s = results.settings.load.warmup_s
    steps = [s for s in results.steps if (s.users, s.arrival_rate) == level and s.window_start is not None]
    colors = service_colors(results)
    by_service: dict[str, list[tuple[StepResult, SecondSeries]]] = {}
    for step in sorted(steps, key=lambda s: (list(colors).index(s.service), s.trial)):
        series = per_second(step, records, warmup_s)
        if series is not None:
            by_service.setdefault(step.service, []).append((step, series))
    if not by_service:
        return None
    with_cpu = any(len(s.service_cpu_timeline) >= 2 for s in results.steps)
    columns = 3 if with_cpu else 2
    figure = Figure(figsize=(4.0 * columns, 0.9 + 1.5 * len(by_service)), layout="constrained")
    grid = figure.subplots(len(by_service), columns, sharex=True, sharey="col", squeeze=False)
    any_failed = any_fault = False
    for row, (service, runs) in enumerate(by_service.items()):
        color = colors[service]
        throughput, latency = grid[row][0], grid[row][1]
        faults = sorted({span for step, _ in runs for span in fault_spans(results, step)})
        any_fault = any_fault or bool(faults)
        for axes in grid[row]:
            _shade(axes, warmup_s, faults)
            axes.grid(True, alpha=0.3)
        alpha = 1.0 if len(runs) == 1 else 0.75
        for step, series in runs:
            throughput.step(series.x, series.answered, where="mid", color=color, alpha=alpha, linewidth=1.2)
            if series.failed.any():
                any_failed = True
                throughput.step(series.x, series.failed, where="mid", color=BAD, alpha=alpha, linewidth=1.0)
            latency.plot(series.x, series.p95_ms, color=color, alpha=alpha, linewidth=1.2)
            latency.plot(series.x, series.p50_ms, color=color, alpha=alpha, linewidth=1.0, linestyle=":")
            if with_cpu:
                cores = cpu_per_second(step)
                if cores.size:
                    grid[row][2].step(
                        np.arange(cores.size) + 0.5, cores, where="mid", color=color, alpha=alpha, linewidth=1.2
                    )
        throughput.set_ylabel(service, fontweight="bold")
        note = _unusable_note(_summary(results, service, level))
        if note:
            throughput.text(
                0.99,
                0.06,
                note,
                transform=throughput.transAxes,
                ha="right",
                fontsize="small",
                color="#8a5300",
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5},
            )
        if np.isfinite([v for _, s in runs for v in s.p95_ms]).any():
            latency.set_yscale("log")
    # Only once every row is drawn: a limit set on a shared axis freezes it for all the rows.
    grid[0][0].set_ylim(bottom=0)
    if with_cpu:
        grid[0][2].set_ylim(bottom=0)
    titles = ["answered requests/s", "latency (ms): p95 solid, p50 dotted", "service CPU (cores)"]
    for column, title in enumerate(titles[:columns]):
        grid[0][column].set_title(title, fontsize="medium")
        grid[-1][column].set_xlabel("s from the window's start")
    handles = [Patch(color=_WARMUP_COLOR, label=f"warm-up ({warmup_s:g} s, excluded)")]
    if any_fault:
        handles.append(Patch(color=_FAULT_COLOR, alpha=0.3, label="fault injected"))
    if any_failed:
        handles.append(Line2D([], [], color=BAD, label="failed requests/s (5xx or no answer)"))
    trials = max(len(runs) for runs in by_service.values())
    overlaid = f"; {trials} trials overlaid" if trials > 1 else ""
    figure.suptitle(f"Over time at {load_label(*level)}: each second of each step{overlaid}")
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="small", frameon=False)
    return figure
