"""The one versioned results schema that every command, the report, the gate and the notebook share.

A run directory holds ``results.json`` (this schema) and the per-request records
(:mod:`harness.records`). Readers call :func:`load_results`; nothing parses ``results.json`` by
hand. A change that removes or renames a field bumps :data:`SCHEMA_VERSION`; adding an optional
field does not. Version 2: outcomes carry reason codes (:mod:`harness.terms`), a run decides
every candidate against one baseline, and the settings keep the load and the variants whole.
Version 3: two answers per service, kept apart: the verdict (``decisions``, from what this
machine measured) and the target load (``targets``: can it hold the checklist's 500 users, and
on what, each figure measured or projected); criteria the machine is too small to judge carry
``needs_more_cpu`` or ``target_not_run`` and move to the second answer.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .load.profile import DEFAULT_MIX, LoadProfile, normalise_mix, wait_ordered
from .metrics import ATTRIBUTED_METRICS, CPU_METRIC, LATENCY_METRICS
from .records import ABANDONED, RECORD_COLUMNS
from .terms import (
    Component,
    CriterionReason,
    Outcome,
    ProbeVerdict,
    ReasonCode,
    ScalingModel,
    TargetStatus,
    Unusable,
    Verdict,
)

__all__ = [
    "ABANDONED",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "Attribution",
    "AuditFigures",
    "BenchSettings",
    "CacheFigures",
    "CapacityProbe",
    "CapacityRatio",
    "CapacityResult",
    "CapacitySearch",
    "ChangeEffect",
    "ClaimCheck",
    "ComponentUsage",
    "CostFigures",
    "CpuLoad",
    "CpuProjection",
    "CriterionResult",
    "DatabaseFigures",
    "Decision",
    "DecisionReason",
    "Effect",
    "Estimate",
    "FaultResult",
    "LatencySummary",
    "LoadSettings",
    "MachineInfo",
    "MinimalMigration",
    "Ratio",
    "Results",
    "RunSettings",
    "ScalingFit",
    "SoakResult",
    "StepResult",
    "LevelSummary",
    "TargetLoad",
    "UsabilityIssue",
    "VariantInfo",
    "load_results",
    "save_results",
]

SCHEMA_VERSION = 3

Service = str


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MachineInfo(_Schema):
    hostname: str
    platform: str
    python: str
    cpu_count: int
    cpu_model: str
    memory_gib: float
    load_average_at_start: tuple[float, float, float]


class LoadSettings(_Schema):
    """The load of every step of a run, passed whole from the command line to each step's Locust
    profile and stored as it was."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[int, ...] = Field((50, 100, 250, 500), description="closed-loop user steps")
    arrival_rates: tuple[float, ...] = Field((), description="open-loop steps, requests/s (replace users)")
    step_duration_s: float = Field(12.0, gt=0, description="measured window of each step")
    warmup_s: float = Field(3.0, ge=0, description="start of each step excluded from the figures")
    trials: int = Field(1, ge=1, description="trials per level, the services interleaved in random order")
    wait_min_s: float = Field(
        LoadProfile.wait_min_s, ge=0, description="each user's pause between requests (closed loop)"
    )
    wait_max_s: float = Field(LoadProfile.wait_max_s, ge=0)
    mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX), description="share of each request kind")
    seed: int = Field(LoadProfile.seed, description="seeds the mix, the order of services and the latencies")
    locust_workers: int = Field(0, ge=0, description="Locust worker processes besides the master")
    remote_workers: int = Field(0, ge=0, description="Locust workers on other machines (their CPU is not sampled)")
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    retries: int = Field(LoadProfile.retries, ge=0, description="Meta-style retries of a 5xx or unanswered POST")
    retry_backoff_s: float = Field(
        LoadProfile.retry_backoff_s, ge=0, description="the first retry's delay; each next one doubles it"
    )
    timeout_s: float = Field(LoadProfile.timeout_s, gt=0, description="the load generator's network timeout")

    @field_validator("mix")
    @classmethod
    def _shares(cls, mix: dict[str, float]) -> dict[str, float]:
        return normalise_mix(mix)

    @field_validator("wait_max_s")
    @classmethod
    def _ordered(cls, wait_max: float, info: object) -> float:
        if not wait_ordered(getattr(info, "data", {}).get("wait_min_s", 0.0), wait_max):
            raise ValueError("the pause between requests needs MIN <= MAX")
        return wait_max

    @property
    def levels(self) -> list[tuple[int, float]]:
        """(users, arrival rate) per load level; open-loop levels have users 0."""
        if self.arrival_rates:
            return [(0, rate) for rate in self.arrival_rates]
        return [(users, 0.0) for users in self.users]

    @property
    def wait_mean_s(self) -> float:
        return (self.wait_min_s + self.wait_max_s) / 2


