"""Capacity at the SLO: what one open-loop rate showed, the bracket a search ends with, how
capacity grows with worker CPUs, and the worker CPUs a target rate needs (a projection).

A rate is **sustained** when the p95 from each request's due time (coordinated omission
corrected) is under the SLO, errors (5xx or no answer) are within the limit, and the generator
sent at least ``min_delivered`` of the rate; a bench that ran out of CPU voids the rate. The
capacity is the highest sustained rate below the lowest rate that was not, confirmed by a
longer validation run. Its interval runs from the highest rate whose p95 block-bootstrap 95 %
interval lay wholly under the SLO (sustained beyond doubt) to the lowest rate that broke it: it
holds both the statistical doubt and the search's resolution.

Scaling is fitted, never assumed, where the points allow it: linear X(n) = lambda n, Amdahl's
serial share, or the Universal Scalability Law, each taken over the simpler one only when an
extra-sum-of-squares F-test supports it (p < 0.05). With one point (one service CPU, the
2-core case) linear scaling is assumed, which is an upper bound: any contention only lowers it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..results import (
    CapacityProbe,
    CapacityRatio,
    CapacityResult,
    ClaimCheck,
    CpuProjection,
    Estimate,
    ScalingFit,
    StepResult,
)
from ..terms import Component, ProbeVerdict, ScalingModel
from .stats import block_percentile_ci, percentile
from .steps import in_window

__all__ = [
    "CapacityRule",
    "capacity_claims",
    "capacity_ratios",
    "capacity_result",
    "fit_scaling",
    "probe_result",
    "project_cpus",
    "scaling_curve",
]

_OVER = (ProbeVerdict.OVER_SLO, ProbeVerdict.ERRORS)
_F_TEST_LEVEL = 0.05
_MAX_WORKERS = 4096  # a projection past this is no answer anyone can deploy


@dataclass(frozen=True)
class CapacityRule:
    """What "sustained" means: the checklist's 2 s p95 and 0.1 % errors, 99 % of the rate sent."""

    slo_p95_ms: float = 2000.0
    max_error_rate: float = 0.001
    min_delivered: float = 0.99


def probe_result(
    step: StepResult,
    records: pd.DataFrame,
    *,
    workers: int,
    phase: str,
    rule: CapacityRule,
    seed: int = 0,
    step_dir: str | None = None,
) -> CapacityProbe:
    """What one open-loop step (``step``, with its ``records``) showed about its rate."""
    rate = step.arrival_rate
    t0 = step.window_start if step.window_start is not None else 0.0
    measured = in_window(records, t0, t0 + step.window_s)
    answered = measured[measured["status"] != 0]
    latencies = answered["corrected_latency_ms"].to_numpy(dtype=float)
    seconds = np.floor(answered["t_start"].to_numpy(dtype=float) - t0)
    p95 = percentile(latencies, 95)
    ci = block_percentile_ci(latencies, seconds, 95, seed=seed) if p95 is not None else None
    sent = len(measured) / step.window_s
    database_ms = step.components.get(Component.DATABASE)
    return CapacityProbe(
        service=step.service,
        workers=workers,
        phase=phase,  # type: ignore[arg-type]
        rate_rps=rate,
        sent_rps=sent,
        throughput_rps=step.throughput_rps,
        p95_ms=Estimate(value=p95, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None),
        error_rate=step.error_rate,
        window_s=step.window_s,
        stopped_early=step.stopped_early,
        verdict=_verdict(step, p95, sent, rule),
        service_cores=step.cpu_load.service_cores if step.cpu_load else None,
        bench_cores=step.cpu_load.bench_cores if step.cpu_load else None,
        service_cpu_ms_per_request=step.service_cpu_ms_per_request,
        database_cpu_ms_per_request=(
            database_ms.cpu_seconds * 1000 / step.requests if database_ms is not None and step.requests else None
        ),
        database_operations_per_request=step.database.operations_per_request if step.database else None,
        bound_by=list(step.bound_by),
        step_dir=step_dir,
    )


