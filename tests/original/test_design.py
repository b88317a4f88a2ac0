"""What makes the original the original: checked, so the comparison stays a fair one."""

import inspect

import pytest
from fastapi.routing import APIRoute

from tests.deployments import Deployment, start_deployment
from harness.payloads import PayloadFactory


@pytest.fixture(autouse=True)
def settings_env(monkeypatch):
    monkeypatch.setenv("ENCRYPTION_SECRET", "x")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "y")


def routes(module):
    return {(tuple(r.methods), r.path): r.endpoint for r in module.create_app().routes if isinstance(r, APIRoute)}


def test_the_original_has_only_plain_def_webhook_routes():
    from original import app

    endpoints = routes(app)
    assert {path for _, path in endpoints} == {"/whatsapp_response"}
    assert not any(inspect.iscoroutinefunction(e) for e in endpoints.values())  # run on the thread pool


def test_the_optimized_is_async_throughout_with_its_operations_routes():
    from optimized import app

    endpoints = routes(app)
    assert {"/whatsapp_response", "/health", "/ready", "/metrics", "/metrics/prometheus",
            "/admin/cache/warmup", "/admin/cache/clear"} == {path for _, path in endpoints}  # fmt: skip
    assert all(inspect.iscoroutinefunction(inspect.unwrap(e)) for e in endpoints.values())


def test_the_original_creates_no_indexes(database, mongo, bench, upstream, logs_dir, healthy_upstream):
    process, db, plan = start_deployment("original", database=database, mongo=mongo, bench=bench,
                                         upstream=upstream, logs_dir=logs_dir, db_suffix="_design")  # fmt: skip
    try:
        deployment = Deployment("original", process, db, plan, bench, upstream, PayloadFactory(5))
        assert deployment.post(deployment.factory.text_webhook(plan.active_phone_ids()[0])).json()["replied"] == 1
        assert [i["name"] for i in db.businesses.list_indexes()] == ["_id_"]
        assert [i["name"] for i in db.processed_messages.list_indexes()] == ["_id_"]
    finally:
        process.stop()
