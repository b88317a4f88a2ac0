"""The first screen of a ``harness capacity`` run: one card per variant (its capacity at the SLO
with the interval, per CPU, against the baseline, and the worker CPUs the target needs, marked as
the projection it is), a lead line, and the plot of p95 against the rate tried.

Reads the capacity figures and the probe verdict codes only; the sentences are only shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from ..results import CapacityRatio, CapacityResult, CapacitySearch, CpuProjection, Estimate, Results
from ..rounding import MISSING, number
from ..terms import ProbeVerdict
from .firstscreen import Tone
from .style import BAD, service_colors

__all__ = ["CapacityCard", "capacity_cards", "capacity_facts", "capacity_figure", "capacity_headline"]


@dataclass(frozen=True)
class CapacityCard:
    service: str
    workers: int
    tone: Tone
    capacity: str  # its value and interval, as shown: "R rps [LOW, HIGH]"
    per_cpu: str
    against: str | None  # the ratio to the baseline, with its interval
    projection: str | None  # PROJECTED worker CPUs for the target, with the model
    database: str | None  # the database's share of the target, and where it would be the limit
    validated: bool
    notes: list[str] = field(default_factory=list)


def _bracket(value: Estimate, unit: str = "", decimals: int = 1) -> str:
    if value.value is None:
        return "none sustained"
    low = MISSING if value.ci_low is None else number(value.ci_low, decimals, "higher")
    high = "open" if value.ci_high is None else number(value.ci_high, decimals, "lower")
    return f"{number(value.value, decimals, 'higher')}{unit} [{low}, {high}]"


def _projection(projection: CpuProjection | None, fitted: bool) -> str | None:
    if projection is None:
        return None
    model = projection.model.value + ("" if fitted else ", assumed")
    if projection.workers_needed is None:
        peak = f" (it peaks at {projection.peak_rps:.0f} req/s)" if projection.peak_rps else ""
        return f"PROJECTED: never reaches {projection.target_rps:.0f} req/s on this model ({model}){peak}"
    return f"PROJECTED: {projection.workers_needed} worker CPU(s) for {projection.target} ({model})"


def _database(projection: CpuProjection | None) -> str | None:
    if projection is None or projection.database_cores_at_target is None:
        return None
    limit = (
        f"; one core of it carries {projection.database_limit_rps:.0f} req/s" if projection.database_limit_rps else ""
    )
    return f"the database would need {projection.database_cores_at_target:.1f} core(s) at the target{limit}"


def _top(results: list[CapacityResult]) -> CapacityResult:
    return max(results, key=lambda r: r.workers)


def capacity_cards(results: Results) -> list[CapacityCard]:
    search = results.capacity
    if search is None:
        return []
    projections = {p.service: p for p in search.projections}
    fitted = {f.service: f.fitted for f in search.fits}
    ratios: dict[str, CapacityRatio] = {}
    for ratio in search.ratios:
        if ratio.service not in ratios or ratio.workers > ratios[ratio.service].workers:
            ratios[ratio.service] = ratio
    cards = []
    for service in dict.fromkeys(r.service for r in search.results):
        top = _top([r for r in search.results if r.service == service])
        ratio = ratios.get(service)
        cards.append(
            CapacityCard(
                service=service,
                workers=top.workers,
                tone="neutral" if top.capacity_rps.value is not None else "bad",
                capacity=_bracket(top.capacity_rps, " req/s"),
                per_cpu=_bracket(top.per_cpu_rps, " req/s"),
                against=f"{_bracket(ratio.value, '×')} {ratio.baseline}'s" if ratio else None,
                projection=_projection(projections.get(service), fitted.get(service, False)),
                database=_database(projections.get(service)),
                validated=top.validated,
                notes=list(top.notes),
            )
        )
    return cards


def capacity_headline(search: CapacitySearch) -> tuple[str, Tone]:
    """The lead line: each variant's capacity at its most workers, highest first."""
    tops = [
        _top([r for r in search.results if r.service == s]) for s in dict.fromkeys(r.service for r in search.results)
    ]
    if not tops:
        return "No capacity measured: the search did not run", "muted"
    tops.sort(key=lambda r: -(r.capacity_rps.value or 0))
    figures = ", ".join(
        f"{r.service} {MISSING if r.capacity_rps.value is None else number(r.capacity_rps.value, 1, 'higher')}"
        for r in tops
    )
    workers = sorted({r.workers for r in tops})
    return (
        f"Capacity at p95 < {search.slo_p95_ms:g} ms (req/s, {'/'.join(map(str, workers))} worker CPU): {figures}",
        "neutral",
    )


def capacity_facts(results: Results) -> str:
    search = results.capacity
    assert search is not None
    services = len({r.service for r in search.results})
    pinning = results.settings.bench.pinning
    return (
        f"capacity, {results.created_at:%Y-%m-%d %H:%M} UTC: {len(search.probes)} rates tried over {services} "
        f"variant(s); {search.probe_window_s:g} s windows ({search.validation_window_s:g} s to validate), generator "
        f"timeout {search.timeout_s:g} s; {results.machine.cpu_count} CPUs, CPU isolation: {pinning}"
    )


def capacity_figure(results: Results) -> Figure | None:
    """p95 (from each request's due time) against the rate tried, per variant, the SLO drawn: filled
    markers sustained, hollow not, crosses where the bench set the limit."""
    search = results.capacity
    if search is None or not search.probes:
        return None
    colors = service_colors(results, (p.service for p in search.probes))
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    axes.set_title(f"p95 against the arrival rate (SLO {search.slo_p95_ms:g} ms)")
    axes.set_xlabel("arrival rate tried (req/s)")
    axes.set_ylabel("p95 from the due time (ms)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.grid(True, alpha=0.3, which="both")
    for service in dict.fromkeys(p.service for p in search.probes):
        probes = sorted((p for p in search.probes if p.service == service and p.p95_ms.value), key=lambda p: p.rate_rps)
        if not probes:
            continue
        color = colors[service]
        x = np.array([p.rate_rps for p in probes])
        y = np.array([p.p95_ms.value for p in probes], dtype=float)
        axes.plot(x, y, color=color, alpha=0.5, label=service)
        for p, px, py in zip(probes, x, y, strict=True):
            if p.verdict is ProbeVerdict.SUSTAINED:
                axes.plot(px, py, "o", color=color)
            elif p.verdict in (ProbeVerdict.BENCH_BOUND, ProbeVerdict.UNDELIVERED):
                axes.plot(px, py, "x", color=color)
            else:
                axes.plot(px, py, "o", markerfacecolor="none", color=color)
    axes.axhline(search.slo_p95_ms, color=BAD, linestyle="--", linewidth=1, label="SLO")
    axes.legend(loc="upper left", fontsize=8)
    return figure
