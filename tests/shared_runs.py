"""Runs made once and read by several tests, also across pytest-xdist's worker processes.

`make test` runs the load tests that measure nothing on several workers at once; a run that
several tests read (a fault kind's, the short compare run, the distributed run) must still be
made once. The first test process that asks for a run makes it under a file lock in the base
directory every worker of the session shares (pytest-xdist's documented recipe); the others wait
for it and read it from disk. A run that failed is made again by the next test that asks, so
every test that reads it sees the failure itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

_DONE = ".made"


def made_once(name: str, factory: pytest.TempPathFactory, make: Callable[[Path], None]) -> Path:
    """``name``'s directory, after ``make(directory)`` filled it in this test session."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the base directory the session's workers share
    directory = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (directory / _DONE).exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            make(directory)
            (directory / _DONE).touch()
    return directory
