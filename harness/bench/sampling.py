"""CPU and memory of the bench's components, sampled from a background thread with psutil.

A component is one or more process trees given by their root PIDs (a gunicorn master and its
workers; a Locust master and its workers, which are separate roots). Every ``interval`` the
sampler reads the CPU time and RSS of each tree's live processes. A process that exits keeps
the CPU it had used by its last sample (so a restarting worker's work is not lost); one that
appears mid-window is counted from zero if it was born in the window.

Sampling is cheap on purpose (it shares the machine): one scan of the process table per tick
for the whole bench, and one ``/proc`` read per watched process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import psutil

from ..results import ComponentUsage

__all__ = ["ResourceSampler"]

_MB = 1024 * 1024  # RSS is reported in MiB, labelled MB as the results schema does
_PEAK_WINDOW_S = 1.0  # cpu_cores_max is the highest rate over windows of about this length


@dataclass
class _Sample:
    at: float  # time.monotonic()
    wall: float  # time.time() of the same instant
    cpu_seconds: float  # cumulative over the tree's processes, since each was first counted
    rss_mb: float


@dataclass
class _Component:
    roots: list[int]
    processes: dict[int, psutil.Process] = field(default_factory=dict)
    cpu_first: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds when first counted
    cpu_last: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds at its last sample
    samples: list[_Sample] = field(default_factory=list)
    window_pids: set[int] = field(default_factory=set)  # every process alive in the window


class ResourceSampler:
    """``start()``, ``mark()`` at the start of the measured window, ``stop()`` for the figures."""

    def __init__(self, components: Mapping[str, int | Iterable[int]] | None = None, interval: float = 0.5) -> None:
        if interval <= 0:
            raise ValueError("interval must be more than 0")
        self.interval = interval
        self._components: dict[str, _Component] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._window_start = 0.0  # time.monotonic() of mark() (or start())
        self._window_start_wall = 0.0  # the same instant in UNIX time, to compare process birth times
        for name, pids in (components or {}).items():
            self.watch(name, pids)

    # -- configuration ---------------------------------------------------------------------------
    def watch(self, name: str, pids: int | Iterable[int]) -> None:
        """Add root PIDs to a component (e.g. the Locust processes, once a step has started)."""
        roots = [pids] if isinstance(pids, int) else list(pids)
        with self._lock:
            component = self._components.setdefault(name, _Component(roots=[]))
            component.roots.extend(pid for pid in roots if pid not in component.roots)
            if self._thread is not None:
                self._sample(component, time.monotonic(), _children_by_parent())

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ResourceSampler:
        if self._thread is not None:
            raise RuntimeError("a sampler is started once")
        self._started_at = time.monotonic()
        self.mark()  # the window is the whole run unless mark() moves its start
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()
        return self

    def mark(self) -> None:
        """Begin the measured window here (e.g. when the warm-up ends)."""
        with self._lock:
            self._window_start = time.monotonic()
            self._window_start_wall = time.time()
            children = _children_by_parent()
            for component in self._components.values():
                component.window_pids = set()
                self._sample(component, self._window_start, children)

    def stop(self) -> dict[str, ComponentUsage]:
        """Stop sampling; each component's usage over the window (from ``mark()``, else ``start()``)."""
        if self._thread is None:
            raise RuntimeError("the sampler was not started")
        if not self._stopped.is_set():
            self._stopped.set()
            self._thread.join(timeout=max(5.0, 4 * self.interval))
            self._tick()  # a last sample at the true end of the window
        with self._lock:
            return {name: _usage(c, self._window_start) for name, c in self._components.items()}

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self.stop()

    # -- series ----------------------------------------------------------------------------------
    def cpu_series(self, name: str) -> list[tuple[float, float]]:
        """(UNIX time, CPU seconds since the window began) of one component, every sample of the
        measured window: its CPU per second, for intervals and the timeline."""
        with self._lock:
            window = [s for s in self._components[name].samples if s.at >= self._window_start]
        if not window:
            return []
        first = window[0].cpu_seconds
        return [(round(s.wall, 3), round(s.cpu_seconds - first, 4)) for s in window]

    def rss_series(self, name: str) -> list[tuple[float, float]]:
        """(seconds since ``start()``, RSS MB) of one component, every sample (for soak analysis)."""
        with self._lock:
            return [(round(s.at - self._started_at, 3), round(s.rss_mb, 2)) for s in self._components[name].samples]

    # -- sampling --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self._tick()

    def _tick(self) -> None:
        with self._lock:
            now = time.monotonic()
            children = _children_by_parent()
            for component in self._components.values():
                self._sample(component, now, children)

    def _sample(self, component: _Component, now: float, children: dict[int, list[int]]) -> None:
        rss = 0.0
        for pid in _tree(component.roots, children):
            try:
                process = component.processes.get(pid)
                if process is None:
                    process = component.processes[pid] = psutil.Process(pid)
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_info()
                    born = process.create_time()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # exited between the scan and the read: its last sample stands
            cpu = times.user + times.system
            if pid not in component.cpu_first:
                # Born in the window: all its CPU is the window's. Older: count from now on.
                component.cpu_first[pid] = 0.0 if born >= self._window_start_wall - 0.02 else cpu
            component.cpu_last[pid] = cpu
            component.window_pids.add(pid)
            rss += memory.rss / _MB
        counted = sum(component.cpu_last[pid] - component.cpu_first[pid] for pid in component.cpu_last)
        component.samples.append(_Sample(now, time.time(), counted, rss))


