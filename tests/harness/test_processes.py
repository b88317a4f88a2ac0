import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from harness.processes import ManagedProcess, ProcessFailed, free_port, port_in_use, wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# A parent that forks a child into its own process group, like gunicorn does with workers.
FORKER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)",
]


def test_stop_by_pid_ends_the_process_and_its_children():
    with ManagedProcess("forker", FORKER) as process:
        assert wait_until(lambda: len(psutil.Process(process.pid).children()) == 1, 10)
        child = psutil.Process(process.pid).children()[0].pid
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    assert wait_until(lambda: not psutil.pid_exists(child), 5)


def test_stop_sends_sigterm_once_and_a_clean_shutdown_exits_0(monkeypatch):
    # A second SIGTERM that lands after the process has put its handler away ends its clean
    # shutdown by the default action (exit -15).
    graceful = [
        sys.executable,
        "-c",
        "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); time.sleep(60)",
    ]
    sent: list[int] = []
    real_killpg = os.killpg

    def killpg(pgid: int, signum: int) -> None:
        sent.append(signum)
        real_killpg(pgid, signum)

    process = ManagedProcess("graceful", graceful).start()
    monkeypatch.setattr(subprocess.Popen, "send_signal", lambda self, signum: sent.append(signum))
    monkeypatch.setattr("harness.processes.os.killpg", killpg)
    time.sleep(0.3)  # its handler is in place
    assert process.stop() == 0
    assert sent.count(signal.SIGTERM) == 1, sent


def test_a_process_that_ignores_sigterm_is_killed():
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
    ]
    process = ManagedProcess("stubborn", stubborn).start()
    time.sleep(0.3)
    started = time.monotonic()
    process.stop(timeout=1)
    assert time.monotonic() - started < 5
    assert not process.alive


def test_an_early_exit_fails_fast_with_the_log_tail(tmp_path):
    crashing = [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"]
    process = ManagedProcess("crasher", crashing, log_path=tmp_path / "crash.log").start()
    with pytest.raises(ProcessFailed, match="boom: bad config"):
        process.wait_ready(lambda: False, timeout=10)
    process.stop()


def test_not_ready_in_time_is_an_error():
    with ManagedProcess("sleeper", SLEEPER) as process, pytest.raises(ProcessFailed, match="not ready"):
        process.wait_ready(lambda: False, timeout=0.5)


def test_sigterm_to_the_parent_stops_its_managed_children(tmp_path):
    # A harness command killed by SIGTERM (CI cancelling a job) must not leave servers behind.
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from harness.processes import ManagedProcess\n"
        f"p = ManagedProcess('child', {SLEEPER!r}).start()\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=os.getcwd(), text=True)
    try:
        child = int(parent.stdout.readline())
        assert psutil.pid_exists(child)
        parent.send_signal(signal.SIGTERM)
        parent.wait(10)
        assert wait_until(lambda: not psutil.pid_exists(child), 5)
    finally:
        parent.kill()


def test_free_port_is_free():
    port = free_port()
    assert not port_in_use(port)
