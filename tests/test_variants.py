"""The variant registry: what each shipped variant is made of, how a name changes a choice, and
how the apps read the choices from their settings (a clear start-up error for a bad one)."""

from __future__ import annotations

import inspect

import pytest
from fastapi.routing import APIRoute

from contract import (
    CHOICES,
    VARIANTS,
    BatchMode,
    BusinessCacheMode,
    ClientScope,
    DatabaseDown,
    Handler,
    HttpLibrary,
    Indexes,
    MongoDriver,
    OperationsRoutes,
    PoolSizing,
    RequestLog,
    SettingsError,
    VariantError,
    parse_variant,
)
from harness.runs import DEFAULT_BASELINE, DEFAULT_CANDIDATES, variant_target

CHECKLIST = VARIANTS["checklist"].architecture
OPTIMIZED = VARIANTS["optimized"].architecture
ORIGINAL = VARIANTS["original"].architecture


def test_the_checklist_variant_is_the_checklist_s_design_including_what_hurts():
    assert CHECKLIST.handler is Handler.ASYNC and CHECKLIST.mongo_driver is MongoDriver.MOTOR
    assert CHECKLIST.pool is PoolSizing.SIZED and CHECKLIST.business_cache is BusinessCacheMode.TTL
    assert CHECKLIST.indexes is Indexes.CREATED and CHECKLIST.operations is OperationsRoutes.ON
    assert CHECKLIST.request_log is RequestLog.ON
    # Its handler sends every reply through `async with httpx.AsyncClient() as client`.
    assert (CHECKLIST.http_client, CHECKLIST.http_library) == (ClientScope.PER_CALL, HttpLibrary.HTTPX)
    # Its handler bugs (first message only, 404/500 answers) are not part of the migration.
    assert CHECKLIST.batch is BatchMode.SEQUENTIAL and CHECKLIST.database_down is DatabaseDown.WAIT


def test_the_optimized_variant_is_the_checklist_plus_listed_choices_only():
    changed = {change.choice for change in CHECKLIST.changes_to(OPTIMIZED)}
    assert changed == {"mongo_driver", "http_client", "http_library", "batch", "database_down"}
    assert OPTIMIZED.http_client is ClientScope.SHARED


def test_the_original_makes_none_of_the_migration_s_changes():
    assert ORIGINAL.handler is Handler.SYNC and ORIGINAL.business_cache is BusinessCacheMode.NONE
    assert ORIGINAL.indexes is Indexes.ABSENT and ORIGINAL.pool is PoolSizing.DRIVER_DEFAULT
    assert ORIGINAL.http_client is ClientScope.PER_CALL and ORIGINAL.operations is OperationsRoutes.OFF


def test_the_default_comparison_comes_from_the_registry():
    assert DEFAULT_BASELINE == "original" and DEFAULT_CANDIDATES == ("checklist", "optimized")


def test_a_name_with_tokens_changes_exactly_those_choices():
    assert ORIGINAL.changes_to(parse_variant("original+shared-client+cache")) == [
        change
        for change in ORIGINAL.changes_to(
            ORIGINAL.with_values({"http_client": ClientScope.SHARED, "business_cache": BusinessCacheMode.TTL})
        )
    ]
    assert parse_variant("optimized+httpx").http_library is HttpLibrary.HTTPX
    assert parse_variant("checklist+shared-client").http_client is ClientScope.SHARED


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("legacy", "unknown variant"),
        ("original+warp-drive", "unknown change"),
        ("original+aiohttp", "needs the async handler"),
        ("original+shared-client+per-call-client", "twice"),
    ],
)
def test_a_name_no_service_can_run_is_refused(name, problem):
    with pytest.raises(VariantError, match=problem):
        parse_variant(name)


def test_every_choice_has_a_setting_and_a_token_per_value():
    tokens = [token for choice in CHOICES for token in choice.tokens.values()]
    assert len(tokens) == len(set(tokens))
    assert all(set(choice.tokens) == set(choice.kind) == set(choice.values) for choice in CHOICES)
    assert set(ORIGINAL.to_env()) == {choice.env for choice in CHOICES}


def test_a_target_runs_the_app_of_its_handler_with_every_choice_in_its_environment():
    target = variant_target("checklist")
    assert target.app == "optimized.app:app" and target.indexes
    assert target.env["HTTP_CLIENT"] == "per-call" and target.env["MONGO_DRIVER"] == "motor"
    assert variant_target("original").app == "original.app:app" and not variant_target("original").indexes


# -- the apps read the choices ----------------------------------------------------------------
@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("ENCRYPTION_SECRET", "x")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "y")
    import optimized.app  # noqa: F401  (each module builds its default app on import)
    import original.app  # noqa: F401

    return monkeypatch


def _routes(app):
    return {r.path: r.endpoint for r in app.routes if isinstance(r, APIRoute)}


def _middleware(app):
    return [m.kwargs.get("dispatch") for m in app.user_middleware]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_s_app_has_its_handler_routes_and_middleware(secrets_env, name):
    architecture = VARIANTS[name].architecture
    for variable, value in architecture.to_env().items():
        secrets_env.setenv(variable, value)
    from optimized.app import create_app as async_app
    from original.app import create_app as sync_app

    app = (sync_app if architecture.handler is Handler.SYNC else async_app)()
    routes = _routes(app)
    operational = {"/health", "/ready", "/metrics", "/metrics/prometheus", "/admin/cache/warmup", "/admin/cache/clear"}
    assert set(routes) == {"/whatsapp_response"} | (
        operational if architecture.operations is OperationsRoutes.ON else set()
    )
    coroutine = [inspect.iscoroutinefunction(inspect.unwrap(endpoint)) for endpoint in routes.values()]
    assert set(coroutine) == {architecture.handler is Handler.ASYNC}  # plain def runs on the thread pool
    assert len(_middleware(app)) == (1 if architecture.request_log is RequestLog.ON else 0)


def test_an_app_refuses_the_other_handler_and_an_unknown_value(secrets_env):
    from optimized.app import create_app as async_app
    from original.app import create_app as sync_app

    secrets_env.setenv("SERVICE_VARIANT", "checklist")
    with pytest.raises(SettingsError, match="run optimized.app:app"):
        sync_app()
    secrets_env.setenv("SERVICE_VARIANT", "original")
    with pytest.raises(SettingsError, match="run original.app:app"):
        async_app()
    secrets_env.setenv("HTTP_CLIENT", "sometimes")
    with pytest.raises(SettingsError, match="HTTP_CLIENT"):
        sync_app()
    secrets_env.setenv("HTTP_CLIENT", "")
    secrets_env.setenv("SERVICE_VARIANT", "legacy")
    with pytest.raises(SettingsError, match="unknown variant 'legacy'"):
        sync_app()