class BenchSettings(_Schema):
    """What the bench was made of: the data, the fake upstream, the database, the servers."""

    businesses: int
    phones_per_business: int
    graph_latency_ms: float = Field(description="configured fake Graph API latency")
    llm_latency_ms: float = Field(description="configured fake LLM latency (0 = no LLM call)")
    latency_distribution: str = "fixed"
    database: str = Field(description="embedded SecantusDB <version>, or an external server (its URI is not kept)")
    embedded_database: bool = Field(False, description="the run started its own SecantusDB (not MONGODB_URI)")
    service_workers: int = Field(1, description="worker processes per service")
    service_cpus: list[int] = Field(default=[], description="the CPUs the services ran on (empty: unpinned)")
    bench_cpus: list[int] = Field(default=[], description="the CPUs the database, upstream and Locust ran on")
    pinning: str = Field("unpinned", description="the CPU isolation, in words (or why there was none)")


class VariantInfo(_Schema):
    """A service of the run: the variant it is and its architecture choices (setting -> value)."""

    summary: str = ""
    choices: dict[str, str] = Field(default={}, description="environment variable -> value")
    commit: str | None = Field(
        None, description="the git commit its code ran from (a NAME@REVISION variant); None: the working tree"
    )


class RunSettings(_Schema):
    command: str = Field(description="compare | run | selftest | soak | chaos | attribute | capacity")
    profile: str
    load: LoadSettings
    bench: BenchSettings
    services: list[str] = Field(description="every service the run measured, by label")
    variants: dict[str, VariantInfo] = Field(default={}, description="label -> the variant's choices")
    baseline: str | None = Field(None, description="the service every candidate is compared with")
    candidates: list[str] = Field(default=[], description="the services a verdict is given for")
    criteria_file: str
    fault: str | None = None
    price_per_vcpu_hour: float = Field(
        0.048, description="USD per vCPU-hour for the cost figures (default: AWS m5.large on demand, us-east-1)"
    )


class LatencySummary(_Schema):
    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class ComponentUsage(_Schema):
    """CPU and memory of one process tree during the measured window."""

    pids: list[int]
    cpu_seconds: float
    cpu_cores_mean: float = Field(description="mean CPU in cores (1.0 = one full core)")
    cpu_cores_max: float = Field(description="highest 1-second sample, in cores")
    rss_mb_start: float
    rss_mb_end: float
    rss_mb_max: float


class CacheFigures(_Schema):
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses), None when no lookups")


class DatabaseFigures(_Schema):
    operations: int = Field(description="serverStatus opcounters delta over the window")
    operations_per_request: float | None
    connections_max: int = Field(description="serverStatus connections.current, highest sample")
    probe_p50_ms: float | None = Field(None, description="a one-document read by _id during the window, median")
    probe_p90_ms: float | None = Field(None, description="the same, 90th percentile")
    probe_idle_ms: float | None = Field(None, description="the same read on the idle database before the run")


