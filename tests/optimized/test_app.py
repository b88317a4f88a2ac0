"""The optimized service's endpoints beyond the webhook, on a real process: health, readiness,
metrics (JSON and Prometheus), admin routes with their auth failures, and rate limits."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contract.http import WEBHOOK_PATH
from harness.bench.database import EmbeddedDatabase
from harness.bench.services import ServiceProcess
from harness.load.payloads import PayloadFactory, encode, signed_headers
from harness.processes import free_port, wait_until
from tests.deployments import Deployment, seed_contract_db, start_deployment


@pytest.fixture(scope="module")
def optimized(database, mongo, bench, upstream, logs_dir):
    process, db, plan = start_deployment(
        "optimized",
        database=database,
        mongo=mongo,
        bench=bench,
        upstream=upstream,
        logs_dir=logs_dir,
        db_suffix="_app",
    )
    try:
        yield Deployment("optimized", process, db, plan, bench, upstream, PayloadFactory(7))
    finally:
        process.stop()


def get(service, path, **kwargs):
    return httpx.get(f"{service.url}{path}", timeout=10, **kwargs)


def post(service, path, **kwargs):
    return httpx.post(f"{service.url}{path}", timeout=10, **kwargs)


def test_health_and_ready(optimized):
    assert get(optimized, "/health").json() == {"status": "ok"}
    ready = get(optimized, "/ready")
    assert ready.status_code == 200
    assert ready.json()["warmed_up"] is True and ready.json()["database"] == "ok"
    assert ready.json()["warmed_entries"] == len(optimized.plan.active_phone_ids()) + 2  # + shared samples


def test_metrics_json_counts_what_happened(optimized, healthy_upstream):
    before = get(optimized, "/metrics").json()
    pid = optimized.plan.active_phone_ids()[0]
    payload = optimized.factory.text_webhook(pid)
    assert optimized.post(payload).json()["replied"] == 1
    assert optimized.post(payload).json()["duplicates"] == 1
    assert optimized.post(optimized.factory.text_webhook("100000000099999")).json()["ignored"] == 1
    assert optimized.post(optimized.factory.status_webhook(pid)).status_code == 200
    after = get(optimized, "/metrics").json()
    delta = {k: after["counters"][k] - before["counters"][k] for k in after["counters"]}
    assert delta == {
        "messages": 3,
        "replies": 1,
        "duplicates": 1,
        "ignored": 1,
        "statuses": 1,
        "failures": 0,
        "in_flight": 0,
    }
    cache = after["cache"]
    assert set(cache) >= {"size", "max_size", "ttl_seconds", "hits", "misses", "hit_rate"}
    assert (cache["max_size"], cache["ttl_seconds"]) == (1000, 300)
    assert cache["hits"] - before["cache"]["hits"] == 2  # warmed: both lookups of the known id hit
    assert cache["misses"] - before["cache"]["misses"] == 1  # the unknown id
    assert 0 <= cache["hit_rate"] <= 1
    assert after["connection_pool"]["max_size"] == 100 and after["connection_pool"]["open"] >= 1


def test_prometheus_text_has_the_same_figures(optimized):
    figures = get(optimized, "/metrics").json()
    text = get(optimized, "/metrics/prometheus")
    assert text.headers["content-type"].startswith("text/plain")
    samples = {s.name: s.value for family in text_string_to_metric_families(text.text) for s in family.samples}
    assert samples["whatsapp_messages_total"] >= figures["counters"]["messages"]
    assert samples["whatsapp_business_cache_hits_total"] >= figures["cache"]["hits"]
    assert "whatsapp_business_cache_size" in samples


def test_admin_routes_need_the_bearer_token(optimized):
    for path in ("/admin/cache/clear", "/admin/cache/warmup"):
        assert post(optimized, path).status_code == 401
        assert post(optimized, path, headers={"Authorization": "Basic abc"}).status_code == 401
        denied = post(optimized, path, headers={"Authorization": "Bearer wrong"})
        assert denied.status_code == 403 and optimized.bench.admin_token not in denied.text
        assert get(optimized, path).status_code == 405


def test_admin_clear_then_warmup(optimized):
    auth = {"Authorization": f"Bearer {optimized.bench.admin_token}"}
    assert post(optimized, "/admin/cache/clear", headers=auth).json() == {"status": "ok"}
    assert get(optimized, "/metrics").json()["cache"]["size"] == 0
    warmed = post(optimized, "/admin/cache/warmup", headers=auth).json()
    assert warmed["cached_phone_ids"] == len(optimized.plan.active_phone_ids()) + 2
    assert get(optimized, "/metrics").json()["cache"]["size"] == warmed["cached_phone_ids"]


def _isolated(bench, upstream, logs_dir, uri, db_name, **env):
    from harness.bench.services import service_environment

    environment = service_environment(
        bench,
        mongodb_uri=uri,
        db_name=db_name,
        graph_api_base_url=upstream.graph_base_url,
        llm_base_url=None,
        overrides=env,
    )
    return ServiceProcess(
        "optimized", "optimized.app:app", env=environment, log_path=logs_dir / f"optimized-{db_name}.log"
    )


def test_admin_routes_are_disabled_without_a_token_and_rate_limited(bench, upstream, logs_dir, database, mongo):
    seed_contract_db(mongo["t_admin_off"], bench, indexes=True)
    with _isolated(
        bench,
        upstream,
        logs_dir,
        database.uri,
        "t_admin_off",
        ADMIN_TOKEN="",
        RATE_LIMIT_ADMIN="3/minute",
        RATE_LIMIT_METRICS="5/minute",
    ) as service:
        answers = [post(service, "/admin/cache/clear", headers={"Authorization": "Bearer x"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [404, 404, 404, 429]
        assert [get(service, "/metrics").status_code for _ in range(6)] == [200] * 5 + [429]
        assert get(service, "/health").status_code == 200  # probes are never limited


def test_ready_is_503_until_the_database_answers_and_whenever_it_is_away(bench, upstream, logs_dir):
    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    service = _isolated(bench, upstream, logs_dir, uri, "t_ready", MONGODB_TIMEOUT_MS="1000")
    database = EmbeddedDatabase(port=port, log_path=logs_dir / "ready-mongodb.log")
    try:
        # No database yet: the process is alive (liveness) but not ready, and the webhook fails fast.
        service.start(wait=False)
        assert wait_until(lambda: _status(service, "/health") == 200, 30)
        assert _status(service, "/ready") == 503
        body = encode(PayloadFactory(3).text_webhook("100000000000000"))
        started = time.monotonic()
        answer = httpx.post(
            f"{service.url}{WEBHOOK_PATH}", content=body, headers=signed_headers(body, bench.app_secret), timeout=10
        )
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert time.monotonic() - started < 0.5

        database.start()
        from pymongo import MongoClient

        with MongoClient(database.uri) as client:
            seed_contract_db(client["t_ready"], bench, indexes=False)
        assert wait_until(lambda: _status(service, "/ready") == 200, 20)

        database.pause()  # the database stops answering
        assert wait_until(lambda: _status(service, "/ready") == 503, 10)
        database.resume()
        assert wait_until(lambda: _status(service, "/ready") == 200, 20)
    finally:
        service.stop()
        database.stop()


def _status(service, path):
    try:
        return httpx.get(f"{service.url}{path}", timeout=3).status_code
    except httpx.HTTPError:
        return None