def _verdict(step: StepResult, p95: float | None, sent_rps: float, rule: CapacityRule) -> ProbeVerdict:
    if step.bound_by:
        return ProbeVerdict.BENCH_BOUND
    if step.error_rate > rule.max_error_rate:
        return ProbeVerdict.ERRORS
    if p95 is None or p95 >= rule.slo_p95_ms:
        return ProbeVerdict.OVER_SLO
    if sent_rps < rule.min_delivered * step.arrival_rate:
        return ProbeVerdict.UNDELIVERED
    return ProbeVerdict.SUSTAINED


def bracket(probes: Sequence[CapacityProbe]) -> tuple[CapacityProbe | None, CapacityProbe | None]:
    """(highest sustained probe below the lowest probe that was not, that lowest probe)."""
    failed = [p for p in probes if p.verdict is not ProbeVerdict.SUSTAINED]
    upper = min(failed, key=lambda p: p.rate_rps, default=None)
    ceiling = upper.rate_rps if upper is not None else math.inf
    sustained = [p for p in probes if p.verdict is ProbeVerdict.SUSTAINED and p.rate_rps < ceiling]
    return max(sustained, key=lambda p: (p.rate_rps, p.phase == "validate"), default=None), upper


def capacity_result(
    probes: Sequence[CapacityProbe],
    *,
    service: str,
    workers: int,
    service_cpus: Sequence[int],
    rule: CapacityRule,
    ceiling_rps: float,
) -> CapacityResult:
    """The capacity one search of ``service`` at ``workers`` found, from all its probes."""
    own = [p for p in probes if p.service == service and p.workers == workers]
    best, upper = bracket(own)
    notes: list[str] = []
    if best is None:
        notes.append(
            "no rate tried was sustained"
            + (f" (the lowest, {upper.rate_rps:.1f} rps, was {upper.verdict.value})" if upper else "")
        )
    clear = [
        p
        for p in own
        if best is not None
        and p.verdict is ProbeVerdict.SUSTAINED
        and p.rate_rps <= best.rate_rps
        and p.p95_ms.ci_high is not None
        and p.p95_ms.ci_high < rule.slo_p95_ms
    ]
    low = max((p.rate_rps for p in clear), default=None)
    high = upper.rate_rps if upper is not None and upper.verdict in _OVER else None
    if upper is not None and upper.verdict not in _OVER:
        notes.append(
            f"{upper.rate_rps:.1f} rps was {upper.verdict.value}: the bench, not {service}, set the limit there, "
            "so the capacity is at least the figure shown"
        )
    validated = best is not None and any(
        p.phase == "validate" and p.verdict is ProbeVerdict.SUSTAINED and p.rate_rps == best.rate_rps for p in own
    )
    if best is not None and not validated:
        notes.append("no longer run confirmed the capacity")
    ignored = [p for p in own if p.verdict is ProbeVerdict.SUSTAINED and upper and p.rate_rps > upper.rate_rps]
    if ignored:
        notes.append(
            "sustained above a rate that was not (noise near the limit): "
            + ", ".join(f"{p.rate_rps:.1f} rps" for p in ignored)
        )
    cpus = len(service_cpus) or workers
    value = best.rate_rps if best is not None else None
    database_ms = _marginal_database_ms(own, best)
    ceiling_reached = best is not None and upper is None and best.rate_rps * 1.0001 >= ceiling_rps
    if ceiling_reached:
        notes.append(f"still sustained at the search's ceiling ({ceiling_rps:.0f} rps): the capacity is higher")
    source = best
    return CapacityResult(
        service=service,
        workers=workers,
        service_cpus=list(service_cpus),
        capacity_rps=Estimate(value=value, ci_low=low, ci_high=high),
        per_cpu_rps=Estimate(
            value=value / cpus if value is not None else None,
            ci_low=low / cpus if low is not None else None,
            ci_high=high / cpus if high is not None else None,
        ),
        validated=validated,
        ceiling_reached=ceiling_reached,
        database_operations_per_request=source.database_operations_per_request if source else None,
        database_cpu_ms_per_request=database_ms,
        service_cpu_ms_per_request=source.service_cpu_ms_per_request if source else None,
        notes=notes,
    )


