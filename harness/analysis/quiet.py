"""Was the machine quiet while a step measured? Work outside the bench, and the virtual
machine's host taking CPU (steal), slow whichever service they fall on: a level they touched
measures the disturbance, not the design, and says so as its cause (:attr:`Unusable.DISTURBED`).

Limits, as shares of the machine's cores. Outside work on a quiet 2-core VM is the harness's own
process, 0.03-0.08 cores; a second busy process (a test suite, a build) takes most of a core.
Steal on quiet runs was 0.00-0.16 cores; CI steps with 0.39-0.67 cores moved an A/A p95 ratio
to 0.79 (the figures and their commands: docs/measurements.md).
"""

from __future__ import annotations

from ..results import Results, StepResult

__all__ = [
    "OTHER_WORK_LIMIT_SHARE",
    "STEAL_LIMIT_SHARE",
    "disturbance",
    "other_work_cores",
    "other_work_limit",
    "steal_limit",
]

OTHER_WORK_LIMIT_SHARE = 0.25
STEAL_LIMIT_SHARE = 0.10


def other_work_limit(results: Results) -> float:
    """Cores other processes may take during a step before its level is not used."""
    return OTHER_WORK_LIMIT_SHARE * max(results.machine.cpu_count, 1)


def steal_limit(cpu_count: int) -> float:
    """Cores the host may take from the machine during a step before its level is not used."""
    return STEAL_LIMIT_SHARE * max(cpu_count, 1)


def other_work_cores(step: StepResult) -> float | None:
    """CPU the rest of the machine used during the step's window, in cores: everything busy
    minus the service and the bench's own parts (None when the machine was not sampled)."""
    if step.cpu_load is None:
        return None
    bench = sum(usage.cpu_cores_mean for usage in step.components.values())
    return max(step.cpu_load.machine_cores - bench, 0.0)


def disturbance(step: StepResult) -> str | None:
    """Why the step was not measured on a quiet machine, in words (None: it was)."""
    load = step.cpu_load
    if load is None:
        return None
    causes = []
    other = other_work_cores(step)
    if other is not None and other > OTHER_WORK_LIMIT_SHARE * max(load.machine_cpus, 1):
        causes.append(f"processes outside the bench took {other:.2f} cores")
    if load.steal_cores is not None and load.steal_cores > steal_limit(load.machine_cpus):
        causes.append(f"the VM's host took {load.steal_cores:.2f} cores (steal)")
    if not causes:
        return None
    return f"trial {step.trial}: " + " and ".join(causes)
