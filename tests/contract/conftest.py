"""The services under the one contract suite, each a real process on a real socket.

Every test here that takes ``service`` runs once per design: the original, the optimized one on
PyMongo's async client, and the optimized one on motor. No test is written twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from harness.bench.database import DatabaseServer
from harness.bench.services import BenchSecrets
from harness.load.payloads import PayloadFactory
from harness.upstream import UpstreamProcess
from tests.deployments import SERVICES, Deployment, start_deployment


@pytest.fixture(scope="session", params=list(SERVICES))
def service(
    request: pytest.FixtureRequest,
    database: DatabaseServer,
    mongo: MongoClient[Any],
    bench: BenchSecrets,
    upstream: UpstreamProcess,
    logs_dir: Path,
) -> Iterator[Deployment]:
    process, db, plan = start_deployment(
        request.param, database=database, mongo=mongo, bench=bench, upstream=upstream, logs_dir=logs_dir
    )
    try:
        yield Deployment(request.param, process, db, plan, bench, upstream, PayloadFactory())
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _each_test_starts_clean(healthy_upstream: UpstreamProcess) -> None:
    """Each contract test starts with the upstream behaving and its ledger empty."""