def _marginal_database_ms(probes: Sequence[CapacityProbe], best: CapacityProbe | None) -> float | None:
    """The database's CPU per extra request: the slope of its cores over the rates sustained. Its
    CPU over its requests at one rate would count its idle work too, most of it at a low rate."""
    points = [
        (p.throughput_rps, p.database_cpu_ms_per_request * p.sent_rps / 1000)
        for p in probes
        if p.verdict is ProbeVerdict.SUSTAINED and p.database_cpu_ms_per_request is not None
    ]
    if len({rate for rate, _ in points}) >= 2:
        slope = float(np.polyfit([r for r, _ in points], [c for _, c in points], 1)[0])
        if slope > 0:
            return slope * 1000
    return best.database_cpu_ms_per_request if best is not None else None


# -- scaling --------------------------------------------------------------------------------------
def scaling_curve(model: ScalingModel, parameters: dict[str, float]) -> Callable[[np.ndarray], np.ndarray]:
    """X(n), the capacity at n workers, of a fitted (or assumed) model."""
    lam, sigma, kappa = parameters.get("lambda", 0.0), parameters.get("sigma", 0.0), parameters.get("kappa", 0.0)
    if model is ScalingModel.LINEAR:
        sigma = kappa = 0.0
    elif model is ScalingModel.AMDAHL:
        kappa = 0.0

    def curve(n: np.ndarray) -> np.ndarray:
        n = np.asarray(n, dtype=float)
        return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))

    return curve


