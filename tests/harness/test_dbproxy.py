"""The TCP proxy the db-slow and db-cut faults stand between the services and the database: a
real process on loopback in front of the session's real database server, driven through its
control port and read through real PyMongo clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import AutoReconnect, PyMongoError

from harness.bench.database import DatabaseServer
from harness.bench.dbproxy import DbProxyProcess


@pytest.fixture(scope="module")
def proxy_process(database: DatabaseServer, logs_dir: Path) -> Iterator[DbProxyProcess]:
    with DbProxyProcess(database.uri, log_path=logs_dir / "db-proxy.log") as process:
        yield process


@pytest.fixture
def proxy(proxy_process: DbProxyProcess) -> DbProxyProcess:
    proxy_process.configure(latency_ms=0, cut=False)  # each test starts from a proxy that forwards
    return proxy_process


def _timed(client: MongoClient, command: str = "ping") -> float:
    started = time.monotonic()
    client.admin.command(command)
    return time.monotonic() - started


def test_the_proxy_forwards_and_adds_latency_to_every_operation(proxy: DbProxyProcess):
    assert proxy.uri.endswith("directConnection=true") and f":{proxy.port}/" in proxy.uri
    with MongoClient(proxy.uri, timeoutMS=5000) as client:
        client.t_proxy.docs.insert_one({"_id": "a", "n": 1})
        assert client.t_proxy.docs.find_one({"_id": "a"})["n"] == 1
        assert _timed(client) < 0.15
        assert proxy.configure(latency_ms=200)["latency_ms"] == 200
        assert all(0.19 <= _timed(client) < 0.6 for _ in range(3))
        proxy.configure(latency_ms=0)
        assert _timed(client) < 0.15
        client.t_proxy.docs.drop()
    assert proxy.state()["accepted"] >= 1


def test_a_latency_beyond_the_timeout_fails_the_operation_and_it_lands_late(proxy: DbProxyProcess):
    with MongoClient(proxy.uri, timeoutMS=400) as client:
        client.admin.command("ping")
        proxy.configure(latency_ms=800)
        with pytest.raises(PyMongoError):
            client.t_proxy.late.insert_one({"_id": "late"})
        proxy.configure(latency_ms=0)
        time.sleep(1.0)  # the insert was held, not dropped: it reaches the database after the client gave up
        assert client.t_proxy.late.find_one({"_id": "late"}) is not None
        client.t_proxy.late.drop()


def test_a_cut_goes_silent_without_closing_and_the_heal_resets_what_it_held(proxy: DbProxyProcess):
    with MongoClient(proxy.uri, timeoutMS=600) as client:
        client.admin.command("ping")
        state = proxy.configure(cut=True)
        assert state["cut"] and state["silent"] == state["connections"] >= 1
        started = time.monotonic()
        with pytest.raises(PyMongoError):  # no FIN, no reset: only the client's own timeout ends the wait
            client.admin.command("ping")
        assert time.monotonic() - started >= 0.5
        # A connection opened during the cut is accepted, and as silent.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as raw:
            raw.sendall(b"\x00" * 16)
            raw.settimeout(0.3)
            with pytest.raises(TimeoutError):
                raw.recv(1)
            healed = proxy.configure(cut=False)
            assert not healed["cut"] and healed["resets"] >= 1 and healed["silent"] == 0
            raw.settimeout(2)
            with pytest.raises(ConnectionResetError):  # reset, not closed: the peer lost its state
                raw.recv(1)
        for _ in range(3):  # the driver finds its pooled connections reset and opens new ones
            try:
                client.admin.command("ping")
                break
            except AutoReconnect:
                continue
        assert _timed(client) < 0.15


def test_the_control_port_refuses_what_it_does_not_know(proxy: DbProxyProcess):
    with pytest.raises(ValueError, match="unknown setting"):
        proxy.configure(lag=1)
    with pytest.raises(ValueError, match="between 0 and 600000"):
        proxy.configure(latency_ms=-1)
    assert proxy.state()["latency_ms"] == 0 and proxy.state()["cut"] is False
