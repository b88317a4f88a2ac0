"""What one run measures: the services under test, the load, the bench, and in what order.

A :class:`RunPlan` is built by a command (or a test) and handed whole to
:func:`~harness.runs.compare.run_comparison`. The load is one
:class:`~harness.results.LoadSettings` value, passed whole down to each step's Locust profile
and stored whole in the results.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..bench import Bench, BenchConfig, BenchSecrets, ServiceProcess
from ..results import FaultResult, LoadSettings, SoakResult, VariantInfo
from ..terms import ECHO
from ..upstream import UpstreamProcess

if TYPE_CHECKING:
    from .step import StepOutcome

__all__ = [
    "RUN_PRESETS",
    "RunPlan",
    "ScenarioStep",
    "StepScenario",
    "Target",
    "WindowHook",
    "echo_target",
    "load_for_profile",
]

# The run presets (`--profile`): how long each step measures, after how much warm-up, how many
# interleaved trials.
RUN_PRESETS: dict[str, dict[str, float]] = {
    # about 20 s a step: a first answer in a few minutes
    "quick": {"step_duration_s": 12, "warmup_s": 3, "trials": 1},
    # longer windows, a longer warm-up, and repeated interleaved trials for confidence intervals
    "full": {"step_duration_s": 60, "warmup_s": 10, "trials": 3},
}

# Called about once a second of each measured window with the seconds elapsed in it and the
# service under load: where a test stops a service, or a scenario breaks something.
WindowHook = Callable[[float, ServiceProcess], None]


def load_for_profile(profile: str, **overrides: object) -> LoadSettings:
    """The load of a named profile, with any field overridden (None values are ignored)."""
    values = {**RUN_PRESETS[profile], **{k: v for k, v in overrides.items() if v is not None}}
    return LoadSettings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Target:
    """One service under test: the label reports use, the app it runs, its settings."""

    label: str
    app: str  # ASGI application, "module:attribute"
    env: Mapping[str, str] = field(default_factory=dict)  # its settings (the architecture choices)
    database: bool = True  # it gets a freshly seeded database of its own
    indexes: bool = False  # its database gets the migration's indexes before it starts
    variant: VariantInfo | None = None  # None: not a service variant (the echo app)
    upstream_latency_factor: float = 1.0  # != 1: its own fake upstream, that much slower
    source: Path | None = None  # where its code is imported from (a git worktree); None: this working tree


def echo_target() -> Target:
    return Target(ECHO, "harness.bench.echo_app:app", database=False)


class ScenarioStep(Protocol):
    """A scenario's hold on one step: it acts during the window and reports what it found."""

    def during_window(self, elapsed_s: float, service: ServiceProcess) -> None: ...

    def finding(self, outcome: StepOutcome) -> FaultResult | SoakResult: ...


class StepScenario(Protocol):
    """Something done to every step besides the load: a fault (``harness chaos``) or a memory
    watch (``harness soak``). ``around_step`` sets it up before the step and undoes it after,
    also when the step fails."""

    fault: str | None  # what RunSettings.fault records (None: nothing is broken on purpose)

    def around_step(
        self, bench: Bench, label: str, service: ServiceProcess, upstream: UpstreamProcess
    ) -> AbstractContextManager[ScenarioStep]: ...


@dataclass(frozen=True)
class RunPlan:
    targets: tuple[Target, ...]
    baseline: str | None = None  # the service every candidate is compared with
    candidates: tuple[str, ...] = ()  # the services a verdict is given for
    load: LoadSettings = field(default_factory=LoadSettings)
    bench: BenchConfig = field(default_factory=BenchConfig)
    profile: str = "quick"
    echo: bool = True  # the bare echo app runs the lowest and highest level too: the machine's own ceiling
    criteria_file: Path | None = None
    command: str = "compare"
    secrets: BenchSecrets | None = None  # None: fresh ones for this run
    during_window: WindowHook | None = None
    scenario: StepScenario | None = None
    price_per_vcpu_hour: float | None = None  # USD, for the cost figures (None: RunSettings' default)

    def __post_init__(self) -> None:
        labels = [target.label for target in self.targets]
        if len(set(labels)) != len(labels):
            raise ValueError(f"two services of one run share a label: {labels}")
        missing = [name for name in (self.baseline, *self.candidates) if name is not None and name not in labels]
        if missing:
            raise ValueError(f"{', '.join(missing)} named but not among the services {labels}")

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(target.label for target in self.targets)

    def deployed(self) -> tuple[Target, ...]:
        """Every target the run starts, the echo app first when it runs."""
        return ((echo_target(),) if self.echo else ()) + self.targets

    def order(self) -> list[tuple[str, int, float, int]]:
        """(service, users, arrival rate, trial) in the order they run: level by level, the echo
        app first at the lowest and the highest level (the ceiling's two ends: a level between
        them costs a step and changes no judgement), then the services in a seeded random order
        per level, reversed every other trial (A B, B A, A B...). The reversal counterbalances the
        position in the turn: in 10 relative runs with one trial (so one order) and the same p95
        code, the service that went second at 100 users had the higher p95 in 9 (first / second
        0.85-1.02, mean 0.93; docs/gate.md)."""
        rng = random.Random(self.load.seed)
        steps = []
        levels = self.load.levels
        ends = (min(levels), max(levels)) if levels else ()
        for users, rate in levels:
            if self.echo and (users, rate) in ends:
                steps.append((ECHO, users, rate, 0))
            turn = list(self.services)
            rng.shuffle(turn)
            for trial in range(self.load.trials):
                steps.extend((service, users, rate, trial) for service in (turn if trial % 2 == 0 else turn[::-1]))
        return steps
