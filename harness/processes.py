"""Child processes the harness starts: each in its own session, always stopped by its own PID.

Every :class:`ManagedProcess` is registered until stopped; an ``atexit`` hook and a SIGTERM
handler stop whatever is left, so neither a failing test nor Ctrl-C leaves a server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "ManagedProcess",
    "ProcessFailed",
    "base_environment",
    "free_port",
    "port_in_use",
    "wait_until",
]

# What a child process needs from our own environment; everything else is set explicitly, so a
# stray variable in the caller's shell cannot change what is measured.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "SYSTEMROOT")

_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


class ProcessFailed(RuntimeError):
    """A child exited early or never became ready; the message carries its last log lines."""


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        log_path: Path | None = None,
        cpus: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.cpus = tuple(cpus) if cpus else None  # pinned here at start; its children inherit
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ManagedProcess:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        out = self._log_file if self._log_file is not None else subprocess.DEVNULL
        self._popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches us, we stop it
        )
        if self.cpus and hasattr(os, "sched_setaffinity"):
            # Before the interpreter it runs has imported anything, let alone forked a worker.
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self._popen.pid, self.cpus)
        with _live_lock:
            _live.add(self)
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process (and its group), SIGKILL after ``timeout``; idempotent."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                popen.wait(5)
        if popen is not None:
            # Children it forked (gunicorn workers) share its group; make sure none outlive it.
            self._signal(signal.SIGKILL, group_only=True)
        with _live_lock:
            _live.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return popen.returncode if popen is not None else None

    def _signal(self, signum: int, *, group_only: bool = False) -> None:
        """``signum`` to the process's group, which holds the process itself: once, because a
        second SIGTERM that lands after the process has put its handler away ends a clean
        shutdown by the default action. To the process alone when its group is gone."""
        assert self._popen is not None
        try:
            os.killpg(self._popen.pid, signum)
            return
        except (ProcessLookupError, PermissionError):
            pass
        if not group_only:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signum)

    def terminate(self) -> None:
        """SIGTERM the process alone (not its group), to let it end in its own way."""
        if self._popen is not None and self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signal.SIGTERM)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    # -- state -------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._popen.pid

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        if self._log_file is not None:
            self._log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float = 30.0) -> ManagedProcess:
        """Poll ``check`` until it is true; fail fast, with the log tail, if the process dies."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise ProcessFailed(
                    f"{self.name} exited with code {self.returncode} before it was ready:\n{self.log_tail()}"
                )
            if check():
                return self
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def __enter__(self) -> ManagedProcess:
        return self if self._popen is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self._popen.pid}" if self._popen else "not started"
        return f"<ManagedProcess {self.name} {state}>"


def stop_all() -> None:
    with _live_lock:
        running = list(_live)
    for process in running:
        process.stop(timeout=5)


def _on_sigterm(signum: int, frame: TracebackType | None) -> None:
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
if threading.current_thread() is threading.main_thread():
    with contextlib.suppress(ValueError):  # not the main thread of the main interpreter
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def base_environment() -> dict[str, str]:
    """The few variables of ours a child inherits."""
    return {name: os.environ[name] for name in _INHERITED if name in os.environ}


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
