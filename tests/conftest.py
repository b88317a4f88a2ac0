"""Session fixtures: the real parts every integration test stands on.

One embedded MongoDB server (or ``MONGODB_URI``), one fake upstream, fresh secrets. Every
process is stopped by PID when the session ends, also when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.database import DatabaseServer, database_server
from harness.services import BenchSecrets


@pytest.fixture(scope="session")
def bench() -> BenchSecrets:
    return BenchSecrets()


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database(logs_dir: Path) -> Iterator[DatabaseServer]:
    with database_server(log_path=logs_dir / "mongodb.log") as server:
        yield server