def _children_by_parent() -> dict[int, list[int]]:
    """One pass over the process table for every component (cheaper than a scan per tree)."""
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        ppid = process.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(process.pid)
    return children


def _tree(roots: Iterable[int], children: dict[int, list[int]]) -> list[int]:
    pids: list[int] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in pids:
            continue
        pids.append(pid)
        pending.extend(children.get(pid, ()))
    return pids


def _usage(component: _Component, since: float) -> ComponentUsage:
    window = [s for s in component.samples if s.at >= since]
    if not window:  # watched after the window ended: nothing to report
        return ComponentUsage(
            pids=[],
            cpu_seconds=0.0,
            cpu_cores_mean=0.0,
            cpu_cores_max=0.0,
            rss_mb_start=0.0,
            rss_mb_end=0.0,
            rss_mb_max=0.0,
        )
    at = np.array([s.at for s in window])
    cpu = np.array([s.cpu_seconds for s in window])
    rss = np.array([s.rss_mb for s in window])
    elapsed = float(at[-1] - at[0])
    cpu_seconds = float(cpu[-1] - cpu[0])
    return ComponentUsage(
        pids=sorted(component.window_pids),
        cpu_seconds=round(cpu_seconds, 4),
        cpu_cores_mean=round(cpu_seconds / elapsed, 4) if elapsed > 0 else 0.0,
        cpu_cores_max=round(_peak_rate(at, cpu), 4) if elapsed > 0 else 0.0,
        rss_mb_start=round(float(rss[0]), 2),
        rss_mb_end=round(float(rss[-1]), 2),
        rss_mb_max=round(float(rss.max()), 2),
    )


def _peak_rate(at: np.ndarray, cpu: np.ndarray) -> float:
    """Highest CPU rate (cores) over windows of at least ~1 s ending at each sample."""
    starts = np.searchsorted(at, at - _PEAK_WINDOW_S, side="right") - 1
    valid = starts >= 0
    if not valid.any():  # a window shorter than 1 s: its mean is the best peak there is
        return float((cpu[-1] - cpu[0]) / (at[-1] - at[0]))
    ends = np.nonzero(valid)[0]
    rates = (cpu[ends] - cpu[starts[valid]]) / (at[ends] - at[starts[valid]])
    return float(max(rates.max(), 0.0))
