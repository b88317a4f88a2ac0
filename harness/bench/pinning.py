"""CPU isolation: the services under test on CPUs of their own, the bench (database, fake
upstream, Locust, the harness) on the others, so a step's figures are the service's and the
saturation guard can judge the two sets apart.

Whole process trees are pinned: a child inherits its parent's CPUs at fork, so gunicorn's
workers (and any it restarts) stay on the service's CPUs. Where the platform cannot pin (no
``sched_setaffinity``), or the machine has a single CPU, the run is unpinned and says why.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import psutil

__all__ = ["CpuPlan", "busy_cores", "cpu_plan", "pin_tree", "pinned_here", "steal_seconds"]


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the services and the bench run on; ``reason`` says why the run is unpinned."""

    service: tuple[int, ...] = ()
    bench: tuple[int, ...] = ()
    reason: str | None = "not pinned"

    @property
    def pinned(self) -> bool:
        return self.reason is None

    def describe(self) -> str:
        if not self.pinned:
            return f"unpinned: {self.reason}"
        return f"services on CPU {_cpus(self.service)}, the bench on CPU {_cpus(self.bench)}"


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _available() -> list[int] | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def cpu_plan(service_cpus: int | None = None) -> CpuPlan:
    """``service_cpus`` CPUs for the services (None: half the machine, at least one; 0: off), the
    rest for the bench."""
    if service_cpus == 0:
        return CpuPlan(reason="turned off (--service-cpus 0)")
    available = _available()
    if available is None:
        return CpuPlan(reason="this platform cannot pin processes to CPUs (no sched_setaffinity)")
    if len(available) < 2:
        return CpuPlan(reason=f"only {len(available)} CPU available to this process: nothing to split")
    count = service_cpus if service_cpus is not None else max(1, len(available) // 2)
    if count >= len(available):
        return CpuPlan(reason=f"--service-cpus {count} leaves the bench none of the {len(available)} CPUs")
    return CpuPlan(service=tuple(available[-count:]), bench=tuple(available[:-count]), reason=None)


def pin_tree(pid: int, cpus: Iterable[int]) -> None:
    """Pin a process and every descendant it has now (later children inherit)."""
    cpus = set(cpus)
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        with contextlib.suppress(psutil.Error, OSError):
            process.cpu_affinity(sorted(cpus))


@contextlib.contextmanager
def pinned_here(cpus: Iterable[int] | None) -> Iterator[None]:
    """This thread (and the processes it starts) on ``cpus`` for the block; as before after it."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def steal_seconds(before: Sequence[object], after: Sequence[object], cpus: Iterable[int] | None = None) -> float | None:
    """CPU seconds the hypervisor took from ``cpus`` (every CPU by default) between two
    ``psutil.cpu_times(percpu=True)`` (None where the platform has no steal counter: not a virtual
    machine's Linux)."""
    if not before or not hasattr(before[0], "steal"):
        return None
    chosen = range(len(after)) if cpus is None else cpus
    return sum(getattr(after[cpu], "steal", 0.0) - getattr(before[cpu], "steal", 0.0) for cpu in chosen)


def busy_cores(before: Sequence[object], after: Sequence[object], cpus: Iterable[int]) -> float:
    """CPU seconds the given CPUs were busy between two ``psutil.cpu_times(percpu=True)``
    (any process: guest time is inside user time on Linux, so it is not added again)."""
    fields = ("user", "nice", "system", "irq", "softirq")
    return sum(getattr(after[cpu], f, 0.0) - getattr(before[cpu], f, 0.0) for cpu in cpus for f in fields)