class AuditFigures(_Schema):
    """What the fake upstream actually received, matched against what the generator was told."""

    expected: int = Field(description="acknowledged messages that oblige one reply")
    delivered: int = Field(description="expected messages with at least one reply")
    lost: int = Field(description="expected messages with no reply")
    doubled: int = Field(description="messages answered more than once")
    wrong_token: int = Field(description="replies sent with a token not that business's")
    unexpected: int = Field(description="replies to messages that oblige none (unknown, duplicate)")
    unacknowledged: int = Field(description="messages never answered 2xx (retries given up or cut)")
    doubled_in_crash_window: int = Field(
        0,
        description="of the doubled: a worker killed while answering it (delivered, then died before marking it done)",
    )
    doubled_at_timeout_edge: int = Field(
        0, description="of the doubled (and not in a crash window): a send answered as the service gave up on it"
    )
    other_steps: int = Field(
        0,
        description="replies to another step's messages that landed during this one (a service working off its "
        "queue after its own step): not this step's, so counted apart and never as doubled or unexpected",
    )

    @property
    def doubled_unexplained(self) -> int:
        """Doubled messages no fault window explains: a broken exactly-once claim."""
        return self.doubled - self.doubled_in_crash_window - self.doubled_at_timeout_edge

    @property
    def passed(self) -> bool:
        """Nothing lost, doubled outside a named window, sent with a wrong token or unexpected.
        Doubles in a crash window or at the timeout's edge are judged by the fault criteria."""
        return self.lost == 0 and self.doubled_unexplained == 0 and self.wrong_token == 0 and self.unexpected == 0


class CpuLoad(_Schema):
    """CPU busy over a step's window (any process), in cores: the whole machine, and in a pinned
    run the services' CPUs and the bench's CPUs apart."""

    machine_cores: float
    machine_cpus: int
    service_cpus: list[int] = Field(default=[], description="empty: the run was not pinned")
    bench_cpus: list[int] = []
    service_cores: float | None = None
    bench_cores: float | None = None
    steal_cores: float | None = Field(
        None,
        description="CPU time the virtual machine's host gave to others while this machine's CPUs had work "
        "(steal), in cores; None where the platform does not count it",
    )
    service_steal_cores: float | None = Field(
        None,
        description="the steal on the services' CPUs alone, in cores (pinned runs): the part that lands "
        "on the services' own CPU time",
    )

    @property
    def pinned(self) -> bool:
        return bool(self.service_cpus)


class StepResult(_Schema):
    """One service under one load level for one trial."""

    service: Service
    users: int
    arrival_rate: float = 0.0
    trial: int = 0
    started_at: datetime
    window_s: float = Field(description="length of the measured window (after warm-up)")
    window_start: float | None = Field(
        None, description="UNIX time the measured window began (records before it are warm-up)"
    )
    requests: int
    throughput_rps: float
    success_rate: float = Field(description="share of requests answered 2xx")
    error_rate: float = Field(description="share answered 5xx or not at all")
    status_counts: dict[str, int]
    latency: LatencySummary
    corrected_latency: LatencySummary | None = None
    latency_by_kind: dict[str, LatencySummary] = {}
    offered_rps: float | None = Field(
        None, description="Little's law: users / (mean response time + mean wait), closed loop"
    )
    littles_law_gap: float | None = Field(None, description="throughput / offered_rps - 1")
    added_latency_p99_ms: float | None = Field(
        None, description="p99 of replied messages minus the configured downstream latency"
    )
    downstream_latency_ms: float | None = Field(
        None, description="configured Graph API + LLM latency a replied message waits for"
    )
    service_cpu_ms_per_request: float | None
    cache: CacheFigures | None = Field(description="None: the service has no cache")
    database: DatabaseFigures | None
    components: dict[Component, ComponentUsage]
    cpu_load: CpuLoad | None = Field(None, description="how busy the machine and its CPU sets were, in cores")
    service_cpu_timeline: list[tuple[float, float]] = Field(
        default=[], description="(UNIX time, the service's CPU seconds since the window began), every sample"
    )
    bound_by: list[Component] = Field(
        default=[],
        description="bench parts that ran out of CPU (a helper near a full core, or 'machine': the "
        "machine was busy and the bench took a large share): the step measured the bench",
    )
    audit: AuditFigures | None = None
    complete: bool = True
    stopped_early: bool = Field(False, description="the window was ended early: the rate was clearly over")
    notes: list[str] = []


class Estimate(_Schema):
    """A figure over a step's trials, with its bootstrap 95% confidence interval."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class UsabilityIssue(_Schema):
    """One reason a load level's figures are not evidence: a code for logic, a sentence for people."""

    code: Unusable
    component: Component | None = Field(None, description="the part that bound the step (bench_bound)")
    detail: str


