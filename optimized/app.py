"""``optimized.app:app``: the async handler. Run with ``uvicorn optimized.app:app`` or
``gunicorn optimized.app:app -k uvicorn_worker.UvicornWorker -w N``; ``SERVICE_VARIANT`` (default
``optimized``; ``checklist`` for the checklist's design) and the choice variables say which
variant of it runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from contract import (
    BusinessCache,
    BusinessCacheMode,
    DatabaseDown,
    Handler,
    Indexes,
    OperationsRoutes,
    RequestLog,
    Settings,
    SettingsError,
    TokenCipher,
    WebhookEnvelope,
    load_settings,
)
from contract.http import (
    WEBHOOK_PATH,
    ServiceUnavailable,
    SubscriptionRequest,
    handshake_response,
    install_error_handlers,
    install_request_log,
    outcome_response,
    subscription_request,
    webhook_envelope,
)

from .database import DatabaseHealth, PoolObserver, close_client, open_client
from .delivery import ReplySender
from .metrics import Metrics, NoMetrics, ServiceMetrics
from .operations import install_operations, limiter_for, webhook_limit
from .readiness import Readiness
from .store import MessageStore
from .webhook import WebhookHandler

__all__ = ["DEFAULT_VARIANT", "app", "create_app"]

DEFAULT_VARIANT = "optimized"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    architecture = settings.architecture(DEFAULT_VARIANT)
    if architecture.handler is not Handler.ASYNC:
        raise SettingsError(
            "optimized.app is the async handler; these settings ask for SERVICE_HANDLER=sync: run original.app:app"
        )
    operations = architecture.operations is OperationsRoutes.ON
    fail_fast = architecture.database_down is DatabaseDown.FAIL_FAST

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics: Metrics = ServiceMetrics() if operations else NoMetrics()
        observer = PoolObserver()
        client = open_client(settings, architecture, observer)
        # The database watch: behind /ready, and what a fail-fast webhook reads.
        health = DatabaseHealth(settings.mongodb_uri) if operations or fail_fast else None
        cache = None
        if architecture.business_cache is BusinessCacheMode.TTL:
            cache = BusinessCache(
                settings.business_cache_size,
                settings.business_cache_ttl,
                on_hit=lambda: metrics.count("business_cache_hits"),
                on_miss=lambda: metrics.count("business_cache_misses"),
            )
            metrics.bind_gauge("business_cache_size", lambda: len(cache))
        store = MessageStore(
            client[settings.mongodb_db_name],
            TokenCipher(settings.encryption_secret.get_secret_value()),
            settings.processing_lease_seconds,
            cache=cache,
            health=health if fail_fast else None,
        )
        sender = ReplySender(settings, architecture)
        metrics.bind_gauge("mongodb_pool_connections_open", lambda: observer.open)
        metrics.bind_gauge("mongodb_pool_connections_in_use", lambda: observer.in_use)
        readiness = Readiness(
            store,
            health,
            indexes=architecture.indexes is Indexes.CREATED,
            warm_up=cache is not None and settings.warmup_cache,
        )
        app.state.metrics, app.state.store, app.state.health = metrics, store, health
        app.state.readiness = readiness
        app.state.handler = WebhookHandler(store, sender, metrics, architecture.batch)

        background = []
        if health is not None:
            await health.check()
            background.append(asyncio.create_task(health.watch()))
        if readiness.needed:
            background.append(asyncio.create_task(readiness.prepare()))
        else:
            readiness.prepared = True
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await sender.close()
            await store.backlog.close()  # before the client it writes through is closed
            if health is not None:
                await health.close()
            await close_client(client)

    app = FastAPI(title="WhatsApp webhook (async handler)", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    limiter = limiter_for(app) if operations else None
    limited = webhook_limit(limiter, settings)
    install_error_handlers(app)
    if architecture.request_log is RequestLog.ON:
        install_request_log(app)

    # -- the webhook contract ----------------------------------------------------------------
    @app.get(WEBHOOK_PATH)
    @limited
    async def verify_subscription(
        request: Request, query: SubscriptionRequest = Depends(subscription_request)
    ) -> Response:
        return handshake_response(query, settings)

    @app.post(WEBHOOK_PATH)
    @limited
    async def receive_webhook(request: Request, envelope: WebhookEnvelope = Depends(webhook_envelope)) -> JSONResponse:
        if fail_fast and not request.app.state.health.available:
            raise ServiceUnavailable()  # fail fast: nothing to gain from queueing behind timeouts
        return outcome_response(await request.app.state.handler.handle(envelope))

    if limiter is not None:
        install_operations(app, settings, limiter, architecture.pool)
    return app


app = create_app()
