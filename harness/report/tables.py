"""The report's tables as DataFrames of display strings, shared by Markdown, HTML and the console.

Building each table once keeps the three renderings saying exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..analysis.criteria import variant_has_cache
from ..metrics import (
    COMPARED_PERCENTILES,
    LATENCY_METRICS,
    METRIC_LABELS,
    METRIC_UNITS,
    SHORT_LABELS,
    decimals,
    higher_is_better,
)
from ..results import (
    AuditFigures,
    CriterionResult,
    Effect,
    Estimate,
    FaultResult,
    LevelSummary,
    Results,
    StepResult,
)
from ..rounding import MISSING, estimate, number, p_value, percent
from ..terms import COMPONENT_LABELS, Component, Outcome, load_label
from .firstscreen import CLAIM_LABELS, claim_figure, promised_text

__all__ = [
    "OUTCOME_LABELS",
    "attribution_table",
    "capacity_table",
    "claims_table",
    "costs_table",
    "criteria_table",
    "decision_table",
    "effect_text",
    "faults_table",
    "machine_line",
    "notes",
    "ratios_table",
    "settings_lines",
    "soak_table",
    "steps_table",
]


def machine_line(results: Results) -> str:
    machine = results.machine
    load = " / ".join(f"{value:.2f}" for value in machine.load_average_at_start)
    return (
        f"Machine: {machine.hostname}, {machine.platform}, {machine.cpu_count} CPUs ({machine.cpu_model}), "
        f"{machine.memory_gib:.1f} GiB RAM, load average at start {load}, Python {machine.python}"
    )


def settings_lines(results: Results) -> list[str]:
    """The machine and the settings, stated before any figure (they bound what the figures mean)."""
    s, load, bench = results.settings, results.settings.load, results.settings.bench
    levels = (
        "users " + ", ".join(str(u) for u in load.users)
        if not load.arrival_rates
        else "arrival rates " + ", ".join(f"{r:g}" for r in load.arrival_rates) + " req/s (open loop)"
    )
    lines = [
        machine_line(results),
        f"Workers: {bench.service_workers} service worker(s), {load.locust_workers} Locust worker(s)"
        + (" (Locust in one process)" if load.locust_workers == 0 and not load.remote_workers else "")
        + (
            f", {load.remote_workers} remote Locust worker(s) whose CPU is not sampled: the "
            "generator-saturation guard sees only this machine's share"
            if load.remote_workers
            else ""
        ),
        f"Steps: {levels}; {load.step_duration_s:g} s each, after {load.warmup_s:g} s of warm-up "
        f"(excluded); {load.trials} trial(s) per step",
        f"Downstream latencies (fake upstream): Graph API {bench.graph_latency_ms:g} ms, "
        + (f"LLM {bench.llm_latency_ms:g} ms" if bench.llm_latency_ms > 0 else "no LLM call"),
        f"Database: {bench.database}",
        f"CPU isolation: {bench.pinning}",
        f"Services: {', '.join(s.services)}; profile {s.profile}; think time {load.wait_min_s:g}-{load.wait_max_s:g} s",
        f"Data: {bench.businesses} businesses x {bench.phones_per_business} phone numbers; seed {load.seed}; mix "
        + ", ".join(f"{kind} {share:.0%}" for kind, share in load.mix.items()),
        f"Criteria: {s.criteria_file}",
        f"Run: {results.run_id} ({s.command}), started {results.created_at:%Y-%m-%d %H:%M:%S %Z}".rstrip()
        + ("" if results.complete else f"; INCOMPLETE: {results.incomplete_reason or 'stopped early'}"),
    ]
    if s.fault:
        lines.append(f"Fault injected: {s.fault}")
    return lines


def _steps_of(results: Results, summary: LevelSummary) -> list[StepResult]:
    return [
        step
        for step in results.steps
        if (step.service, step.users, step.arrival_rate) == (summary.service, summary.users, summary.arrival_rate)
    ]


def _max_latency(summary: LevelSummary, steps: Sequence[StepResult]) -> float | None:
    latencies = [step.corrected_latency if summary.arrival_rate > 0 else step.latency for step in steps]
    return max(
        (lat.max_ms for lat in latencies if lat is not None and lat.max_ms is not None),
        default=None,
    )


def _audit_cell(summary: LevelSummary, steps: Sequence[StepResult]) -> str:
    audits = [step.audit for step in steps if step.audit is not None]
    if not audits:
        return "not audited"
    total = AuditFigures(**{field: sum(getattr(a, field) for a in audits) for field in AuditFigures.model_fields})
    if total.passed:
        return f"pass ({total.delivered}/{total.expected} delivered)"
    faults = {
        "lost": total.lost,
        "doubled": total.doubled,
        "wrong token": total.wrong_token,
        "unexpected": total.unexpected,
    }
    return "FAIL: " + ", ".join(f"{n} {what}" for what, n in faults.items() if n)


def _cache_cell(summary: LevelSummary, cached: bool | None = None) -> str:
    if summary.has_cache is False:
        return "not read (/metrics)" if cached else "n/a (no cache)"
    return percent(summary.cache_hit_rate, 2, "higher")


def _percentile_cells(summary: LevelSummary) -> dict[str, str]:
    """Every latency percentile of the registry, with its interval."""
    cells = {}
    for metric in LATENCY_METRICS:
        value: Estimate = getattr(summary, metric)
        header = f"{SHORT_LABELS[metric]} {METRIC_UNITS[metric]} [95% CI]"
        cells[header] = estimate(value.value, value.ci_low, value.ci_high, decimals(metric), "lower")
    return cells


def _compared_percentiles(summary: LevelSummary) -> dict[str, str]:
    """The percentiles the run compares, for a terminal: no intervals."""
    return {
        f"{SHORT_LABELS[m]} {METRIC_UNITS[m]}": number(getattr(summary, m).value, decimals(m), "lower")
        for m in COMPARED_PERCENTILES
    }


_BENCH_PARTS = ((Component.DATABASE, "db"), (Component.UPSTREAM, "upstream"), (Component.LOAD_GENERATOR, "locust"))


def _bench_cell(summary: LevelSummary) -> str:
    """What the bench spent per request to measure the level: in all, and by part."""
    spent = summary.bench_cpu_ms_per_request
    if not spent:
        return MISSING
    parts = " · ".join(f"{label} {spent[part]:.2f}" for part, label in _BENCH_PARTS if part in spent)
    return f"{sum(spent.values()):.2f} ({parts})"


def decision_table(results: Results) -> pd.DataFrame:
    """One row per service x load level: every figure the decision reads, with its interval."""
    rows = []
    for summary in results.summaries:
        steps = _steps_of(results, summary)
        throughput = summary.throughput_rps
        rows.append(
            {
                "service": summary.service,
                "load": load_label(summary.users, summary.arrival_rate),
                "trials": str(summary.trials),
                "requests": str(summary.requests),
                **_percentile_cells(summary),
                "max ms": number(_max_latency(summary, steps), 1, "lower"),
                "throughput rps [95% CI]": estimate(
                    throughput.value, throughput.ci_low, throughput.ci_high, 1, "higher"
                ),
                "success": percent(summary.success_rate, 3, "higher"),
                "errors": percent(summary.error_rate, 3, "lower"),
                "cache hit": _cache_cell(summary, variant_has_cache(results, summary.service)),
                "DB ops/req": number(summary.database_operations_per_request, 2, "lower"),
                "DB conns max": MISSING
                if summary.database_connections_max is None
                else str(summary.database_connections_max),
                "CPU ms/req": number(summary.service_cpu_ms_per_request, 3, "lower"),
                "bench ms/req": _bench_cell(summary),
                "RSS max MB": number(summary.rss_mb_max, 1, "lower"),
                "generator cores": number(summary.load_generator_cpu_cores, 2, "lower"),
                "bound by": ", ".join(COMPONENT_LABELS[c] for c in summary.bound_by) or "-",
                "audit": _audit_cell(summary, steps),
                "usable": "yes" if summary.usable else "NO",
            }
        )
    return pd.DataFrame(rows)


_SHORT_PARTS = {
    Component.SERVICE: "service",
    Component.LOAD_GENERATOR: "locust",
    Component.DATABASE: "db",
    Component.UPSTREAM: "upstream",
    Component.MACHINE: "machine",
    Component.BENCH_CPUS: "bench CPUs",
}


def steps_table(results: Results) -> pd.DataFrame:
    """The decision table for a terminal: one short row per service x level, no intervals (those
    are in :func:`decision_table`, details.md and the report)."""
    rows = []
    order = {service: i for i, service in enumerate(results.settings.services)}
    by_level = sorted(
        results.summaries, key=lambda s: (s.arrival_rate, s.users, order.get(s.service, len(order)), s.service)
    )
    for summary in by_level:
        steps = _steps_of(results, summary)
        audits = [step.audit for step in steps if step.audit is not None]
        rows.append(
            {
                "svc": summary.service,
                "load": load_label(summary.users, summary.arrival_rate),
                **_compared_percentiles(summary),
                "rps": number(summary.throughput_rps.value, 1, "higher"),
                "err": percent(summary.error_rate, 2, "lower"),
                "cache": "n/a" if summary.has_cache is False else percent(summary.cache_hit_rate, 1, "higher"),
                "CPU ms": number(summary.service_cpu_ms_per_request, 2, "lower"),
                "bound": ", ".join(_SHORT_PARTS[c] for c in summary.bound_by) or "-",
                "audit": "-" if not audits else "ok" if all(a.passed for a in audits) else "FAIL",
                "usable": "yes" if summary.usable else "NO",
            }
        )
    return pd.DataFrame(rows)


OUTCOME_LABELS = {
    Outcome.PASS: "PASS",
    Outcome.FAIL: "FAIL",
    Outcome.NOT_JUDGED: "NOT JUDGED",
    Outcome.NOT_APPLICABLE: "n/a",
}


def criteria_table(criteria: Sequence[CriterionResult]) -> pd.DataFrame:
    rows = [
        {
            "criterion": r.criterion,
            "service": r.service,
            "users": "all" if r.users is None else str(r.users),
            "rule": f"{r.rule_metric} {r.op} {r.threshold:g}",
            # rounded against the service: up where the rule caps the value, down where it floors it
            "value": number(r.value, 4, r.better),
            "result": OUTCOME_LABELS[r.outcome],
            "detail": r.detail,
        }
        for r in criteria
    ]
    return pd.DataFrame(rows, columns=["criterion", "service", "users", "rule", "value", "result", "detail"])


RATIO_COLUMNS = [
    "candidate / baseline",
    "load",
    "metric",
    "ratio [95% CI]",
    "Mann-Whitney p",
    "significant",
    "evidence",
]


def ratios_table(results: Results) -> pd.DataFrame:
    """Every decision's candidate / baseline ratios, one row per candidate, level and metric."""
    rows = []
    for decision in results.decisions:
        for ratio in decision.ratios:
            better = "higher" if higher_is_better(ratio.metric) else "lower"
            value = ratio.value
            rows.append(
                {
                    "candidate / baseline": f"{decision.candidate} / {decision.baseline}",
                    "load": load_label(ratio.users, ratio.arrival_rate),
                    "metric": ratio.metric,
                    "ratio [95% CI]": estimate(value.value, value.ci_low, value.ci_high, 4, better),
                    "Mann-Whitney p": p_value(ratio.p_value),
                    "significant": {True: "yes", False: "no", None: MISSING}[ratio.significant],
                    "evidence": "no: both saturated"
                    if ratio.queue_latency
                    else "no: CPUs shared with the bench"
                    if ratio.placement_cost
                    else "yes",
                }
            )
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


