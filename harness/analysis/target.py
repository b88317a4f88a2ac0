"""The second answer: can a service hold the checklist's target load, and on what.

The verdict (:mod:`.decision`) says which design is better, from what this machine measured. This
says whether a design holds the checklist's final load test (500 users at its pacing: p95 under
2 s, p99 under 5 s, 500 requests/s, errors under 0.1 %) on the checklist's deployment (Step 8:
gunicorn with 4 uvicorn workers, one CPU each), and what that costs a month.

* **measured**, where the run served the target level with usable figures: it holds (every
  figure within the target) or fails (a figure outside it while the service had CPU to spare);
* **projected** otherwise: the load the target offers (users / (mean pause + downstream
  latency)) times the CPU per request measured at the highest level that can be trusted gives the
  service's CPUs, the database's own CPU per request its cores. Those fit the checklist's 4
  workers or exceed them. The assumptions are stated beside it, with the command that would
  measure it on a machine with the CPUs (or against a real ``MONGODB_URI``).

Beside it, the highest throughput measured within the SLO per service CPU, with its interval: a
measured figure (a lower bound where the service still had CPU to spare).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..results import CostFigures, Estimate, LevelSummary, Results, TargetLoad
from ..terms import ECHO, Component, TargetStatus, load_label
from .claims import CHECKLIST_LOAD_TEST
from .projection import offered_rps

__all__ = ["CHECKLIST_WORKERS", "HOURS_PER_MONTH", "target_load", "target_loads"]

CHECKLIST_WORKERS = 4  # Step 8: gunicorn --workers 4 --worker-class uvicorn.workers.UvicornWorker
HOURS_PER_MONTH = 730
_BENCH_CPUS = 3  # beside the service at 500 users: the load generator (2 workers), database, upstream

_ASSUMPTIONS = (
    "CPU per request as measured at {level}; workers scale linearly, one per CPU; the database, the Graph "
    "API and the load generator keep up on hosts of their own"
)


def target_loads(results: Results) -> list[TargetLoad]:
    """The target-load answer for the baseline and every candidate (every service of a one-variant
    run), in the run's order; none for the bench's echo app."""
    services = [s for s in dict.fromkeys(results.settings.services) if s != ECHO]
    services += [s for s in dict.fromkeys(x.service for x in results.summaries) if s not in services and s != ECHO]
    return [t for s in services if (t := target_load(results, s)) is not None]


def target_load(results: Results, service: str) -> TargetLoad | None:
    own = [s for s in results.summaries if s.service == service]
    if not own:
        return None
    users = int(CHECKLIST_LOAD_TEST["users"])
    offered = offered_rps(results, users, 0.0)
    price = results.settings.price_per_vcpu_hour
    capacity, capacity_at = _capacity_per_cpu(results, own)
    base = {
        "service": service,
        "users": users,
        "offered_rps": offered,
        "deployment_workers": CHECKLIST_WORKERS,
        "capacity_rps_per_cpu": capacity,
        "capacity_level": load_label(capacity_at.users, capacity_at.arrival_rate) if capacity_at else None,
        "capacity_saturated": bool(capacity_at and capacity_at.service_saturated),
        "capacity_within_slo": capacity_at is None or _within_slo(capacity_at),
        "price_per_vcpu_hour": price,
    }
    at_target = next((s for s in own if s.users == users and s.arrival_rate == 0), None)
    measured = _measured(results, at_target)
    if measured is not None:
        status, detail = measured
        assert at_target is not None
        cpus = float(_cpus_had(results))
        return TargetLoad(
            **base,
            status=status,
            basis="measured",
            service_cpus=Estimate(value=cpus),
            cpu_ms_per_request=at_target.service_cpu_ms_per_request,
            cpu_measured_at=load_label(users),
            monthly_usd=cpus * price * HOURS_PER_MONTH,
            detail=detail,
        )
    source = _cpu_source(own)
    if source is None or offered is None:
        return TargetLoad(
            **base,
            status=TargetStatus.UNKNOWN,
            basis="projected",
            detail=f"no level of {service} with a trusted CPU per request to project from",
        )
    ms = _cpu_ms(results, source)
    cpus = _scaled(ms, offered / 1000)
    database_ms = source.bench_cpu_ms_per_request.get(Component.DATABASE)
    database = Estimate(value=offered * database_ms / 1000) if database_ms is not None else None
    whole = math.ceil(cpus.value or 0.0)
    status = TargetStatus.FITS if whole <= CHECKLIST_WORKERS else TargetStatus.EXCEEDS
    level = load_label(source.users, source.arrival_rate)
    monthly = (whole + (database.value if database and database.value else 0.0)) * price * HOURS_PER_MONTH
    why = _why_projected(at_target, users)
    return TargetLoad(
        **base,
        status=status,
        basis="projected",
        service_cpus=cpus,
        database_cores=database,
        cpu_ms_per_request=ms.value,
        cpu_measured_at=level,
        monthly_usd=monthly,
        assumptions=_ASSUMPTIONS.format(level=level),
        command=_command(results, service, max(whole, CHECKLIST_WORKERS)),
        detail=why,
    )


def _cpus_had(results: Results) -> int:
    bench = results.settings.bench
    return len(bench.service_cpus) or max(results.machine.cpu_count, 1)


def _within_slo(summary: LevelSummary) -> bool:
    p95 = summary.p95_ms.value
    return (
        p95 is not None
        and p95 < CHECKLIST_LOAD_TEST["p95_ms"]
        and summary.error_rate < CHECKLIST_LOAD_TEST["error_rate"]
    )


def _trusted(summary: LevelSummary) -> bool:
    """Figures that can stand: usable, or only slowed by the bench (pessimistic)."""
    return summary.usable or summary.slowed_by_bench


def _capacity_per_cpu(results: Results, own: Sequence[LevelSummary]) -> tuple[Estimate | None, LevelSummary | None]:
    """The highest throughput measured within the SLO, per service CPU, and where."""
    measured = [s for s in own if _trusted(s) and s.throughput_rps.value is not None]
    # None within the SLO: what the service served with its CPUs full is still its capacity,
    # shown as over the SLO.
    within = [s for s in measured if _within_slo(s)] or [s for s in measured if s.service_saturated]
    if not within:
        return None, None
    best = max(within, key=lambda s: s.throughput_rps.value or 0.0)
    return _scaled(best.throughput_rps, 1 / _cpus_had(results)), best


def _measured(results: Results, summary: LevelSummary | None) -> tuple[TargetStatus, str] | None:
    """HOLDS or FAILS where the run measured the target level on usable figures; None: project it."""
    if summary is None or not summary.usable:
        return None
    target = CHECKLIST_LOAD_TEST
    misses = []
    if (p95 := summary.p95_ms.value) is None or p95 >= target["p95_ms"]:
        misses.append(f"p95 {p95:.0f} ms" if p95 is not None else "no p95")
    if (p99 := summary.p99_ms.value) is None or p99 >= target["p99_ms"]:
        misses.append(f"p99 {p99:.0f} ms" if p99 is not None else "no p99")
    if (rps := summary.throughput_rps.value) is None or rps < target["throughput_rps"]:
        misses.append(f"{rps:.1f} req/s" if rps is not None else "no throughput")
    if summary.error_rate >= target["error_rate"]:
        misses.append(f"errors {summary.error_rate:.2%}")
    cpus = _cpus_had(results)
    if not misses:
        return (
            TargetStatus.HOLDS,
            f"measured at {target['users']:.0f} users on {cpus} service CPU(s): within the target",
        )
    if summary.service_saturated:
        return None  # it filled the CPUs it had: more of them is what the target needs (projected)
    return TargetStatus.FAILS, (
        f"measured at {target['users']:.0f} users on {cpus} service CPU(s) with CPU to spare: {', '.join(misses)} "
        "misses the target"
    )


def _cpu_source(own: Sequence[LevelSummary]) -> LevelSummary | None:
    """The highest level whose CPU per request can be trusted (CPU per request falls a little as
    load rises: the highest measured level is the closer one to the target)."""
    trusted = [s for s in own if s.service_cpu_ms_per_request is not None and _trusted(s)]
    return max(trusted, key=lambda s: (s.arrival_rate, s.users), default=None)


def _cpu_ms(results: Results, summary: LevelSummary) -> Estimate:
    """CPU ms per request with its interval (the cost figures' own, where the run has them)."""
    cost: CostFigures | None = next(
        (
            c
            for c in results.costs
            if (c.service, c.users, c.arrival_rate) == (summary.service, summary.users, summary.arrival_rate)
        ),
        None,
    )
    if cost is not None and cost.service_cpu_s_per_1000.value is not None:
        return cost.service_cpu_s_per_1000  # seconds per 1,000 requests = ms per request
    return Estimate(value=summary.service_cpu_ms_per_request)


def _scaled(value: Estimate, factor: float) -> Estimate:
    def times(x: float | None) -> float | None:
        return None if x is None else x * factor

    return Estimate(value=times(value.value), ci_low=times(value.ci_low), ci_high=times(value.ci_high))


def _why_projected(summary: LevelSummary | None, users: int) -> str:
    if summary is None:
        return f"this run did not include {users} users"
    causes = ["the service filled the CPUs it had"] if summary.service_saturated else []
    causes += [issue.detail for issue in summary.unusable]
    return f"{users} users could not be served here ({'; '.join(causes) or 'not usable'})"


def _command(results: Results, service: str, workers: int) -> str:
    """What would measure the target: the service alone at the target on ``workers`` CPUs, on a
    machine with the CPUs for it and the bench, against a real MongoDB."""
    users = int(CHECKLIST_LOAD_TEST["users"])
    return (
        f"on a machine with {workers + _BENCH_CPUS}+ CPUs: MONGODB_URI=mongodb://HOST:27017 .venv/bin/harness run "
        f"--variant {service} --users {users} --workers {workers} --service-cpus {workers} --locust-workers 2"
    )