# A level the database, the upstream or the bench's CPUs only slowed: its figures are pessimistic.
_SLOWING = frozenset({Component.DATABASE, Component.UPSTREAM, Component.MACHINE, Component.BENCH_CPUS})


class LevelSummary(_Schema):
    """A service at one load level, over all its trials (what criteria and ratios read)."""

    service: Service
    users: int
    arrival_rate: float = 0.0
    trials: int
    requests: int
    p50_ms: Estimate
    p95_ms: Estimate
    p99_ms: Estimate
    throughput_rps: Estimate
    success_rate: float
    error_rate: float
    cache_hit_rate: float | None
    service_cpu_ms_per_request: float | None
    added_latency_p99_ms: float | None
    database_connections_max: int | None
    rss_mb_max: float | None
    bound_by: list[Component] = []
    audit_passed: bool | None = None
    unusable: list[UsabilityIssue] = Field(
        default=[], description="why the level is not evidence (empty: it is usable)"
    )
    interval_basis: Literal["trials", "requests"] = Field(
        "requests", description="what the intervals resample: the trials' figures (3 or more), else requests"
    )
    notes: list[str] = []
    has_cache: bool | None = Field(None, description="False: the service has no cache (n/a)")
    database_operations_per_request: float | None = None
    load_generator_cpu_cores: float | None = Field(
        None, description="highest trial mean of the load generator's CPU, in cores"
    )
    bench_cpu_ms_per_request: dict[str, float] = Field(
        default={}, description="CPU ms per request of each bench part: load_generator, database, upstream"
    )
    database_probe_p90_ms: float | None = Field(None, description="the database's one-document read, p90, worst trial")
    service_saturated: bool = Field(False, description="pinned: the service filled its own CPUs in a trial")
    trial_windows: dict[int, tuple[float, float]] = Field(
        {}, description="trial -> measured window (UNIX start, end): which records count"
    )

    @property
    def usable(self) -> bool:
        return not self.unusable

    @property
    def slowed_by_bench(self) -> bool:
        """Unusable only because the database, the upstream or the bench's CPUs slowed the service:
        its figures are pessimistic, so a criterion it passes still stands (a failure is not
        judged). A saturated load generator may instead have under-driven it, which flatters."""
        return bool(self.unusable) and all(
            issue.code is Unusable.BENCH_BOUND and issue.component in _SLOWING for issue in self.unusable
        )


class CriterionResult(_Schema):
    criterion: str = Field(description="name in the criteria file")
    service: Service
    users: int | None = Field(description="load level it was judged at (None: whole run)")
    arrival_rate: float = 0.0
    metric: str
    op: str
    threshold: float
    value: float | None
    outcome: Outcome
    reason: CriterionReason
    detail: str = ""
    baseline: str | None = Field(
        None, description="a relative criterion's baseline: the value is the service's metric / the baseline's"
    )

    @property
    def rule_metric(self) -> str:
        """The metric as the rule names it: "p95_ms", or "p95_ms / original" for a relative one."""
        return f"{self.metric} / {self.baseline}" if self.baseline else self.metric

    @property
    def better(self) -> Literal["lower", "higher"]:
        """Which way is better for the service: a rule that caps the value (<, <=) wants it lower."""
        return "lower" if self.op in ("<", "<=") else "higher"

    @property
    def passed(self) -> bool | None:
        """True or False when judged; None when not judged or not applicable."""
        return {Outcome.PASS: True, Outcome.FAIL: False}.get(self.outcome)

    @property
    def applicable(self) -> bool:
        return self.outcome is not Outcome.NOT_APPLICABLE


