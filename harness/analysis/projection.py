"""How many worker CPUs a service needs for a load this machine cannot give it: a projection from
the CPU it was measured to spend per request, labelled as one wherever it is shown.

The load a closed-loop level offers when every answer comes as fast as the downstream allows
is users / (mean pause + downstream latency): 500 users at the checklist's pacing (0.1-0.5 s)
behind a 200 ms LLM and a 50 ms Graph API offer about 910 requests/s. At the service's measured
CPU per request that is ``offered x ms / 1000`` cores of work. Assumptions: CPU per request stays
what it was at the measured level; workers scale linearly up to the projected count (one worker
process per CPU, none waiting on a shared lock); the bench (database, upstream, load) runs
elsewhere; the database keeps up (its own CPU per request is shown beside, so the reader sees
when it would become the limit instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..results import LevelSummary, Results
from ..terms import Component, Unusable, load_label

__all__ = ["CpuNeed", "bench_short_of_cpu", "closed_loop_rate", "cpu_need", "offered_rps", "short_of_cpu"]


@dataclass(frozen=True)
class CpuNeed:
    offered_rps: float
    service_cpus: int  # whole CPUs, rounded up
    service_ms: float  # the CPU per request it rests on
    measured_at: str  # the level that CPU per request was measured at
    database_cores: float | None  # the database's CPU at that load, from its own CPU per request

    def describe(self) -> str:
        database = (
            f"; the database would need {self.database_cores:.1f} cores of its own at that load"
            if self.database_cores is not None
            else ""
        )
        return (
            f"needs {self.service_cpus} worker CPU(s) (projected: {self.offered_rps:.0f} req/s offered x "
            f"{self.service_ms:.2f} ms of CPU per request measured at {self.measured_at}, workers scaling "
            f"linearly, the bench elsewhere{database})"
        )


def closed_loop_rate(users: int, wait_mean_s: float, downstream_ms: float) -> float | None:
    """What ``users`` offer when every answer comes as fast as the downstream allows."""
    cycle = wait_mean_s + downstream_ms / 1000
    return users / cycle if cycle > 0 and users else None


def offered_rps(results: Results, users: int, arrival_rate: float) -> float | None:
    """What a level offers when answered as fast as the downstream allows."""
    if arrival_rate > 0:
        return arrival_rate
    load, bench = results.settings.load, results.settings.bench
    return closed_loop_rate(users, load.wait_mean_s, bench.graph_latency_ms + bench.llm_latency_ms)


def _measurable(summary: LevelSummary) -> bool:
    """A level whose CPU per request can be trusted: usable, or only slowed by the bench."""
    return summary.service_cpu_ms_per_request is not None and (summary.usable or summary.slowed_by_bench)


def cpu_need(results: Results, summary: LevelSummary) -> CpuNeed | None:
    """The worker CPUs ``summary``'s service needs for the load of ``summary``'s level."""
    offered = offered_rps(results, summary.users, summary.arrival_rate)
    own = [s for s in results.summaries if s.service == summary.service and _measurable(s)]
    if offered is None or not own:
        return None
    # The level itself when it can be trusted, else the highest that can (CPU per request falls
    # a little as load rises: the highest measured level is the closer one).
    source = summary if _measurable(summary) else max(own, key=lambda s: (s.arrival_rate, s.users))
    ms = source.service_cpu_ms_per_request
    assert ms is not None
    database_ms = source.bench_cpu_ms_per_request.get(Component.DATABASE)
    return CpuNeed(
        offered_rps=offered,
        service_cpus=max(1, math.ceil(offered * ms / 1000)),
        service_ms=ms,
        measured_at=load_label(source.users, source.arrival_rate),
        database_cores=offered * database_ms / 1000 if database_ms is not None else None,
    )


def short_of_cpu(summary: LevelSummary) -> bool:
    """The level says nothing because CPU ran out: the service filled its own CPUs, or the only
    reason it is unusable is that the bench's CPUs, the machine or the database were saturated."""
    return summary.service_saturated or bench_short_of_cpu(summary)


def bench_short_of_cpu(summary: LevelSummary) -> bool:
    """The only reason the level is unusable is that the bench's CPUs, the machine or the database
    were saturated (a disturbance, a short step or a saturated load generator is not)."""
    cpu = {Component.BENCH_CPUS, Component.MACHINE, Component.DATABASE}
    return bool(summary.unusable) and all(
        issue.code is Unusable.BENCH_BOUND and issue.component in cpu for issue in summary.unusable
    )
