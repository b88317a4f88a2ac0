"""Every shipped variant under gunicorn with two uvicorn workers: idempotency lives in MongoDB, so
it holds across worker processes; a variant's /metrics adds up over its workers."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contract import OperationsRoutes, parse_variant
from harness.load.payloads import PayloadFactory
from tests.deployments import SERVICES, Deployment, start_deployment


@pytest.fixture(scope="module", params=list(SERVICES))
def two_workers(request, database, mongo, bench, upstream, logs_dir):
    process, db, plan = start_deployment(
        request.param,
        database=database,
        mongo=mongo,
        bench=bench,
        upstream=upstream,
        logs_dir=logs_dir,
        workers=2,
        db_suffix="_gunicorn",
    )
    try:
        yield Deployment(request.param, process, db, plan, bench, upstream, PayloadFactory(11))
    finally:
        process.stop()


def test_runs_two_worker_processes(two_workers):
    import psutil

    assert len(psutil.Process(two_workers.process.pid).children()) == 2


def test_duplicates_racing_across_workers_get_one_reply(two_workers, healthy_upstream):
    healthy_upstream.configure(graph={"latency_ms": 100})
    payloads = [two_workers.factory.text_webhook(pid) for pid in two_workers.plan.active_phone_ids()[:5]]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda p: two_workers.post(p), [p for p in payloads for _ in range(6)]))
    for payload in payloads:  # Meta's retries settle whatever was in flight
        assert two_workers.post(payload).status_code == 200
    wamids = [p["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for p in payloads]
    assert [two_workers.deliveries(w) for w in wamids] == [1] * 5


def test_metrics_sum_over_workers(two_workers, healthy_upstream):
    if parse_variant(two_workers.name).operations is OperationsRoutes.OFF:  # the webhook routes only
        assert httpx.get(f"{two_workers.url}/metrics").status_code == 404
        return
    before = httpx.get(f"{two_workers.url}/metrics").json()["counters"]["messages"]
    for pid in two_workers.plan.active_phone_ids()[:8]:
        assert two_workers.post(two_workers.factory.text_webhook(pid)).status_code == 200
    # Whichever worker answers /metrics, it reports both workers' messages.
    seen = {httpx.get(f"{two_workers.url}/metrics").json()["counters"]["messages"] - before for _ in range(6)}
    assert seen == {8}
