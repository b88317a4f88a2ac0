"""The harness's vocabulary: verdicts, reason codes, labels and the practical-margin rule.

Neutral ground between the layers. Analysis decides with these codes and the margin rule;
reports, the console and the gate word them. Nothing here imports from the rest of the harness
but the metric registry (:mod:`harness.metrics`), so every layer may import it.
"""

from __future__ import annotations

from enum import StrEnum

from .metrics import higher_is_better, practical_margin

__all__ = [
    "BENCH_ADVICE",
    "COMPONENT_LABELS",
    "ECHO",
    "HELPER_COMPONENTS",
    "Component",
    "CriterionReason",
    "Direction",
    "Outcome",
    "ProbeVerdict",
    "ReasonCode",
    "ScalingModel",
    "TARGET_REASONS",
    "TargetStatus",
    "Unusable",
    "Verdict",
    "beyond_margin",
    "load_label",
    "margin_bound",
    "outside_margin",
]


class Verdict(StrEnum):
    MIGRATE = "MIGRATE"
    DO_NOT_MIGRATE = "DO NOT MIGRATE"
    INCONCLUSIVE = "INCONCLUSIVE"


# -- the bench ----------------------------------------------------------------------------------
# The bench's bare FastAPI app: the machine's own ceiling for a run, never a variant, never judged.
ECHO = "echo"


class Component(StrEnum):
    """A part of a step whose CPU is measured, and what can bound a step."""

    SERVICE = "service"
    LOAD_GENERATOR = "load_generator"
    DATABASE = "database"
    UPSTREAM = "upstream"
    MACHINE = "machine"  # unpinned: the whole machine was busy and the bench took a large share
    BENCH_CPUS = "bench_cpus"  # pinned: the CPUs the bench runs on were saturated


# The bench's own processes; when one of them runs out of CPU the step measured the bench.
HELPER_COMPONENTS = (Component.LOAD_GENERATOR, Component.DATABASE, Component.UPSTREAM)
COMPONENT_LABELS = {
    Component.SERVICE: "service",
    Component.LOAD_GENERATOR: "load generator",
    Component.DATABASE: "database",
    Component.UPSTREAM: "fake upstream",
    Component.MACHINE: "the shared machine",
    Component.BENCH_CPUS: "the bench's CPUs",
}
# What to change when a component bounded a step (one place: the step notes and the verdict).
BENCH_ADVICE = {
    Component.LOAD_GENERATOR: "add --locust-workers so the load generator is not the bottleneck",
    Component.DATABASE: "use a real mongod via MONGODB_URI instead of the embedded database",
    Component.UPSTREAM: "give the bench more cores or lower the load (the fake upstream saturated)",
    Component.MACHINE: "pin the service to CPUs of its own (--service-cpus), run the bench's parts on "
    "other hosts (MONGODB_URI, Locust workers elsewhere) or use a bigger machine: the service "
    "competed with its own test bench for CPU",
    Component.BENCH_CPUS: "give the bench more CPUs (a smaller --service-cpus, or a bigger machine), "
    "or put the database on another host (MONGODB_URI)",
}


# -- load levels and the reasons they cannot be used ----------------------------------------------
class Unusable(StrEnum):
    """Why a load level's figures are not evidence."""

    BENCH_BOUND = "bench_bound"  # a part of the bench, not the service, set the figures
    INCOMPLETE = "incomplete"  # a trial did not run to its end
    TOO_FEW_REQUESTS = "too_few_requests"
    NO_RECORDS = "no_records"  # requests counted, but no per-request record with an answer
    DISTURBED = "disturbed"  # processes outside the bench, or the VM's host, took CPU during a step


# -- capacity -------------------------------------------------------------------------------------
class ProbeVerdict(StrEnum):
    """What one rate of a capacity search showed."""

    SUSTAINED = "sustained"  # p95 under the SLO, errors under the limit, the rate delivered
    OVER_SLO = "over_slo"  # p95 (from each request's due time) at or over the SLO
    ERRORS = "errors"  # more errors than the limit allows
    UNDELIVERED = "undelivered"  # the generator sent less than the share of the rate it must
    BENCH_BOUND = "bench_bound"  # a part of the bench ran out of CPU: the rate says nothing


class ScalingModel(StrEnum):
    """How capacity grows with worker CPUs (fitted where the points allow, else assumed)."""

    LINEAR = "linear"  # X(n) = lambda n
    AMDAHL = "amdahl"  # X(n) = lambda n / (1 + sigma (n - 1)): a serial share
    USL = "usl"  # Universal Scalability Law: + kappa n (n - 1), crosstalk between workers


# -- criteria -------------------------------------------------------------------------------------
class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_JUDGED = "not_judged"  # must be judged, and could not be: holds a verdict at inconclusive
    NOT_APPLICABLE = "not_applicable"  # not judged by design: never holds anything up


