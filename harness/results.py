"""The one versioned results schema that ``compare``, ``report``, ``gate`` and the notebook share.

A run directory holds ``results.json`` (this schema) and the per-request records (``requests.parquet``,
or ``requests.csv`` where Parquet is unavailable) whose columns are :data:`RECORD_COLUMNS`.
Readers call :func:`load_results`; nothing parses ``results.json`` by hand. A change that removes
or renames a field bumps :data:`SCHEMA_VERSION`; adding an optional field does not.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ABANDONED",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "AuditFigures",
    "CacheFigures",
    "ComponentUsage",
    "CriterionResult",
    "DatabaseFigures",
    "Decision",
    "Estimate",
    "FaultResult",
    "LatencySummary",
    "MachineInfo",
    "Ratio",
    "Results",
    "RunSettings",
    "SoakResult",
    "StepResult",
    "StepSummary",
    "load_results",
    "save_results",
]

SCHEMA_VERSION = 1

# Per-request records, one row per HTTP request the load generator made.
RECORD_COLUMNS = {
    "service": "str: original | optimized | echo (or any name given to `harness run`)",
    "users": "int: concurrent users of the step (0 in open-loop mode)",
    "arrival_rate": "float: requests/s asked for in open-loop mode (0 in closed-loop mode)",
    "trial": "int: trial number of this step, from 0",
    "t_start": "float: UNIX time the request was sent",
    "intended_start": "float: UNIX time it was due (open loop; equals t_start in closed loop)",
    "latency_ms": "float: send to full response, measured by the load generator",
    "corrected_latency_ms": "float: intended start to full response (coordinated omission corrected)",
    "status": "int: HTTP status, 0 when no response (connection error or timeout)",
    "kind": "str: text | status | duplicate | unknown_phone | disabled | handshake | media | ...",
    "wamid": "str: inbound message id the request carried ('' for statuses and handshakes)",
    "expects_reply": "bool: a 2xx for this request obliges exactly one reply upstream",
    "attempt": "int: 1 for the first delivery, 2.. for Meta-style retries of the same body",
    "error": "str: error class when status is 0, else ''; 'Abandoned': cut off when the step ended",
}
# An attempt Locust cut off when its step ended: the generator's doing, kept for the delivery
# audit (the message it carried is known) but neither answered nor failed by the service.
ABANDONED = "Abandoned"

Service = str
Verdict = Literal["MIGRATE", "DO NOT MIGRATE", "INCONCLUSIVE"]
Component = Literal["service", "load_generator", "database", "upstream", "machine"]


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


class RunSettings(_Schema):
    command: str = Field(description="compare | run | selftest | soak | fault")
    profile: str
    services: list[str]
    users: list[int] = Field(description="closed-loop user steps (empty in open-loop mode)")
    arrival_rates: list[float] = Field(default=[], description="open-loop steps, requests/s")
    step_duration_s: float
    warmup_s: float = Field(description="start of each step excluded from the figures")
    trials: int
    service_workers: int
    locust_workers: int
    remote_workers: int = Field(
        0, description="Locust workers on other machines (their CPU is not sampled)"
    )
    wait_min_s: float
    wait_max_s: float
    llm_latency_ms: float = Field(description="configured fake LLM latency (0 = no LLM call)")
    graph_latency_ms: float = Field(description="configured fake Graph API latency")
    businesses: int
    phones_per_business: int
    seed: int
    mix: dict[str, float] = Field(description="share of each request kind in the load")
    database: str = Field(description="embedded SecantusDB <version>, or the redacted MONGODB_URI")
    criteria_file: str
    candidate: str | None = Field(None, description="the service the verdict is about")
    baseline: str | None = Field(None, description="the service it is compared against")
    fault: str | None = None

    @property
    def compared(self) -> tuple[str, str]:
        """(candidate, baseline); a run that names neither compared optimized with original."""
        return self.candidate or "optimized", self.baseline or "original"


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


class AuditFigures(_Schema):
    """What the fake upstream actually received, matched against what the generator was told."""

    expected: int = Field(description="acknowledged messages that oblige one reply")
    delivered: int = Field(description="expected messages with at least one reply")
    lost: int = Field(description="expected messages with no reply")
    doubled: int = Field(description="messages answered more than once")
    wrong_token: int = Field(description="replies sent with a token not that business's")
    unexpected: int = Field(description="replies to messages that oblige none (unknown, duplicate)")
    unacknowledged: int = Field(description="messages never answered 2xx (retries given up or cut)")

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.wrong_token == 0 and self.unexpected == 0


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
    machine_cpu_cores: float | None = Field(
        None, description="CPU busy over the window on the whole machine, in cores (every process)"
    )
    bound_by: list[Component] = Field(
        default=[],
        description="bench parts that ran out of CPU (a helper near a full core, or 'machine': the "
        "machine was busy and the bench took a large share): the step measured the bench",
    )
    audit: AuditFigures | None = None
    complete: bool = True
    notes: list[str] = []


class Estimate(_Schema):
    """A figure over a step's trials, with its bootstrap 95% confidence interval."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class StepSummary(_Schema):
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
    usable: bool = Field(True, description="False: bench-bound, incomplete or too few requests")
    slowed_by_bench: bool = Field(
        False,
        description="unusable only because the database, upstream or machine slowed the service: "
        "its figures are pessimistic, so a criterion it passes still stands (a failure is not judged)",
    )
    notes: list[str] = []
    has_cache: bool | None = Field(None, description="False: the service has no cache (n/a)")
    database_operations_per_request: float | None = None
    load_generator_cpu_cores: float | None = Field(
        None, description="highest trial mean of the load generator's CPU, in cores"
    )
    trial_windows: dict[int, tuple[float, float]] = Field(
        {}, description="trial -> measured window (UNIX start, end): which records count"
    )