def notes(results: Results) -> list[str]:
    """Every note of the summaries and steps, once each, prefixed with where it applies."""
    seen: dict[str, None] = {}
    for summary in results.summaries:
        for note in summary.notes:
            seen[f"{summary.service} at {load_label(summary.users, summary.arrival_rate)}: {note}"] = None
    for step in results.steps:
        for note in step.notes:
            seen[f"{step.service} at {load_label(step.users, step.arrival_rate)}, trial {step.trial}: {note}"] = None
    return list(seen)


_NO_READY = "n/a (no /ready)"


def _ready_cell(value: bool | None, no: str) -> str:
    return _NO_READY if value is None else ("yes" if value else no)


def _fault_audit(fault: FaultResult) -> str:
    audit = fault.audit
    text = (
        f"{'pass' if audit.passed else 'FAIL'}: {audit.delivered}/{audit.expected} delivered, {audit.lost} lost, "
        f"{audit.doubled} doubled, {audit.wrong_token} wrong token"
    )
    return text + (f", {audit.unexpected} unexpected" if audit.unexpected else "")


def faults_table(results: Results) -> pd.DataFrame:
    """One row per service and fault: what it did during the fault and after, and the audit."""
    rows = [
        {
            "service": fault.service,
            "fault": fault.fault,
            "fault (s into step)": f"{fault.started_s:.1f}-{fault.ended_s:.1f}",
            "errors during": f"{fault.errors_during}/{fault.requests_during}"
            + (
                f" ({percent(fault.errors_during / fault.requests_during, 1, 'lower')})"
                if fault.requests_during
                else ""
            ),
            "recovery": "did not recover" if fault.recovery_s is None else f"{fault.recovery_s:g} s",
            "/ready 503 during": _ready_cell(fault.ready_503_seen, "no"),
            "/ready back": _ready_cell(fault.ready_recovered, "NO"),
            "never acknowledged": str(fault.audit.unacknowledged),
            "audit": _fault_audit(fault),
        }
        for fault in results.faults
    ]
    columns = [
        "service",
        "fault",
        "fault (s into step)",
        "errors during",
        "recovery",
        "/ready 503 during",
        "/ready back",
        "never acknowledged",
        "audit",
    ]
    return pd.DataFrame(rows, columns=columns)


