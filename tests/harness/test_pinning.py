"""CPU accounting between two per-CPU samples: busy time, and the host's steal per CPU set."""

from __future__ import annotations

from collections import namedtuple

from harness.bench.pinning import busy_cores, steal_seconds

Times = namedtuple("Times", "user nice system irq softirq idle steal")


def _cpu(user: float, steal: float) -> Times:
    return Times(user, 0.0, 0.0, 0.0, 0.0, 0.0, steal)


def test_steal_is_counted_on_the_cpus_asked_for_and_on_all_by_default():
    before = [_cpu(1.0, 0.5), _cpu(2.0, 1.0)]
    after = [_cpu(1.5, 0.6), _cpu(2.2, 1.4)]  # CPU 1: 0.4 s stolen, CPU 0: 0.1 s
    assert round(steal_seconds(before, after), 6) == 0.5
    assert round(steal_seconds(before, after, [1]), 6) == 0.4
    assert round(steal_seconds(before, after, [0]), 6) == 0.1
    assert round(busy_cores(before, after, [1]), 6) == 0.2


def test_no_steal_counter_is_none():
    Plain = namedtuple("Plain", "user nice system irq softirq idle")
    assert steal_seconds([Plain(0, 0, 0, 0, 0, 0)], [Plain(1, 0, 0, 0, 0, 0)], [0]) is None


def test_a_pinned_step_records_the_steal_on_the_services_cpus_apart():
    from harness.bench.pinning import CpuPlan
    from harness.runs.step import _cpu_load

    before = [_cpu(1.0, 0.5), _cpu(2.0, 1.0)]
    after = [_cpu(1.5, 0.6), _cpu(2.2, 1.4)]
    load = _cpu_load(CpuPlan(service=(1,), bench=(0,), reason=None), before, after, 2.0)
    assert round(load.steal_cores, 6) == 0.25 and round(load.service_steal_cores, 6) == 0.2
    assert _cpu_load(CpuPlan(), before, after, 2.0).service_steal_cores is None  # unpinned: no CPU set