class CriterionResult(_Schema):
    criterion: str = Field(description="name in the criteria file")
    service: Service
    users: int | None = Field(description="load level it was judged at (None: whole run)")
    metric: str
    op: str
    threshold: float
    value: float | None
    passed: bool | None = Field(description="None: could not be judged (missing or unusable data)")
    detail: str = ""
    applicable: bool = Field(
        True, description="False: not judged by design (no cache; when_missing = skip), never inconclusive"
    )


class Ratio(_Schema):
    """candidate / baseline (optimized / original by default) for one metric at one load level
    (below 1 is better for latency)."""

    users: int
    arrival_rate: float = 0.0
    metric: str
    value: Estimate
    significant: bool | None = Field(None, description="Mann-Whitney U on per-request latency, p < 0.01")
    p_value: float | None = None


class Decision(_Schema):
    verdict: Verdict
    reasons: list[str]
    criteria: list[CriterionResult]
    ratios: list[Ratio]


class SoakResult(_Schema):
    service: Service
    users: int
    duration_s: float
    rss_samples: list[tuple[float, float]] = Field(description="(seconds since start, RSS MB)")
    rss_slope_mb_per_min: float
    rss_slope_ci: tuple[float, float] | None = None
    growing: bool


class FaultResult(_Schema):
    service: Service
    fault: str
    started_s: float = Field(description="fault start, seconds since the step began")
    ended_s: float
    errors_during: int
    requests_during: int
    recovery_s: float | None = Field(description="fault end to first full second without errors")
    ready_503_seen: bool | None = Field(description="/ready turned 503 during the fault (None: no /ready)")
    ready_recovered: bool | None
    audit: AuditFigures


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
    summaries: list[StepSummary] = []
    decision: Decision | None = None
    soak: list[SoakResult] = []
    faults: list[FaultResult] = []
    records_file: str | None = Field(None, description="per-request records, relative to this file")


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
