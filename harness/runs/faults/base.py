"""What every fault kind is: its options, its checks, its description, what it needs from the
bench, and how it is injected and healed. One module per kind registers one subclass."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ...bench import Bench, ServiceProcess
from ...upstream import UpstreamProcess
from ..plan import RunPlan

__all__ = [
    "FAULTS",
    "Evidence",
    "Fault",
    "FaultOption",
    "FaultUnavailable",
    "GraphKnobs",
    "Injector",
    "Timeline",
    "register",
]


class FaultUnavailable(RuntimeError):
    """This bench cannot inject the fault (e.g. a database outage on a server it does not own)."""


@dataclass(frozen=True)
class Timeline:
    """When the fault is in force, in seconds into each step's measured window, and the
    services' Graph API timeout during the run (some faults are drawn relative to it)."""

    start_s: float = 10.0
    duration_s: float = 10.0
    graph_timeout_s: float = 2.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def problems(self) -> list[str]:
        return [
            message
            for failed, message in (
                (self.start_s < 0, "the fault cannot start before the window"),
                (self.duration_s <= 0, "the fault must last more than 0 s"),
                (self.graph_timeout_s <= 0, "the Graph API timeout must be more than 0 s"),
            )
            if failed
        ]


@dataclass(frozen=True)
class FaultOption:
    """A command-line knob of a fault kind (``--flag``); the value reaches the fault by ``name``."""

    name: str
    flag: str
    default: float | None
    help: str
    share: bool = False  # a share between 0 and 1


@dataclass(frozen=True)
class Evidence:
    """What an injector saw that the step's figures need (an injector may offer it as
    ``evidence()``; without one, a fault has none of these)."""

    kills: tuple[float, ...] | None = None  # UNIX time of each SIGKILL (None: nothing was killed)
    lease_s: float | None = None  # the claims' processing lease in this run
    edge: bool = False  # the Graph API answered sends at the edge of the services' timeout
    probe: str | None = None  # a message the harness sent itself, in words
    probe_status: int | None = None  # the service's answer to it (0: none)
    probe_retry_after: str | None = None
    notes: tuple[str, ...] = ()  # for the step's notes


class Injector(Protocol):
    def inject(self) -> None: ...

    def heal(self) -> None: ...


class Fault(ABC):
    """One fault kind. A subclass sets :attr:`kind`, :attr:`summary` and its :attr:`options`,
    checks them in :meth:`problems`, words itself in :meth:`describe`, changes the run's plan
    in :meth:`prepare` if it must (a database on disk, a proxy, a setting), and makes the
    :meth:`injector` that breaks and heals one step's bench."""

    kind: ClassVar[str]
    summary: ClassVar[str]  # one line for --help
    options: ClassVar[tuple[FaultOption, ...]] = ()

    def __init__(self, timeline: Timeline, values: Mapping[str, float | None] | None = None) -> None:
        self.timeline = timeline
        given = dict(values or {})
        self.values = {option.name: given.get(option.name, option.default) for option in self.options}
        problems = timeline.problems() + self._share_problems() + self.problems()
        if problems:
            raise ValueError(f"invalid fault {self.kind}: " + "; ".join(problems))

    def _share_problems(self) -> list[str]:
        return [
            f"{option.flag} is a share between 0 and 1, not {self.values[option.name]:g}"
            for option in self.options
            if option.share and self.values[option.name] is not None and not 0 <= self.values[option.name] <= 1
        ]

    def problems(self) -> list[str]:
        """What makes these values unable to give an honest run (empty: nothing)."""
        return []

    @abstractmethod
    def describe(self) -> str:
        """What is broken, in a few words (the timeline is added by :meth:`description`)."""

    def description(self) -> str:
        t = self.timeline
        return f"{self.kind} ({self.describe()}) for {t.duration_s:g} s from {t.start_s:g} s into each measured window"

    def prepare(self, plan: RunPlan, storage_dir: Path) -> RunPlan:
        """The plan this fault needs (default: unchanged); raise :class:`FaultUnavailable`."""
        return plan

    @abstractmethod
    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        """What breaks and heals the bench of one step."""


FAULTS: dict[str, type[Fault]] = {}


def register(fault: type[Fault]) -> type[Fault]:
    """Class decorator: the kind joins ``harness chaos --fault``."""
    if fault.kind in FAULTS:
        raise ValueError(f"fault kind {fault.kind!r} registered twice")
    FAULTS[fault.kind] = fault
    return fault


# Every failure knob of the fake Graph API, off: a fault turns on only its own, so a knob left on
# by an earlier configuration never mixes two faults in one window.
_GRAPH_FAILURES_OFF: dict[str, float] = {"error_rate": 0.0, "timeout_rate": 0.0, "throttle_rate": 0.0, "edge_rate": 0.0}


class GraphKnobs:
    """Injects a fault by changing the fake Graph API's knobs (every other failure knob off), and
    heals it by restoring them."""

    def __init__(self, upstream: UpstreamProcess, knobs: Mapping[str, Any]) -> None:
        self._upstream = upstream
        self._knobs = {**_GRAPH_FAILURES_OFF, **knobs}
        self._before = upstream.control()["graph"]

    def inject(self) -> None:
        self._upstream.configure(graph=self._knobs)

    def heal(self) -> None:
        self._upstream.configure(graph=self._before)
