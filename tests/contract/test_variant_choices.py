"""Each shipped variant, running as a real process, shows from outside the choices its registry
entry names: the outbound client (connections the fake upstream sees, and the library that calls
it), the migration's indexes, the operational routes, the request-timing middleware, the pool,
and how a batch is answered. The registry says what a variant is; these tests say it is so."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import httpx
import psutil

from contract import (
    BatchMode,
    ClientScope,
    Indexes,
    OperationsRoutes,
    PoolSizing,
    RequestLog,
    parse_variant,
)
from harness.processes import wait_until

MESSAGES = 20  # more than a shared pool holds after a concurrent batch (16 in flight)


def test_a_new_client_per_call_opens_a_connection_per_call(service, healthy_upstream):
    choices = parse_variant(service.name)
    phones = service.plan.active_phone_ids()
    for n in range(MESSAGES):
        assert service.post(service.factory.text_webhook(phones[n % len(phones)])).json()["replied"] == 1
    audit = healthy_upstream.audit()
    calls = audit["graph_calls"] + audit["llm_calls"]
    assert calls == 2 * MESSAGES  # an LLM completion and a Graph API send per reply
    # The upstream counts the distinct client ports it saw: a new client per call is a new
    # connection per call; a shared pool reuses its connections (at most its size).
    if choices.http_client is ClientScope.PER_CALL:
        assert audit["connections"] == calls
    else:
        assert audit["connections"] < calls / 2
    assert set(audit["user_agents"]) == {str(choices.http_library)}


def test_the_migration_s_indexes_exist_only_where_the_variant_creates_them(service):
    created = parse_variant(service.name).indexes is Indexes.CREATED

    def names() -> set[str]:
        return {index["name"] for index in service.db.businesses.list_indexes()}

    if created:
        assert wait_until(lambda: {"webhook_lookup_idx", "subdomain_lookup_idx"} <= names(), 15)
    else:
        time.sleep(1.0)  # the start-up work would be done by now
        assert names() == {"_id_"}


def test_operational_routes_and_the_request_log_are_there_only_when_chosen(service):
    choices = parse_variant(service.name)
    health = httpx.get(f"{service.url}/health", timeout=10)
    assert health.status_code == (200 if choices.operations is OperationsRoutes.ON else 404)
    handshake = httpx.get(f"{service.url}/whatsapp_response", params={"hub.mode": "subscribe"}, timeout=10)
    assert ("x-process-time" in handshake.headers) == (choices.request_log is RequestLog.ON)


def test_a_sized_pool_keeps_its_minimum_open(service, database):
    port = urlparse(database.uri.replace("mongodb://", "http://")).port
    sized = parse_variant(service.name).pool is PoolSizing.SIZED

    def open_connections() -> int:
        root = psutil.Process(service.process.pid)
        return sum(
            1
            for process in (root, *root.children(recursive=True))
            for c in process.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        )

    if sized:
        assert wait_until(lambda: open_connections() >= 10, 15)  # MONGODB_MIN_POOL_SIZE
    else:
        assert open_connections() < 10  # the driver's default minimum is 0


def test_a_batch_is_answered_one_message_at_a_time_or_concurrently(service, healthy_upstream):
    healthy_upstream.configure(graph={"latency_ms": 150})
    pid = service.plan.active_phone_ids()[0]
    messages = [service.factory.message("text") for _ in range(8)]
    payload = service.factory.envelope(service.factory.change(pid, messages=messages))
    assert service.post(payload).json()["replied"] == 8
    peak = healthy_upstream.audit()["peak_in_flight"]["graph"]
    if parse_variant(service.name).batch is BatchMode.CONCURRENT:
        assert peak > 1
    else:
        assert peak == 1
