"""The report's PNG plots, drawn with matplotlib's object API (no pyplot: no global state, no GUI).

Each figure plots one quantity against the load level, one line per service. A level that is
not usable (bench-bound, too few requests, incomplete) is drawn with a hollow marker: it is
shown, but it is visibly not evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import latency_column, summary_records
from ..results import Estimate, Results, StepSummary

__all__ = ["PLOTS_DIR", "write_plots"]

PLOTS_DIR = "plots"
_PERCENTILE_STYLES = {"p50_ms": ":", "p95_ms": "-", "p99_ms": "--"}


def write_plots(results: Results, records: pd.DataFrame | None, directory: Path) -> list[Path]:
    """Write every plot the data allow into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    summaries = _plotted(results.summaries)
    written = []
    if summaries:
        x_label = "arrival rate (req/s)" if summaries[0].arrival_rate > 0 else "concurrent users"
        written.append(_save(_latency_figure(summaries, x_label), directory / "latency.png"))
        written.append(
            _save(
                _series_figure(
                    summaries,
                    x_label,
                    "throughput (rps)",
                    _estimate("throughput_rps"),
                    "Throughput (answered requests/s)",
                ),
                directory / "throughput.png",
            )
        )
        cached = [s for s in summaries if s.cache_hit_rate is not None]
        if cached:
            written.append(
                _save(
                    _series_figure(
                        cached,
                        x_label,
                        "cache hit rate (%)",
                        lambda s: _percent(s.cache_hit_rate),
                        "Cache hit rate (services with a cache)",
                    ),
                    directory / "cache_hit_rate.png",
                )
            )
        with_cpu = [s for s in summaries if s.service_cpu_ms_per_request is not None]
        if with_cpu:
            written.append(
                _save(
                    _series_figure(
                        with_cpu,
                        x_label,
                        "service CPU (ms per request)",
                        lambda s: Estimate(value=s.service_cpu_ms_per_request),
                        "Service CPU per request",
                    ),
                    directory / "cpu_per_request.png",
                )
            )
    if records is not None and not records.empty and summaries:
        cdf = _cdf_figure(summaries, records)
        if cdf is not None:
            written.append(_save(cdf, directory / "latency_cdf.png"))
    return written


def _plotted(summaries: Sequence[StepSummary]) -> list[StepSummary]:
    # One x axis per figure: open-loop levels when every level is open loop, else users.
    open_loop = bool(summaries) and all(s.arrival_rate > 0 for s in summaries)
    return [s for s in summaries if (s.arrival_rate > 0) == open_loop]


def _x(summary: StepSummary) -> float:
    return summary.arrival_rate if summary.arrival_rate > 0 else float(summary.users)


def _estimate(metric: str) -> Callable[[StepSummary], Estimate]:
    return lambda summary: getattr(summary, metric)


def _percent(fraction: float | None) -> Estimate:
    return Estimate(value=None if fraction is None else fraction * 100)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _new_axes(title: str, x_label: str, y_label: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _by_service(summaries: Sequence[StepSummary]) -> dict[str, list[StepSummary]]:
    grouped: dict[str, list[StepSummary]] = {}
    for summary in summaries:
        grouped.setdefault(summary.service, []).append(summary)
    return {service: sorted(levels, key=_x) for service, levels in grouped.items()}


def _plot_series(
    axes: Axes,
    levels: Sequence[StepSummary],
    figure_of: Callable[[StepSummary], Estimate],
    label: str,
    color: str,
    linestyle: str = "-",
) -> None:
    points = [(s, figure_of(s)) for s in levels]
    points = [(s, e) for s, e in points if e.value is not None]
    if not points:
        return
    x = np.array([_x(s) for s, _ in points])
    y = np.array([e.value for _, e in points], dtype=float)
    axes.plot(x, y, linestyle=linestyle, color=color, label=label)
    # A percentile-bootstrap interval of a tail percentile may lie wholly on one side of the
    # sample's own value; matplotlib wants non-negative bar lengths, so such a side draws none.
    low = np.array([e.value - e.ci_low if e.ci_low is not None else 0.0 for _, e in points])
    high = np.array([e.ci_high - e.value if e.ci_high is not None else 0.0 for _, e in points])
    low, high = np.clip(low, 0.0, None), np.clip(high, 0.0, None)
    if (low > 0).any() or (high > 0).any():
        axes.errorbar(x, y, yerr=np.vstack([low, high]), fmt="none", ecolor=color, capsize=3, alpha=0.7)
    usable = np.array([s.usable for s, _ in points])
    axes.scatter(x[usable], y[usable], color=color, zorder=3)
    axes.scatter(x[~usable], y[~usable], facecolors="white", edgecolors=color, zorder=3)


def _colors(services: Sequence[str]) -> dict[str, str]:
    return {service: f"C{i}" for i, service in enumerate(services)}


def _finish(axes: Axes, summaries: Sequence[StepSummary]) -> None:
    if not all(s.usable for s in summaries):
        axes.plot(
            [],
            [],
            "o",
            markerfacecolor="white",
            markeredgecolor="grey",
            label="not usable (hollow)",
        )
    axes.legend(fontsize="small")


def _latency_figure(summaries: Sequence[StepSummary], x_label: str) -> Figure:
    figure, axes = _new_axes("Latency percentiles (95% CI bars)", x_label, "latency (ms)")
    groups = _by_service(summaries)
    colors = _colors(list(groups))
    for service, levels in groups.items():
        for metric, style in _PERCENTILE_STYLES.items():
            _plot_series(
                axes,
                levels,
                _estimate(metric),
                f"{service} {metric.removesuffix('_ms')}",
                colors[service],
                style,
            )
    axes.set_yscale("log")
    _finish(axes, summaries)
    return figure


def _series_figure(
    summaries: Sequence[StepSummary],
    x_label: str,
    y_label: str,
    figure_of: Callable[[StepSummary], Estimate],
    title: str,
) -> Figure:
    figure, axes = _new_axes(title, x_label, y_label)
    groups = _by_service(summaries)
    colors = _colors(list(groups))
    for service, levels in groups.items():
        _plot_series(axes, levels, figure_of, service, colors[service])
    axes.set_ylim(bottom=0)
    _finish(axes, summaries)
    return figure


def _cdf_figure(summaries: Sequence[StepSummary], records: pd.DataFrame) -> Figure | None:
    """Latency CDF of each service at its highest load level, from the per-request records."""
    figure, axes = _new_axes("Latency CDF at each service's top load level", "latency (ms)", "share of requests")
    groups = _by_service(summaries)
    colors = _colors(list(groups))
    drawn = False
    for service, levels in groups.items():
        top = levels[-1]
        measured = summary_records(top, records)
        latencies = np.sort(measured.loc[measured["status"] != 0, latency_column(top.arrival_rate)].to_numpy(float))
        if latencies.size == 0:
            continue
        share = np.arange(1, latencies.size + 1) / latencies.size
        level = f"{top.arrival_rate:g} req/s" if top.arrival_rate > 0 else f"{top.users} users"
        label = f"{service} at {level}" + ("" if top.usable else " (not usable)")
        axes.step(
            latencies,
            share,
            where="post",
            color=colors[service],
            label=label,
            linestyle="-" if top.usable else "--",
        )
        drawn = True
    if not drawn:
        return None
    axes.set_xscale("log")
    axes.axhline(0.95, color="grey", linewidth=0.8, linestyle=":")
    axes.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    axes.legend(fontsize="small")
    return figure