class Ratio(_Schema):
    """candidate / baseline for one metric at one load level (below 1 is better for latency)."""

    users: int
    arrival_rate: float = 0.0
    metric: str
    value: Estimate
    significant: bool | None = Field(None, description="Mann-Whitney U on per-request latency, p < 0.01")
    p_value: float | None = None
    both_saturated: bool = Field(
        False, description="both services filled their own CPUs at this level (pinned runs only)"
    )
    cpus_shared: bool = Field(
        False, description="CPU per request measured with the services sharing CPUs with the bench (unpinned)"
    )

    @property
    def is_evidence(self) -> bool:
        """Whether the verdict may act on this ratio. Where both services filled their CPUs, a
        closed-loop level's latency is the queue its users build (interactive response time law:
        mean latency = users / throughput - think time), and an open-loop level's grows with the
        window: a latency ratio there restates the throughput ratio through each design's queue
        order, so only throughput is compared there. CPU per request measured on CPUs shared with
        the bench moves with where the scheduler put each service (two identical copies, in the
        short self-test: 0.77x to 1.24x unpinned, 0.95x to 1.02x pinned; docs/measurements.md), so
        it is compared only where the services ran on CPUs of their own."""
        return not (self.queue_latency or self.placement_cost)

    @property
    def queue_latency(self) -> bool:
        """A latency ratio where both filled their CPUs: set aside (the queue, not the design)."""
        return self.both_saturated and self.metric in LATENCY_METRICS

    @property
    def placement_cost(self) -> bool:
        """CPU per request measured on CPUs shared with the bench: set aside (where it ran, not the design)."""
        return self.cpus_shared and self.metric == CPU_METRIC


class DecisionReason(_Schema):
    """One reason of a verdict: its code for logic and tests, its sentence for people, and the
    ratios and load levels it rests on (what renderers word, so nobody parses the sentence)."""

    code: ReasonCode
    text: str
    ratios: list[Ratio] = Field(default=[], description="the ratios this reason rests on")
    levels: list[tuple[int, float]] = Field(default=[], description="(users, arrival rate) of the levels it names")


class Decision(_Schema):
    """The verdict on one candidate against the baseline."""

    candidate: Service
    baseline: Service
    verdict: Verdict
    reasons: list[DecisionReason]
    criteria: list[CriterionResult]
    ratios: list[Ratio]

    def with_code(self, code: ReasonCode) -> list[DecisionReason]:
        return [reason for reason in self.reasons if reason.code == code]


FigureBasis = Literal["measured", "projected"]


class TargetLoad(_Schema):
    """The second answer for one service: can it hold the checklist's target load (500 users at
    its pacing, on its deployment of 4 gunicorn workers), and on what. Every figure says whether
    it was measured on this machine or projected, and a projection states its assumptions."""

    service: Service
    users: int = Field(description="the target's users (the checklist's final load test)")
    offered_rps: float | None = Field(description="what those users offer at the run's pacing and downstream latency")
    deployment_workers: int = Field(description="the checklist's deployment (Step 8): gunicorn workers, one per CPU")
    status: TargetStatus
    capacity_rps_per_cpu: Estimate | None = Field(
        None, description="the highest throughput measured within the SLO, per service CPU (measured)"
    )
    capacity_level: str | None = Field(None, description="the load level that figure was measured at")
    capacity_saturated: bool = Field(
        False, description="the service filled its CPUs there: the figure is its capacity, not a lower bound"
    )
    capacity_within_slo: bool = Field(
        True, description="False: no level met the SLO; the figure is what its full CPUs served, over the SLO"
    )
    service_cpus: Estimate | None = Field(None, description="service CPUs the target needs (cores of work)")
    database_cores: Estimate | None = Field(None, description="the database's cores the target needs")
    cpu_ms_per_request: float | None = Field(None, description="the service's CPU per request the need rests on")
    cpu_measured_at: str | None = None
    monthly_usd: float | None = Field(
        None, description="whole service CPUs plus the database's cores, 730 h a month at price_per_vcpu_hour"
    )
    price_per_vcpu_hour: float = 0.0
    basis: FigureBasis = Field(description="measured: the run served the target level; projected: it could not")
    assumptions: str = Field("", description="the projection's assumptions, one line (empty when measured)")
    command: str = Field("", description="the command that would measure it (empty when measured)")
    detail: str = Field("", description="what was measured, or why the target could not be measured here")