def soak_table(results: Results) -> pd.DataFrame:
    """One row per soaked service: its RSS at the start and end and the fitted slope."""
    rows = []
    for soak in results.soak:
        rss = [mb for _, mb in soak.rss_samples]
        ci = soak.rss_slope_ci
        rows.append(
            {
                "service": soak.service,
                "load": load_label(soak.users, 0.0),
                "watched": f"{soak.duration_s:g} s",
                "samples": str(len(rss)),
                "RSS first / last / max MB": " / ".join(number(v, 1, "lower") for v in (rss[0], rss[-1], max(rss)))
                if rss
                else MISSING,
                "slope MB/min [95% CI]": estimate(soak.rss_slope_mb_per_min, *(ci or (None, None)), 3, "lower"),
                "memory": "GROWING" if soak.growing else "no growth shown",
            }
        )
    columns = ["service", "load", "watched", "samples", "RSS first / last / max MB", "slope MB/min [95% CI]", "memory"]
    return pd.DataFrame(rows, columns=columns)


def claims_table(results: Results) -> pd.DataFrame:
    """The checklist's promises, one row per candidate and claim, with how each was judged."""
    rows = [
        {
            "candidate / baseline": f"{claim.candidate} / {claim.baseline}",
            "claim": claim.claim,
            "promised": promised_text(claim),
            "measured [95% CI]": claim_figure(claim),
            "level": claim.level or MISSING,
            "result": CLAIM_LABELS[claim.outcome],
            "how it was judged": claim.reason,
        }
        for claim in results.claims
    ]
    columns = ["candidate / baseline", "claim", "promised", "measured [95% CI]", "level", "result", "how it was judged"]
    return pd.DataFrame(rows, columns=columns)


