"""The report's plots: a registry of every plot (name, title, section, draw function), drawn with
matplotlib's object API (no pyplot: no global state, no GUI).

:data:`PLOTS` is the table; :func:`render_plots` draws every plot the data allow, as PNG bytes,
that ``report.html`` embeds (one self-contained file) and :func:`write_plots` saves into
``plots/`` for ``summary.md`` and ``details.md`` to link. A plot whose data are missing draws
nothing (its function returns None). ``per_level`` plots are drawn once per load level.

The sections, in the report's reading order: ``first_screen`` (beside the verdict cards: what
each change earns), ``levels`` (each quantity against the load level, one line per service; a
level that is not usable has a hollow marker: shown, but visibly not evidence) and
``over_time`` (each step second by second, :mod:`.timeline`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import latency_column, summary_records
from ..metrics import ATTRIBUTED_METRICS, LATENCY_METRICS, METRIC_LABELS, METRIC_UNITS, SHORT_LABELS, higher_is_better
from ..results import Effect, Estimate, LevelSummary, Results
from ..terms import load_label
from .capacity import capacity_figure
from .firstscreen import level_key
from .style import BAD, GOOD, NEUTRAL, png_bytes, service_colors
from .timeline import levels as step_levels
from .timeline import timeline_figure

__all__ = ["PLOTS", "PLOTS_DIR", "PlotInput", "PlotSpec", "RenderedPlot", "Section", "render_plots", "write_plots"]

PLOTS_DIR = "plots"
Section = Literal["first_screen", "levels", "over_time"]
_LINE_STYLES = (":", "-", "--", "-.")  # the registry's percentiles in turn, lowest first
_Level = tuple[int, float]


@dataclass(frozen=True)
class PlotInput:
    results: Results
    records: pd.DataFrame | None
    level: _Level | None = None  # per_level plots: the level drawn

    @property
    def summaries(self) -> list[LevelSummary]:
        # One x axis per figure: open-loop levels when every level is open loop, else users.
        summaries = self.results.summaries
        open_loop = bool(summaries) and all(s.arrival_rate > 0 for s in summaries)
        return [s for s in summaries if (s.arrival_rate > 0) == open_loop]

    @property
    def x_label(self) -> str:
        summaries = self.summaries
        return "arrival rate (req/s)" if summaries and summaries[0].arrival_rate > 0 else "concurrent users"

    @property
    def colors(self) -> dict[str, str]:
        return service_colors(self.results, (s.service for s in self.results.summaries))


@dataclass(frozen=True)
class PlotSpec:
    name: str  # the file's stem under plots/
    title: str
    section: Section
    draw: Callable[[PlotInput], Figure | None]
    per_level: bool = False


@dataclass(frozen=True)
class RenderedPlot:
    name: str
    title: str
    section: Section
    png: bytes


# -- helpers --------------------------------------------------------------------------------------
def _x(summary: LevelSummary) -> float:
    return summary.arrival_rate if summary.arrival_rate > 0 else float(summary.users)


def _new_axes(title: str, x_label: str, y_label: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _by_service(summaries: Sequence[LevelSummary]) -> dict[str, list[LevelSummary]]:
    grouped: dict[str, list[LevelSummary]] = {}
    for summary in summaries:
        grouped.setdefault(summary.service, []).append(summary)
    return {service: sorted(levels, key=_x) for service, levels in grouped.items()}


def _plot_series(
    axes: Axes,
    levels: Sequence[LevelSummary],
    figure_of: Callable[[LevelSummary], Estimate],
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


def _finish(axes: Axes, summaries: Sequence[LevelSummary], outside: bool = False) -> None:
    if not all(s.usable for s in summaries):
        axes.plot([], [], "o", markerfacecolor="white", markeredgecolor="grey", label="not usable (hollow)")
    if outside:  # many lines: the legend beside the axes, never over the data
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        axes.legend(fontsize="small")


def _series_figure(
    data: PlotInput,
    summaries: Sequence[LevelSummary],
    y_label: str,
    figure_of: Callable[[LevelSummary], Estimate],
    title: str,
) -> Figure | None:
    if not summaries:
        return None
    figure, axes = _new_axes(title, data.x_label, y_label)
    colors = data.colors
    for service, levels in _by_service(summaries).items():
        _plot_series(axes, levels, figure_of, service, colors[service])
    axes.set_ylim(bottom=0)
    _finish(axes, summaries)
    return figure


# -- against the load level -------------------------------------------------------------------------
def _latency(data: PlotInput) -> Figure | None:
    summaries = data.summaries
    if not summaries:
        return None
    figure, axes = _new_axes("Latency percentiles (95% CI bars)", data.x_label, "latency (ms)")
    colors = data.colors
    for service, levels in _by_service(summaries).items():
        for metric, style in zip(LATENCY_METRICS, itertools.cycle(_LINE_STYLES)):
            label = f"{service} {SHORT_LABELS[metric]}"
            _plot_series(axes, levels, lambda s, m=metric: getattr(s, m), label, colors[service], style)
    axes.set_yscale("log")
    _finish(axes, summaries, outside=True)
    return figure


def _throughput(data: PlotInput) -> Figure | None:
    return _series_figure(
        data,
        data.summaries,
        "throughput (rps)",
        lambda s: s.throughput_rps,
        "Throughput (answered requests/s)",
    )


def _cpu_per_request(data: PlotInput) -> Figure | None:
    return _series_figure(
        data,
        [s for s in data.summaries if s.service_cpu_ms_per_request is not None],
        "service CPU (ms per request)",
        lambda s: Estimate(value=s.service_cpu_ms_per_request),
        "Service CPU per request",
    )


def _cache_hit_rate(data: PlotInput) -> Figure | None:
    return _series_figure(
        data,
        [s for s in data.summaries if s.cache_hit_rate is not None],
        "cache hit rate (%)",
        lambda s: Estimate(value=None if s.cache_hit_rate is None else s.cache_hit_rate * 100),
        "Cache hit rate (services with a cache)",
    )


def _latency_cdf(data: PlotInput) -> Figure | None:
    """Latency CDF of each service at its highest load level, from the per-request records."""
    records, summaries = data.records, data.summaries
    if records is None or records.empty or not summaries:
        return None
    figure, axes = _new_axes("Latency CDF at each service's top load level", "latency (ms)", "share of requests")
    colors = data.colors
    drawn = False
    for service, levels in _by_service(summaries).items():
        top = levels[-1]
        measured = summary_records(top, records)
        latencies = np.sort(measured.loc[measured["status"] != 0, latency_column(top.arrival_rate)].to_numpy(float))
        if latencies.size == 0:
            continue
        share = np.arange(1, latencies.size + 1) / latencies.size
        label = f"{service} at {load_label(top.users, top.arrival_rate)}" + ("" if top.usable else " (not usable)")
        style = "-" if top.usable else "--"
        axes.step(latencies, share, where="post", color=colors[service], label=label, linestyle=style)
        drawn = True
    if not drawn:
        return None
    axes.set_xscale("log")
    axes.axhline(0.95, color="grey", linewidth=0.8, linestyle=":")
    axes.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    axes.legend(fontsize="small")
    return figure


# -- what each change earns -------------------------------------------------------------------------


def _at(effects: Sequence[Effect], level: _Level, metric: str) -> Effect | None:
    return next((e for e in effects if (e.users, e.arrival_rate, e.metric) == (*level, metric)), None)


def _tone(metric: str, effect: Effect | None) -> str:
    if effect is None or effect.difference.value is None or not effect.significant:
        return NEUTRAL
    return GOOD if (effect.difference.value > 0) == higher_is_better(metric) else BAD


def _attribution(data: PlotInput) -> Figure | None:
    """A horizontal waterfall per metric at the highest attributed level: each change added alone
    to the baseline, what the changes do together beyond their sum, and the total."""
    attribution = data.results.attribution
    if attribution is None or not attribution.total:
        return None
    level = max({(e.users, e.arrival_rate) for e in attribution.total}, key=lambda lv: level_key(*lv))
    metrics = [m for m in ATTRIBUTED_METRICS if _at(attribution.total, level, m) is not None]
    if not metrics:
        return None
    labels = [change.token for change in attribution.changes] + ["together, beyond the sum", "total"]
    figure = Figure(figsize=(1.3 + 1.75 * len(metrics), 0.8 + 0.3 * len(labels)), layout="constrained")
    panels = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    for axes, metric in zip(panels, metrics, strict=True):
        total = _at(attribution.total, level, metric)
        running = 0.0
        for row, change in enumerate(attribution.changes):
            effect = _at(change.added_effects, level, metric) if change.added else None
            if effect is None or effect.difference.value is None:
                axes.text(running, row, " not measured", va="center", fontsize="x-small", color=NEUTRAL)
                continue
            _bar(axes, row, running, effect.difference, _tone(metric, effect))
            running += effect.difference.value
        total_value = total.difference.value if total is not None and total.difference.value is not None else 0.0
        axes.barh(len(labels) - 2, total_value - running, left=running, color="white", edgecolor=NEUTRAL, hatch="//")
        _bar(axes, len(labels) - 1, 0.0, total.difference, _tone(metric, total))
        axes.axvline(0, color="black", linewidth=0.8)
        axes.set_title(f"{METRIC_LABELS[metric]}\n({METRIC_UNITS[metric]})", fontsize="medium")
        axes.grid(True, axis="x", alpha=0.3)
        axes.margins(x=0.12)
        axes.tick_params(axis="x", labelsize="small")
    panels[0].set_yticks(range(len(labels)), labels)
    panels[0].invert_yaxis()
    figure.suptitle(f"Added alone to {attribution.baseline}, at {load_label(*level)}", fontsize="medium")
    return figure


def _bar(axes: Axes, row: int, left: float, difference: Estimate, color: str) -> None:
    value = difference.value or 0.0
    axes.barh(row, value, left=left, color=color, height=0.6)
    if difference.ci_low is not None and difference.ci_high is not None:
        end = left + value
        low, high = max(value - difference.ci_low, 0.0), max(difference.ci_high - value, 0.0)
        axes.errorbar(end, row, xerr=[[low], [high]], fmt="none", ecolor="black", capsize=2, linewidth=0.8)


# -- the registry ----------------------------------------------------------------------------------
def _timeline(data: PlotInput) -> Figure | None:
    return None if data.level is None else timeline_figure(data.results, data.records, data.level)


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("attribution", "What each change earns", "first_screen", _attribution),
    PlotSpec("capacity", "p95 against the arrival rate", "first_screen", lambda data: capacity_figure(data.results)),
    PlotSpec("latency", "Latency percentiles against load", "levels", _latency),
    PlotSpec("throughput", "Throughput against load", "levels", _throughput),
    PlotSpec("cpu_per_request", "Service CPU per request", "levels", _cpu_per_request),
    PlotSpec("cache_hit_rate", "Cache hit rate", "levels", _cache_hit_rate),
    PlotSpec("latency_cdf", "Latency CDF at each service's top level", "levels", _latency_cdf),
    PlotSpec("timeline", "Over time", "over_time", _timeline, per_level=True),
)


def _level_suffix(level: _Level) -> str:
    users, rate = level
    return f"{rate:g}rps".replace(".", "_") if rate > 0 else f"{users}users"


def render_plots(
    results: Results, records: pd.DataFrame | None, plots: Sequence[PlotSpec] = PLOTS
) -> list[RenderedPlot]:
    """Every plot of ``plots`` the data allow, in the registry's order, as PNG bytes."""
    rendered = []
    for spec in plots:
        if spec.per_level:
            inputs = [
                (f"{spec.name}_{_level_suffix(level)}", f"{spec.title} at {load_label(*level)}", level)
                for level in step_levels(results)
            ]
        else:
            inputs = [(spec.name, spec.title, None)]
        for name, title, level in inputs:
            figure = spec.draw(PlotInput(results, records, level))
            if figure is not None:
                rendered.append(RenderedPlot(name, title, spec.section, png_bytes(figure)))
    return rendered


def write_plots(plots: Sequence[RenderedPlot], directory: Path) -> list[Path]:
    """Save rendered plots as ``directory/<name>.png``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for plot in plots:
        path = directory / f"{plot.name}.png"
        path.write_bytes(plot.png)
        written.append(path)
    return written