class SoakResult(_Schema):
    service: Service
    users: int
    duration_s: float
    rss_samples: list[tuple[float, float]] = Field(description="(seconds since start, RSS MB)")
    rss_slope_mb_per_min: float
    rss_slope_ci: tuple[float, float] | None = None
    growing: bool


ClaimCode = Literal["throughput_50x", "faster_5x", "success_999", "concurrent_500", "cost_76"]
ClaimOutcome = Literal["held", "not_held", "cannot_judge"]


class ClaimCheck(_Schema):
    """One of the checklist's promises, checked for one candidate against the baseline."""

    candidate: Service
    baseline: Service
    code: ClaimCode
    claim: str = Field(description="as the checklist words it")
    promised: float = Field(description="the figure it promises, in the unit of `measured`")
    measured: Estimate | None = Field(description="what this run measured, with its 95% interval")
    unit: str = Field(description='"x" (a ratio), "share" (0..1) or "users"')
    level: str | None = Field(description="the load level the figure comes from (None: none could)")
    outcome: ClaimOutcome
    reason: str = Field(description="how it was judged, or why it could not be")


class CostFigures(_Schema):
    """What a service's messages cost in CPU at one load level, and in money at a vCPU-hour price."""

    service: Service
    users: int
    arrival_rate: float = 0.0
    service_cpu_s_per_1000: Estimate = Field(description="CPU seconds of the service per 1,000 requests")
    bench_cpu_s_per_1000: float | None = Field(description="the same for the database, upstream and Locust")
    usd_per_million: Estimate = Field(description="the service's CPU for a million requests, in USD")
    price_per_vcpu_hour: float


AttributedMetric = Literal[ATTRIBUTED_METRICS]  # the registry's attributed metrics


class Effect(_Schema):
    """The difference one configuration makes against another at one load level."""

    users: int
    arrival_rate: float = 0.0
    metric: AttributedMetric
    difference: Estimate = Field(description="with - without, in the metric's unit, with its 95% interval")
    without: float | None = Field(None, description="the figure without the change")
    ratio: Estimate | None = Field(None, description="with / without")
    significant: bool | None = Field(description="the interval excludes 0 (and, for p95, Mann-Whitney p < 0.01)")
    p_value: float | None = None


class ChangeEffect(_Schema):
    """What one change (one choice moved) earns: added alone to the baseline, and taken alone out
    of the target. A change that cannot be made alone (aiohttp under the sync handler) says why."""

    token: str = Field(description="the change's name in a variant name, e.g. shared-client")
    setting: str = Field(description="the environment variable it moves")
    before: str
    after: str
    title: str
    added: str | None = Field(description="the label of baseline + this change (None: not measured)")
    removed: str | None = Field(description="the label of target - this change (None: not measured)")
    not_added: str | None = Field(None, description="why it was not measured added alone")
    not_removed: str | None = Field(None, description="why it was not measured removed alone")
    added_effects: list[Effect] = []
    removed_effects: list[Effect] = []


MinimalStatus = Literal[
    "baseline_passes", "single_change", "confirmed", "not_confirmed", "target_fails", "undetermined"
]


class MinimalMigration(_Schema):
    """The smallest set of changes found to earn MIGRATE against the baseline, and how sure that is."""

    status: MinimalStatus
    changes: list[str] = Field(default=[], description="tokens")
    label: str | None = Field(None, description="the configuration whose verdict decided it")
    detail: str
    verdict: Verdict | None = Field(None, description="that configuration's verdict against the baseline")
    evidence: Ratio | None = Field(None, description="the ratio that tells that verdict best, with its interval")


class Attribution(_Schema):
    """``harness attribute``: what each change between two variants contributes."""

    baseline: Service
    target: Service
    total: list[Effect] = Field(default=[], description="target against baseline")
    changes: list[ChangeEffect] = []
    minimal: MinimalMigration | None = None