def costs_table(results: Results) -> pd.DataFrame:
    """CPU and money per message, per service and level, at the run's vCPU-hour price."""
    rows = []
    for cost in results.costs:
        cpu, usd = cost.service_cpu_s_per_1000, cost.usd_per_million
        rows.append(
            {
                "service": cost.service,
                "load": load_label(cost.users, cost.arrival_rate),
                "service CPU s / 1,000 req [95% CI]": estimate(cpu.value, cpu.ci_low, cpu.ci_high, 3, "lower"),
                "bench CPU s / 1,000 req": number(cost.bench_cpu_s_per_1000, 3, "lower"),
                "USD / million req [95% CI]": estimate(usd.value, usd.ci_low, usd.ci_high, 3, "lower"),
                "USD per vCPU-hour": f"{cost.price_per_vcpu_hour:g}",
            }
        )
    columns = [
        "service",
        "load",
        "service CPU s / 1,000 req [95% CI]",
        "bench CPU s / 1,000 req",
        "USD / million req [95% CI]",
        "USD per vCPU-hour",
    ]
    return pd.DataFrame(rows, columns=columns)


def effect_text(effect: Effect | None) -> str:
    """A difference (with - without) and its interval, rounded against the change."""
    if effect is None:
        return MISSING
    better = "higher" if higher_is_better(effect.metric) else "lower"
    d = effect.difference
    text = estimate(d.value, d.ci_low, d.ci_high, decimals(effect.metric), better)
    if d.value is not None and d.value > 0:
        text = "+" + text
    return text + ("" if effect.significant else " (n.s.)")


