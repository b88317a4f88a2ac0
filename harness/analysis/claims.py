"""The checklist's own promises, checked in every run, and what a message costs.

The checklist closes with "Your system is now ready to handle 500+ concurrent requests with 50x
better throughput, 5x faster response times, 99.9% success rate, 76% cost reduction". Each
promise is judged for every candidate against the baseline on the levels usable for both:

* throughput (50x): the throughput ratio at the highest such level, where the designs differ
  most. A closed loop caps it: users who wait for slow answers send fewer requests, so no ratio
  can exceed what the users offer over what the baseline answers (capacity measures it better);
* response times (5x): the baseline's p95 over the candidate's, at every such level;
* success (99.9 %): the candidate's share of 2xx answers at every usable level of its own, with
  a Wilson 95% interval (at a few thousand requests even 100 % cannot show 99.9 %);
* 500+ concurrent requests: the checklist's own final load test (step 10: 500 users, success
  > 99 %, p95 < 2 s, p99 < 5 s, 500+ req/s, errors < 0.1 %), at the most users the run reached;
* cost (76 %): one minus the candidate's service CPU per request over the baseline's, at every
  such level (CPU is what a deployment pays for).

Held when the whole 95% interval is on the promised side (everywhere it is judged), not held
when it is wholly on the other side (anywhere), and otherwise it cannot be judged here, with why.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from scipy import stats

from ..results import ClaimCheck, ClaimOutcome, CostFigures, Decision, Estimate, LevelSummary, Results, StepResult
from ..terms import HELPER_COMPONENTS, load_label
from .cpu import cpu_pairs, cpu_per_request, ms_per_request, service_ms_per_request
from .levels import summary_records
from .stats import paired_samples_ci

__all__ = ["CHECKLIST_LOAD_TEST", "check_claims", "cost_figures", "repriced"]

# The checklist's step 10, "Run Final Load Test": what "handles 500+ concurrent requests" rests on.
CHECKLIST_LOAD_TEST = {
    "users": 500,
    "success_rate": 0.99,
    "p95_ms": 2000.0,
    "p99_ms": 5000.0,
    "throughput_rps": 500.0,
    "error_rate": 0.001,
}
_Level = tuple[int, float]


def check_claims(results: Results, records: pd.DataFrame, seed: int = 0) -> list[ClaimCheck]:
    checks: list[ClaimCheck] = []
    for decision in results.decisions:
        comparable = _comparable(results.summaries, decision.candidate, decision.baseline)
        checks += [
            _throughput(decision, comparable),
            _faster(decision, comparable),
            _success(results, decision),
            _concurrent(results, decision),
            _cost(results, records, decision, comparable, seed),
        ]
    return checks


def _check(
    decision: Decision,
    code: str,
    claim: str,
    promised: float,
    measured: Estimate | None,
    unit: str,
    level: str | None,
    outcome: ClaimOutcome,
    reason: str,
) -> ClaimCheck:
    return ClaimCheck(
        candidate=decision.candidate,
        baseline=decision.baseline,
        code=code,
        claim=claim,
        promised=promised,
        measured=measured,
        unit=unit,
        level=level,
        outcome=outcome,
        reason=reason,
    )


def _comparable(summaries: Sequence[LevelSummary], candidate: str, baseline: str) -> list[_Level]:
    usable = {(s.service, s.users, s.arrival_rate) for s in summaries if s.usable}
    levels = {(u, r) for _, u, r in usable}
    both = [level for level in levels if (candidate, *level) in usable and (baseline, *level) in usable]
    return sorted(both, key=lambda level: (level[1], level[0]))


def _side(estimate: Estimate, promised: float) -> int | None:
    """+1 the whole interval at or past the promise, -1 wholly short of it, 0 straddling it."""
    if estimate.ci_low is None or estimate.ci_high is None:
        return None
    return 1 if estimate.ci_low >= promised else -1 if estimate.ci_high < promised else 0


def _overall(sides: Sequence[int | None]) -> ClaimOutcome:
    if any(side == -1 for side in sides):
        return "not_held"
    if sides and all(side == 1 for side in sides):
        return "held"
    return "cannot_judge"


def _ratio_at(decision: Decision, metric: str, level: _Level) -> Estimate | None:
    found = [r.value for r in decision.ratios if r.metric == metric and (r.users, r.arrival_rate) == level]
    return found[0] if found and found[0].value is not None else None


def _none_comparable(decision: Decision, code: str, claim: str, promised: float, unit: str) -> ClaimCheck:
    reason = f"no load level is usable for both {decision.candidate} and {decision.baseline}"
    return _check(decision, code, claim, promised, None, unit, None, "cannot_judge", reason)


def _throughput(decision: Decision, comparable: Sequence[_Level]) -> ClaimCheck:
    code, claim, promised = "throughput_50x", "50x better throughput", 50.0
    if not comparable:
        return _none_comparable(decision, code, claim, promised, "x")
    top = comparable[-1]
    ratio = _ratio_at(decision, "throughput_rps", top)
    if ratio is None:
        return _check(
            decision,
            code,
            claim,
            promised,
            None,
            "x",
            load_label(*top),
            "cannot_judge",
            "the throughput ratio was not computed",
        )
    outcome = _overall([_side(ratio, promised)])
    reason = (
        f"throughput ratio at {load_label(*top)}, the highest level usable for both; in a closed loop it "
        "is capped by what the users offer (a slow baseline is sent less), so the capacity at the SLO "
        "(harness capacity) is the fuller measure"
    )
    return _check(decision, code, claim, promised, ratio, "x", load_label(*top), outcome, reason)


def _speedup(ratio: Estimate) -> Estimate:
    """baseline / candidate from candidate / baseline (the interval's ends swap)."""
    low, high = ratio.ci_low, ratio.ci_high
    return Estimate(
        value=1 / ratio.value if ratio.value else None,
        ci_low=1 / high if high else None,
        ci_high=1 / low if low else None,
    )


def _faster(decision: Decision, comparable: Sequence[_Level]) -> ClaimCheck:
    code, claim, promised = "faster_5x", "5x faster response times", 5.0
    if not comparable:
        return _none_comparable(decision, code, claim, promised, "x")
    speedups = {level: _speedup(r) for level in comparable if (r := _ratio_at(decision, "p95_ms", level))}
    if not speedups:
        return _check(decision, code, claim, promised, None, "x", None, "cannot_judge", "no p95 ratio was computed")
    worst = min(speedups, key=lambda level: speedups[level].value or 0.0)
    outcome = _overall([_side(s, promised) for s in speedups.values()])
    levels = ", ".join(load_label(*level) for level in speedups)
    reason = f"the baseline's p95 over the candidate's, at every level usable for both ({levels}); the least shown"
    return _check(decision, code, claim, promised, speedups[worst], "x", load_label(*worst), outcome, reason)


def _wilson(successes: int, requests: int) -> Estimate:
    interval = stats.binomtest(successes, requests).proportion_ci(confidence_level=0.95, method="wilson")
    return Estimate(value=successes / requests, ci_low=float(interval.low), ci_high=float(interval.high))


def _success(results: Results, decision: Decision) -> ClaimCheck:
    code, claim, promised = "success_999", "99.9% success rate", 0.999
    own = [s for s in results.summaries if s.service == decision.candidate and s.usable and s.requests]
    if not own:
        return _check(
            decision,
            code,
            claim,
            promised,
            None,
            "share",
            None,
            "cannot_judge",
            f"no level of {decision.candidate} is usable",
        )
    shares = [(s, _wilson(round(s.success_rate * s.requests), s.requests)) for s in own]
    worst, lowest = min(shares, key=lambda pair: pair[1].ci_low or 0.0)
    outcome = _overall([_side(share, promised) for _, share in shares])
    reason = "2xx answers at every usable level, Wilson 95% interval; the level with the lowest interval shown"
    if outcome == "cannot_judge":
        reason += f" (with {worst.requests} requests the interval cannot show 99.9 %: run longer steps)"
    level = load_label(worst.users, worst.arrival_rate)
    return _check(decision, code, claim, promised, lowest, "share", level, outcome, reason)


def _passes_load_test(summary: LevelSummary) -> bool:
    test = CHECKLIST_LOAD_TEST
    return (
        summary.success_rate > test["success_rate"]
        and summary.error_rate < test["error_rate"]
        and (summary.p95_ms.value or float("inf")) < test["p95_ms"]
        and (summary.p99_ms.value or float("inf")) < test["p99_ms"]
    )


def _concurrent(results: Results, decision: Decision) -> ClaimCheck:
    code, claim, promised = "concurrent_500", "handles 500+ concurrent requests", 500.0
    own = sorted(
        (s for s in results.summaries if s.service == decision.candidate and s.arrival_rate == 0), key=lambda s: s.users
    )
    usable = [s for s in own if s.usable]
    passing = [s for s in usable if _passes_load_test(s)]
    failing = [s for s in usable if not _passes_load_test(s) and s.users <= promised]
    held_up_to = Estimate(value=float(max((s.users for s in passing), default=0)))
    at_target = [s for s in own if s.users >= promised]
    test = CHECKLIST_LOAD_TEST
    rule = (
        f"the checklist's step-10 test: success > {test['success_rate']:.0%}, p95 < {test['p95_ms']:g} ms, "
        f"p99 < {test['p99_ms']:g} ms, errors < {test['error_rate']:.1%}"
    )
    if failing:
        first = failing[0]
        reason = f"{rule}; it fails at {first.users} users, so not at {promised:g}"
        return _check(decision, code, claim, promised, held_up_to, "users", f"{first.users} users", "not_held", reason)
    reached = [s for s in at_target if s.usable and _passes_load_test(s)]
    if reached and (s := reached[0]).throughput_rps.value and s.throughput_rps.value >= test["throughput_rps"]:
        return _check(decision, code, claim, promised, held_up_to, "users", f"{s.users} users", "held", rule)
    if reached:
        reason = f"{rule}, and 500+ req/s: {reached[0].throughput_rps.value:.0f} req/s at {reached[0].users} users"
        return _check(
            decision, code, claim, promised, held_up_to, "users", f"{reached[0].users} users", "not_held", reason
        )
    if not at_target:
        why = f"the run did not reach {promised:g} users"
    else:
        causes = "; ".join(issue.detail for issue in at_target[0].unusable)
        why = f"{at_target[0].users} users is not usable here ({causes})"
    reason = f"{rule}; it holds up to {held_up_to.value:g} users, but {why}"
    return _check(decision, code, claim, promised, held_up_to, "users", None, "cannot_judge", reason)


def _steps_of(results: Results, service: str, level: _Level) -> list[StepResult]:
    return [s for s in results.steps if (s.service, s.users, s.arrival_rate) == (service, *level)]


def _summary(results: Results, service: str, level: _Level) -> LevelSummary | None:
    found = [s for s in results.summaries if (s.service, s.users, s.arrival_rate) == (service, *level)]
    return found[0] if found else None


def _reduction(results: Results, records: pd.DataFrame, decision: Decision, level: _Level, seed: int) -> Estimate:
    """1 - candidate CPU per request / baseline's, with an interval over each side's seconds."""
    sides = []
    for service in (decision.candidate, decision.baseline):
        summary = _summary(results, service, level)
        level_records = summary_records(summary, records) if summary is not None else records.iloc[0:0]
        sides.append(cpu_pairs(_steps_of(results, service, level), level_records))
    candidate = service_ms_per_request(_steps_of(results, decision.candidate, level))
    baseline = service_ms_per_request(_steps_of(results, decision.baseline, level))
    if candidate is None or not baseline:
        return Estimate(value=None)
    value = 1 - candidate / baseline

    def reduction(candidate_pairs, baseline_pairs, axis=-1):
        return 1 - ms_per_request(candidate_pairs, axis) / ms_per_request(baseline_pairs, axis)

    enough = all(side.shape[1] >= 2 for side in sides)
    ci = paired_samples_ci(sides, reduction, seed=seed) if enough else None
    if ci is not None:
        shift = value - float(reduction(*sides))
        ci = (ci[0] + shift, ci[1] + shift)
    return Estimate(value=value, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None)


def _cost(
    results: Results, records: pd.DataFrame, decision: Decision, comparable: Sequence[_Level], seed: int
) -> ClaimCheck:
    code, claim, promised = "cost_76", "76% cost reduction", 0.76
    if not comparable:
        return _none_comparable(decision, code, claim, promised, "share")
    reductions = {level: _reduction(results, records, decision, level, seed) for level in comparable}
    reductions = {level: r for level, r in reductions.items() if r.value is not None}
    if not reductions:
        return _check(
            decision, code, claim, promised, None, "share", None, "cannot_judge", "the service's CPU was not measured"
        )
    worst = min(reductions, key=lambda level: reductions[level].value)
    outcome = _overall([_side(r, promised) for r in reductions.values()])
    reason = "1 - the candidate's service CPU per request over the baseline's, at every level usable for both"
    return _check(decision, code, claim, promised, reductions[worst], "share", load_label(*worst), outcome, reason)


# -- cost per message ---------------------------------------------------------------------------
def cost_figures(results: Results, records: pd.DataFrame, seed: int = 0) -> list[CostFigures]:
    """Per service and load level: CPU seconds per 1,000 requests (the service's, with its
    interval, and the bench's) and what a million requests cost at the run's vCPU-hour price."""
    price = results.settings.price_per_vcpu_hour
    figures = []
    for summary in results.summaries:
        level = (summary.users, summary.arrival_rate)
        steps = _steps_of(results, summary.service, level)
        per_request = cpu_per_request(steps, summary_records(summary, records), seed)
        if per_request.value is None:
            continue
        bench = sum(s.components[c].cpu_seconds for s in steps for c in HELPER_COMPONENTS if c in s.components)
        requests = sum(s.requests for s in steps)
        figures.append(
            CostFigures(
                service=summary.service,
                users=summary.users,
                arrival_rate=summary.arrival_rate,
                service_cpu_s_per_1000=_scaled(per_request, 1.0),
                bench_cpu_s_per_1000=bench * 1000 / requests if requests else None,
                usd_per_million=_scaled(per_request, 1000 / 3600 * price),
                price_per_vcpu_hour=price,
            )
        )
    return figures


def repriced(results: Results, price_per_vcpu_hour: float) -> Results:
    """``results`` with its cost figures at another vCPU-hour price (the CPU figures stay)."""
    factor = 1000 / 3600 * price_per_vcpu_hour
    costs = [
        cost.model_copy(
            update={
                "usd_per_million": _scaled(cost.service_cpu_s_per_1000, factor),
                "price_per_vcpu_hour": price_per_vcpu_hour,
            }
        )
        for cost in results.costs
    ]
    targets = [
        target.model_copy(
            update={
                "monthly_usd": None
                if target.monthly_usd is None or not target.price_per_vcpu_hour
                else target.monthly_usd * price_per_vcpu_hour / target.price_per_vcpu_hour,
                "price_per_vcpu_hour": price_per_vcpu_hour,
            }
        )
        for target in results.targets
    ]
    settings = results.settings.model_copy(update={"price_per_vcpu_hour": price_per_vcpu_hour})
    return results.model_copy(update={"costs": costs, "settings": settings, "targets": targets})


def _scaled(per_request_ms: Estimate, factor: float) -> Estimate:
    """ms per request x factor: ms/request is CPU seconds per 1,000 requests (factor 1)."""

    def times(value: float | None) -> float | None:
        return None if value is None else value * factor

    return Estimate(
        value=times(per_request_ms.value), ci_low=times(per_request_ms.ci_low), ci_high=times(per_request_ms.ci_high)
    )