class CapacityProbe(_Schema):
    """One open-loop rate a capacity search tried, and what it showed."""

    service: Service
    workers: int
    phase: Literal["grow", "bisect", "validate"]
    rate_rps: float = Field(description="the arrival rate asked for")
    sent_rps: float = Field(description="requests the generator actually sent per second of the window")
    throughput_rps: float
    p95_ms: Estimate = Field(description="p95 from each request's due time (coordinated omission corrected)")
    error_rate: float
    window_s: float
    stopped_early: bool = False
    verdict: ProbeVerdict
    service_cores: float | None = None
    bench_cores: float | None = None
    service_cpu_ms_per_request: float | None = None
    database_cpu_ms_per_request: float | None = None
    database_operations_per_request: float | None = None
    bound_by: list[Component] = []
    step_dir: str | None = Field(None, description="the probe's step directory, relative to the run")


class CapacityResult(_Schema):
    """The highest rate one variant at one worker count sustains within the SLO."""

    service: Service
    workers: int
    service_cpus: list[int] = Field(description="the CPUs it ran on ([] unpinned)")
    capacity_rps: Estimate = Field(
        description="the highest validated sustained rate; the interval runs from the highest rate "
        "whose p95 bootstrap interval lay wholly under the SLO to the lowest rate that broke it"
    )
    per_cpu_rps: Estimate = Field(description="capacity_rps per service CPU (per worker unpinned)")
    validated: bool = Field(description="a longer run at capacity_rps confirmed it")
    ceiling_reached: bool = Field(False, description="the search's highest rate was still sustained")
    database_operations_per_request: float | None = None
    database_cpu_ms_per_request: float | None = Field(
        None, description="marginal: the slope of the database's CPU over the sustained rates (ms per request)"
    )
    service_cpu_ms_per_request: float | None = None
    notes: list[str] = []


class ScalingFit(_Schema):
    """Capacity against worker CPUs for one variant, the model the points support, its residuals."""

    service: Service
    model: ScalingModel
    parameters: dict[str, float] = Field(description="lambda (rps per CPU at n=1), sigma, kappa as fitted")
    points: list[tuple[int, float]] = Field(description="(workers, measured capacity rps)")
    residuals: list[float] = Field(description="measured - fitted, rps, per point")
    fitted: bool = Field(description="False: too few points to fit; the model is assumed, not supported")
    note: str = ""


class CpuProjection(_Schema):
    """PROJECTED: the worker CPUs a variant needs for a rate this machine cannot give it."""

    service: Service
    target_rps: float
    target: str = Field(description="what the target rate stands for, e.g. '500 users at the checklist's pacing'")
    workers_needed: int | None = Field(description="None: the fitted model never reaches the target")
    model: ScalingModel
    peak_rps: float | None = Field(None, description="the model's maximum, when it has one (USL)")
    database_cores_at_target: float | None = None
    database_limit_rps: float | None = Field(
        None, description="the rate at which the database would need a full core (the embedded one has one)"
    )
    assumptions: list[str] = []


class CapacityRatio(_Schema):
    """A variant's capacity over the baseline's at the same worker count; the interval combines the
    two brackets' ends (low over high, high over low), so it is at least as wide as either."""

    service: Service
    baseline: Service
    workers: int
    value: Estimate


class CapacitySearch(_Schema):
    """``harness capacity``: each variant's capacity at the SLO, its scaling, and what it needs."""

    slo_p95_ms: float
    max_error_rate: float
    min_delivered: float = Field(description="share of the asked rate the generator must send")
    resolution: float = Field(description="the search stops when the bracket's ends are this close (ratio - 1)")
    probe_window_s: float
    validation_window_s: float
    timeout_s: float = Field(description="the generator's timeout during the search")
    target_rps: float
    target: str
    results: list[CapacityResult] = []
    probes: list[CapacityProbe] = []
    fits: list[ScalingFit] = []
    projections: list[CpuProjection] = []
    baseline: Service | None = None
    ratios: list[CapacityRatio] = Field(default=[], description="each variant's capacity over the baseline's")
    notes: list[str] = []


