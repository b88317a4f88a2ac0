"""Was the machine quiet while a step measured? Work outside the bench, and the virtual
machine's host taking CPU (steal), slow whichever service they fall on: a level they touched
measures the disturbance, not the design, and says so as its cause (:attr:`Unusable.DISTURBED`).

Limits, as shares of cores. Outside work on a quiet machine is the harness's own process; a
second busy process (a test suite, a build) takes most of a core. Steal is a sign that the host
is busy, and a busy host slows the guest by more than the time it takes: a step is disturbed when
the host took more than half the practical margin of the machine's cores, or of the services'
own CPUs in a pinned run, where the steal lands on the services' CPU time. The measured steal of
quiet and disturbed steps, and what it did to an A/A run: docs/measurements.md.
"""

from __future__ import annotations

from ..metrics import PRACTICAL_MARGIN
from ..results import CpuLoad, Results, StepResult

__all__ = [
    "OTHER_WORK_LIMIT_SHARE",
    "STEAL_LIMIT_SHARE",
    "disturbance",
    "other_work_cores",
    "other_work_limit",
    "steal_past_limit",
    "steal_share",
]

OTHER_WORK_LIMIT_SHARE = 0.25
# Half the smallest difference the verdict acts on: the host's share alone must not reach it.
STEAL_LIMIT_SHARE = PRACTICAL_MARGIN / 2


def other_work_limit(results: Results) -> float:
    """Cores other processes may take during a step before its level is not used."""
    return OTHER_WORK_LIMIT_SHARE * max(results.machine.cpu_count, 1)


def steal_share(load: CpuLoad) -> float | None:
    """The share of CPU the host took during a step: of the machine's cores, or of the services'
    CPUs in a pinned run, whichever is larger (None where the platform does not count steal)."""
    if load.steal_cores is None:
        return None
    shares = [load.steal_cores / max(load.machine_cpus, 1)]
    if load.service_cpus and load.service_steal_cores is not None:
        shares.append(load.service_steal_cores / len(load.service_cpus))
    return max(shares)


def steal_past_limit(load: CpuLoad) -> bool:
    """Whether the host took more than :data:`STEAL_LIMIT_SHARE` during the step."""
    share = steal_share(load)
    return share is not None and share > STEAL_LIMIT_SHARE


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
    if steal_past_limit(load):
        where = "" if load.service_steal_cores is None else f", {load.service_steal_cores:.2f} on the services' CPUs"
        limit = f"limit {STEAL_LIMIT_SHARE:.0%} of the machine's or the services' cores"
        causes.append(f"the VM's host took {load.steal_cores:.2f} cores (steal{where}; {limit})")
    if not causes:
        return None
    return f"trial {step.trial}: " + " and ".join(causes)
