"""The resource sampler on real child processes: one burning a core, one idle, trees that change.

The machine is shared and has 2 cores, so a busy loop may get less than a full core: the
checks compare the sampler with the kernel's own count over the same window, and bound the
figures only where physics does (one thread cannot use more than one core).
"""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from harness.bench.sampling import ResourceSampler
from harness.processes import ManagedProcess, wait_until

pytestmark = pytest.mark.timeout(60)

BUSY = [sys.executable, "-c", "while True: pass"]
IDLE = [sys.executable, "-c", "import time; time.sleep(60)"]
# A parent that idles while its child burns CPU for a second and exits (like a recycled worker).
PARENT_OF_SHORT_BURNER = [
    sys.executable,
    "-c",
    (
        "import subprocess, sys, time\n"
        "busy = 'import time\\nend = time.time() + 1.2\\nwhile time.time() < end: pass'\n"
        "subprocess.Popen([sys.executable, '-c', busy])\n"
        "time.sleep(60)"
    ),
]
ALLOCATOR = [sys.executable, "-c", "import time; time.sleep(1.0); block = bytearray(80 * 1024 * 1024); time.sleep(60)"]


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def test_a_busy_process_uses_about_one_core_and_an_idle_one_about_none():
    with ManagedProcess("busy", BUSY) as busy, ManagedProcess("idle", IDLE) as idle:
        sampler = ResourceSampler({"service": busy.pid, "database": idle.pid}, interval=0.25).start()
        time.sleep(0.5)  # warm-up, excluded
        sampler.mark()
        kernel_before = cpu_seconds(busy.pid)
        started = time.monotonic()
        time.sleep(3.0)
        kernel_cpu = cpu_seconds(busy.pid) - kernel_before
        usage = sampler.stop()
        elapsed = time.monotonic() - started

    service, database = usage["service"], usage["database"]
    assert service.pids == [busy.pid] and database.pids == [idle.pid]
    assert service.cpu_seconds == pytest.approx(kernel_cpu, abs=0.25)
    assert 0.25 < service.cpu_cores_mean <= 1.1  # one thread: never more than a core
    assert service.cpu_cores_mean == pytest.approx(kernel_cpu / elapsed, abs=0.15)
    assert service.cpu_cores_mean - 0.15 <= service.cpu_cores_max <= 1.2
    assert database.cpu_seconds < 0.05 and database.cpu_cores_mean < 0.03 and database.cpu_cores_max < 0.1
    assert 3 < service.rss_mb_start <= service.rss_mb_max < 100


def test_children_count_also_after_they_exit_and_roots_may_be_many():
    with ManagedProcess("parent", PARENT_OF_SHORT_BURNER) as parent, ManagedProcess("idle", IDLE) as idle:
        sampler = ResourceSampler(interval=0.2).start()
        sampler.watch("load_generator", [parent.pid, idle.pid])
        assert wait_until(lambda: len(psutil.Process(parent.pid).children()) == 1, 5)
        child = psutil.Process(parent.pid).children()[0].pid
        assert wait_until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie", 10)
        time.sleep(0.3)
        usage = sampler.stop()["load_generator"]
    assert {parent.pid, idle.pid, child} <= set(usage.pids)
    assert usage.cpu_seconds > 0.4  # the child's burn, kept after it exited


def test_rss_series_follows_memory_and_survives_a_process_that_exits():
    with ManagedProcess("allocator", ALLOCATOR) as allocator:
        sampler = ResourceSampler({"upstream": allocator.pid}, interval=0.2).start()
        time.sleep(2.0)
        allocator.stop()
        time.sleep(0.5)
        usage = sampler.stop()["upstream"]
        series = sampler.rss_series("upstream")
    seconds = [s for s, _ in series]
    assert seconds == sorted(seconds) and seconds[0] == 0.0
    assert max(mb for _, mb in series) - series[0][1] > 60  # the 80 MiB block showed up
    assert usage.rss_mb_max > 60 and usage.rss_mb_end == 0.0  # gone at the end: nothing left


def test_the_sampler_reports_only_what_it_can_and_refuses_misuse():
    sampler = ResourceSampler({"service": 999_999_999}, interval=0.2)
    with pytest.raises(RuntimeError):
        sampler.stop()
    sampler.start()
    time.sleep(0.3)
    usage = sampler.stop()["service"]
    assert usage.pids == [] and usage.cpu_seconds == 0.0 and usage.rss_mb_max == 0.0
    with pytest.raises(ValueError):
        ResourceSampler(interval=0)