class FaultResult(_Schema):
    # The figures a fault criterion can judge (harness.analysis.criteria).
    METRICS: ClassVar[tuple[str, ...]] = ("doubled_in_crash_window_share", "doubled_at_timeout_edge_share")

    service: Service
    fault: str
    users: int | None = Field(None, description="the step's load level (closed loop)")
    arrival_rate: float = 0.0
    trial: int = 0
    started_s: float = Field(description="fault start, seconds since the step began")
    ended_s: float
    errors_during: int
    requests_during: int
    statuses_during: dict[str, int] = Field(
        default={}, description="HTTP status -> requests in flight during the fault (0: no answer)"
    )
    recovery_s: float | None = Field(description="fault end to first full second without errors")
    ready_503_seen: bool | None = Field(description="/ready turned 503 during the fault (None: no /ready)")
    ready_recovered: bool | None
    audit: AuditFigures
    # worker-crash
    kills: int | None = Field(None, description="service workers SIGKILLed during the fault")
    lease_s: float | None = Field(None, description="PROCESSING_LEASE_SECONDS of the services in this run")
    messages_cut: int | None = Field(None, description="messages obliging a reply whose attempt a kill cut off")
    cut_unacknowledged: int | None = Field(None, description="of those, never answered 2xx in the window")
    cut_to_ack_max_s: float | None = Field(
        None, description="longest from a kill to the 2xx of a message it cut (a lease holds a claim that long)"
    )
    # upstream-timeout-edge
    edge_sends: int | None = Field(None, description="Graph API sends answered around the services' timeout")
    edge_late: int | None = Field(None, description="of those, answered after the timeout")
    # graph-throttled: one message sent by the harness that the Graph API refuses, and the answer
    probe: str | None = Field(None, description="what the probe sent (None: no probe)")
    probe_status: int | None = Field(None, description="the service's answer to it (0: none)")
    probe_retry_after: str | None = Field(None, description="its Retry-After header (None: none)")

    def figure(self, metric: str) -> float | None:
        """A fault criterion's figure (one of :attr:`METRICS`); None when this fault does not measure it:
        doubles in crash windows per message a kill cut off, doubles at the timeout's edge per edge send."""
        if metric == "doubled_in_crash_window_share":
            if self.kills is None:
                return None
            return self.audit.doubled_in_crash_window / self.messages_cut if self.messages_cut else 0.0
        if metric != "doubled_at_timeout_edge_share":
            raise ValueError(f"unknown fault metric {metric!r}; one of {', '.join(self.METRICS)}")
        if self.edge_sends is None:
            return None
        return self.audit.doubled_at_timeout_edge / self.edge_sends if self.edge_sends else 0.0


class Results(_Schema):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    created_at: datetime
    finished_at: datetime | None = None
    complete: bool = Field(description="False: stopped early; figures cover the steps that ran")
    incomplete_reason: str | None = None
    machine: MachineInfo
    settings: RunSettings
    steps: list[StepResult] = []
    summaries: list[LevelSummary] = []
    criteria: list[CriterionResult] = Field(default=[], description="every criterion on every service")
    decisions: list[Decision] = Field(default=[], description="one per candidate")
    soak: list[SoakResult] = []
    faults: list[FaultResult] = []
    claims: list[ClaimCheck] = Field(default=[], description="the checklist's promises, per candidate")
    costs: list[CostFigures] = Field(default=[], description="CPU and money per message, per service and level")
    targets: list[TargetLoad] = Field(default=[], description="the target-load answer, per service")
    attribution: Attribution | None = None
    capacity: CapacitySearch | None = None
    records_file: str | None = Field(None, description="per-request records, relative to this file")

    def decision_for(self, candidate: str) -> Decision | None:
        return next((d for d in self.decisions if d.candidate == candidate), None)

    def target_for(self, service: str) -> TargetLoad | None:
        return next((t for t in self.targets if t.service == service), None)

    @property
    def decision(self) -> Decision | None:
        """The first candidate's decision (a run with one candidate has only that one)."""
        return self.decisions[0] if self.decisions else None


def save_results(results: Results, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(results.model_dump_json(indent=2))
    tmp.replace(path)  # readers never see half a file
    return path


def load_results(path: Path | str) -> Results:
    """Read ``results.json`` (or a run directory holding one), refusing unknown schema versions."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    raw = json.loads(path.read_text())
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: results schema version {version!r}, this harness reads {SCHEMA_VERSION}")
    return Results.model_validate(raw)