def attribution_table(results: Results) -> pd.DataFrame:
    """What each change earns, added alone to the baseline and taken alone out of the target."""
    attribution = results.attribution
    columns = ["change", "setting", "load", "metric", "added alone", "removed alone"]
    if attribution is None:
        return pd.DataFrame(columns=columns)
    rows = []

    def keyed(effects: list[Effect]) -> dict[tuple[int, float, str], Effect]:
        return {(e.users, e.arrival_rate, e.metric): e for e in effects}

    total = keyed(attribution.total)
    for key, effect in total.items():
        rows.append(
            {
                "change": f"all: {attribution.baseline} -> {attribution.target}",
                "setting": "",
                "load": load_label(key[0], key[1]),
                "metric": METRIC_LABELS.get(key[2], key[2]),
                "added alone": effect_text(effect),
                "removed alone": "",
            }
        )
    for change in attribution.changes:
        added, removed = keyed(change.added_effects), keyed(change.removed_effects)
        keys = list(dict.fromkeys([*total, *added, *removed]))
        for users, rate, metric in keys:
            rows.append(
                {
                    "change": f"{change.title} ({change.token})",
                    "setting": f"{change.setting}: {change.before} -> {change.after}",
                    "load": load_label(users, rate),
                    "metric": METRIC_LABELS.get(metric, metric),
                    "added alone": effect_text(added.get((users, rate, metric)))
                    if change.added
                    else f"not measured: {change.not_added or 'no such configuration'}",
                    "removed alone": effect_text(removed.get((users, rate, metric)))
                    if change.removed
                    else f"not measured: {change.not_removed or 'no such configuration'}",
                }
            )
    return pd.DataFrame(rows, columns=columns)


def capacity_table(results: Results) -> pd.DataFrame:
    """``harness capacity``: each variant's sustained rate within the SLO, per worker count."""
    columns = ["service", "workers", "capacity rps [95% CI]", "per CPU rps [95% CI]", "validated", "notes"]
    search = results.capacity
    if search is None:
        return pd.DataFrame(columns=columns)
    rows = [
        {
            "service": r.service,
            "workers": str(r.workers),
            "capacity rps [95% CI]": estimate(
                r.capacity_rps.value, r.capacity_rps.ci_low, r.capacity_rps.ci_high, 1, "higher"
            )
            + (" (the search's ceiling)" if r.ceiling_reached else ""),
            "per CPU rps [95% CI]": estimate(
                r.per_cpu_rps.value, r.per_cpu_rps.ci_low, r.per_cpu_rps.ci_high, 1, "higher"
            ),
            "validated": "yes" if r.validated else "NO",
            "notes": "; ".join(r.notes),
        }
        for r in search.results
    ]
    return pd.DataFrame(rows, columns=columns)