def _usl(n: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _amdahl(n: np.ndarray, lam: float, sigma: float) -> np.ndarray:
    return _usl(n, lam, sigma, 0.0)


def _linear(n: np.ndarray, lam: float) -> np.ndarray:
    return lam * n


_MODELS: tuple[tuple[ScalingModel, Callable[..., np.ndarray], tuple[str, ...]], ...] = (
    (ScalingModel.LINEAR, _linear, ("lambda",)),
    (ScalingModel.AMDAHL, _amdahl, ("lambda", "sigma")),
    (ScalingModel.USL, _usl, ("lambda", "sigma", "kappa")),
)


def fit_scaling(service: str, points: Sequence[tuple[int, float]]) -> ScalingFit:
    """The scaling model the (workers, capacity) points support, with its residuals."""
    points = sorted(points)
    n = np.array([p[0] for p in points], dtype=float)
    x = np.array([p[1] for p in points], dtype=float)
    if len(set(n)) < 2:
        lam = float(np.mean(x / n)) if len(n) else 0.0
        return ScalingFit(
            service=service,
            model=ScalingModel.LINEAR,
            parameters={"lambda": lam},
            points=list(points),
            residuals=[float(v) for v in x - lam * n],
            fitted=False,
            note=(
                f"{len(set(n))} worker count measured: linear scaling is assumed, not shown (an upper bound: "
                "contention between workers only lowers it); a machine with more CPUs can fit it"
            ),
        )
    chosen: tuple[ScalingModel, dict[str, float], np.ndarray] | None = None
    chosen_sse, chosen_k = math.inf, 0
    notes = []
    for model, function, names in _MODELS:
        k = len(names)
        if k >= len(n):
            break  # no degree of freedom left to judge it
        fitted = _fit(function, n, x, k)
        if fitted is None:
            continue
        sse = float(np.sum((x - function(n, *fitted)) ** 2))
        if chosen is not None:
            dof = len(n) - k
            if dof <= 0 or sse >= chosen_sse:
                continue
            f = ((chosen_sse - sse) / (k - chosen_k)) / (sse / dof) if sse > 0 else math.inf
            p_value = float(stats.f.sf(f, k - chosen_k, dof))
            if p_value >= _F_TEST_LEVEL:
                notes.append(f"{model.value} not supported over {chosen[0].value} (F-test p = {p_value:.2f})")
                continue
        chosen = (model, dict(zip(names, map(float, fitted), strict=True)), function(n, *fitted))
        chosen_sse, chosen_k = sse, k
    assert chosen is not None  # linear always fits two or more points
    model, parameters, predicted = chosen
    return ScalingFit(
        service=service,
        model=model,
        parameters=parameters,
        points=list(points),
        residuals=[float(v) for v in x - predicted],
        fitted=True,
        note="; ".join(notes),
    )


def _fit(function: Callable[..., np.ndarray], n: np.ndarray, x: np.ndarray, k: int) -> np.ndarray | None:
    start = [float(x[0] / n[0])] + [0.01] * (k - 1)
    upper = [np.inf] + [1.0] * (k - 1)
    try:
        fitted, _ = optimize.curve_fit(function, n, x, p0=start, bounds=([0.0] * k, upper), maxfev=10_000)
    except (RuntimeError, ValueError):
        return None
    return fitted


def project_cpus(
    fit: ScalingFit,
    target_rps: float,
    target: str,
    capacity: CapacityResult | None,
) -> CpuProjection:
    """PROJECTED: the fewest worker CPUs at which ``fit`` reaches ``target_rps``."""
    curve = scaling_curve(fit.model, fit.parameters)
    counts = np.arange(1, _MAX_WORKERS + 1)
    reach = curve(counts)
    enough = np.nonzero(reach >= target_rps)[0]
    workers = int(counts[enough[0]]) if enough.size else None
    peak = float(reach.max()) if fit.model is not ScalingModel.LINEAR else None
    database_ms = capacity.database_cpu_ms_per_request if capacity else None
    assumptions = [
        "one worker process per CPU, as measured",
        (
            f"the {fit.model.value} model fitted to {len(fit.points)} point(s) holds beyond them"
            if fit.fitted
            else "linear scaling from the one worker count measured (an upper bound)"
        ),
        "the mix, the payloads and the CPU per request stay as measured",
        "the bench (database, fake upstream, load generator) runs elsewhere and keeps up",
    ]
    if database_ms is not None:
        assumptions.append(
            f"the database's CPU per request stays at the measured {database_ms:.2f} ms; the embedded server "
            "is one process, so it has one core to give"
        )
    return CpuProjection(
        service=fit.service,
        target_rps=target_rps,
        target=target,
        workers_needed=workers,
        model=fit.model,
        peak_rps=peak,
        database_cores_at_target=target_rps * database_ms / 1000 if database_ms is not None else None,
        database_limit_rps=1000 / database_ms if database_ms else None,
        assumptions=assumptions,
    )


# -- between variants -----------------------------------------------------------------------------
def capacity_ratios(results: Sequence[CapacityResult], baseline: str) -> list[CapacityRatio]:
    """Each variant's capacity over the baseline's at the same worker count."""
    base = {r.workers: r for r in results if r.service == baseline}
    ratios = []
    for result in results:
        reference = base.get(result.workers)
        if result.service == baseline or reference is None:
            continue
        mine, theirs = result.capacity_rps, reference.capacity_rps
        ratios.append(
            CapacityRatio(
                service=result.service,
                baseline=baseline,
                workers=result.workers,
                value=Estimate(
                    value=_divide(mine.value, theirs.value),
                    ci_low=_divide(mine.ci_low, theirs.ci_high),
                    ci_high=_divide(mine.ci_high, theirs.ci_low),
                ),
            )
        )
    return ratios


def _divide(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def capacity_claims(ratios: Sequence[CapacityRatio]) -> list[ClaimCheck]:
    """The checklist's "50x better throughput", judged on capacity at the SLO (open loop: no closed
    loop caps the ratio), at the most workers both variants were measured with."""
    top: dict[str, CapacityRatio] = {}
    for ratio in ratios:
        if ratio.service not in top or ratio.workers > top[ratio.service].workers:
            top[ratio.service] = ratio
    checks = []
    for ratio in top.values():
        low, high = ratio.value.ci_low, ratio.value.ci_high
        if low is not None and low >= 50:
            outcome, why = "held", "the whole interval is at or past 50x"
        elif high is not None and high < 50:
            outcome, why = "not_held", "the whole interval is short of 50x"
        else:
            outcome, why = "cannot_judge", "the interval reaches 50x, or has an open end"
        checks.append(
            ClaimCheck(
                candidate=ratio.service,
                baseline=ratio.baseline,
                code="throughput_50x",
                claim="50x better throughput",
                promised=50.0,
                measured=ratio.value,
                unit="x",
                level=f"capacity at the SLO, {ratio.workers} worker(s)",
                outcome=outcome,  # type: ignore[arg-type]
                reason=f"capacity ratio at p95 < SLO, open loop: {why}",
            )
        )
    return checks