class CriterionReason(StrEnum):
    """How a criterion's outcome came about."""

    MEASURED = "measured"  # judged on usable data
    SLOWED_BY_BENCH = "slowed_by_bench"  # passed on a level the bench only made look worse
    LEVEL_UNUSABLE = "level_unusable"
    NOT_MEASURED = "not_measured"  # the figure is missing at a usable level
    NO_STEP = "no_step"  # no measured step of the service (at the criterion's users)
    NO_CACHE = "no_cache"  # a cache criterion for a service without a cache
    NO_METRICS = "no_metrics"  # the figure comes from /metrics, which the service does not serve
    METRICS_UNANSWERED = "metrics_unanswered"  # the service serves /metrics, but it did not answer in time
    SERVICE_ABSENT = "service_absent"  # the criterion names a service the run did not measure
    DATABASE_BOUND = "database_bound"  # a connection count taken while the database was the bound (queued)
    NO_SOAK = "no_soak"  # a memory criterion in a run without a soak
    NEEDS_MORE_CPU = "needs_more_cpu"  # the level needs more machine than this one has (projected)
    TARGET_NOT_RUN = "target_not_run"  # the criterion names a load level this run did not include


# -- the verdict's reasons ------------------------------------------------------------------------
class ReasonCode(StrEnum):
    AUDIT_FAILED = "audit_failed"  # the candidate lost, doubled or mis-tokened a reply
    CRITERION_FAILED = "criterion_failed"
    SIGNIFICANTLY_WORSE = "significantly_worse"
    BASELINE_AUDIT_FAILED = "baseline_audit_failed"
    NOT_AUDITED = "not_audited"
    RUN_INCOMPLETE = "run_incomplete"
    NO_COMPARABLE_LEVEL = "no_comparable_level"
    CRITERIA_NOT_JUDGED = "criteria_not_judged"
    SIGNIFICANTLY_BETTER = "significantly_better"
    CRITERIA_PASSED = "criteria_passed"
    NO_BENEFIT = "no_benefit"
    CRITERIA_IMMATERIAL = "criteria_immaterial"  # criteria not judged that could not change a no-benefit verdict
    BOTH_SATURATED = "both_saturated"  # levels where both filled their CPUs: latency set aside there
    RATIO = "ratio"  # a ratio stated for the record (no benefit found)
    NOT_COMPARED = "not_compared"  # a level the verdict could not compare, and why
    TO_DECIDE = "to_decide"  # what to change so the next run can decide
    NEEDS_BIGGER_MACHINE = "needs_bigger_machine"  # projected: what a bigger machine must confirm
    ONE_SERVICE = "one_service"
    MACHINE_DISTURBED = "machine_disturbed"  # another process or the VM's host took CPU while it measured
    KNIFE_EDGE = "knife_edge"  # the verdict rests on a figure at its threshold: what would settle it
    TARGET_ELSEWHERE = "target_elsewhere"  # criteria this machine cannot judge: the target-load answer has them
    EXPLANATION = "explanation"  # a sentence that explains the verdict (no figure of its own)


# Criteria outcomes that belong to the second answer (the target load), not the verdict: the load
# they name needs more machine than this one, or the run did not include it.
TARGET_REASONS = frozenset(
    {CriterionReason.NEEDS_MORE_CPU, CriterionReason.TARGET_NOT_RUN, CriterionReason.DATABASE_BOUND}
)


class TargetStatus(StrEnum):
    """The second answer: can the service hold the checklist's target load, and on what."""

    HOLDS = "holds"  # measured at the target level, on this machine: every target criterion passed
    FAILS = "fails"  # measured at the target level with CPU to spare, and a target criterion failed
    FITS = "fits"  # projected: the CPUs it needs fit the checklist's deployment (4 workers)
    EXCEEDS = "exceeds"  # projected: it needs more CPUs than the checklist's deployment has
    UNKNOWN = "unknown"  # nothing measured to project from


# -- the margin's rule (the margins themselves are each metric's, :mod:`harness.metrics`) ----------
class Direction(StrEnum):
    BETTER = "better"
    WORSE = "worse"


def margin_bound(metric: str, direction: Direction, margin: float | None = None) -> float:
    """The ratio (candidate / baseline) beyond which ``metric`` is ``direction`` by the margin
    (``metric``'s own unless ``margin`` is given)."""
    margin = practical_margin(metric) if margin is None else margin
    up = higher_is_better(metric) == (direction is Direction.BETTER)
    return 1 + margin if up else 1 - margin


def beyond_margin(metric: str, ratio: float | None, direction: Direction, margin: float | None = None) -> bool:
    """True when the ratio ``candidate / baseline`` of ``metric`` lies past the margin in
    ``direction`` (significance is the caller's to check)."""
    if ratio is None:
        return False
    bound = margin_bound(metric, direction, margin)
    return ratio > bound if bound > 1 else ratio < bound


def outside_margin(metric: str, ratio: float | None) -> bool:
    """True when the ratio lies past ``metric``'s margin either way (significance is the caller's)."""
    return ratio is not None and abs(ratio - 1) > practical_margin(metric)


def load_label(users: int, arrival_rate: float = 0.0) -> str:
    """How a load level is named everywhere: "250 users" or "400 req/s" (open loop)."""
    return f"{arrival_rate:g} req/s" if arrival_rate > 0 else f"{users} users"
