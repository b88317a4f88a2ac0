"""``optimized.app:app`` — run with ``uvicorn optimized.app:app`` or
``gunicorn optimized.app:app -k uvicorn_worker.UvicornWorker -w N``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from contract import Settings, TokenCipher, WebhookEnvelope, load_settings
from contract.http import (
    WEBHOOK_PATH,
    ServiceUnavailable,
    SubscriptionRequest,
    handshake_response,
    install_error_handlers,
    outcome_response,
    subscription_request,
    webhook_envelope,
)

from .admin import require_admin
from .cache import BusinessCache
from .database import DatabaseHealth, PoolObserver, close_client, open_client
from .delivery import ReplySender
from .metrics import ServiceMetrics
from .readiness import Readiness
from .store import MessageStore
from .webhook import WebhookHandler

__all__ = ["app", "create_app"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    limiter = Limiter(key_func=get_remote_address)
    webhook_limit = limiter.limit(settings.rate_limit_webhook) if settings.rate_limit_webhook else _unlimited

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = ServiceMetrics()
        observer = PoolObserver()
        client = open_client(settings, observer)
        health = DatabaseHealth(settings.mongodb_uri)
        cache = BusinessCache(
            settings.business_cache_size, settings.business_cache_ttl, settings.business_negative_ttl,
            on_hit=metrics.counters["business_cache_hits"].inc,
            on_miss=metrics.counters["business_cache_misses"].inc,
            on_load=metrics.counters["business_cache_loads"].inc,
        )  # fmt: skip
        store = MessageStore(
            client[settings.mongodb_db_name],
            TokenCipher(settings.encryption_secret.get_secret_value()),
            cache, health, settings.processing_lease_seconds,
        )  # fmt: skip
        sender = ReplySender(settings)
        metrics.bind_gauge("business_cache_size", lambda: len(cache))
        metrics.bind_gauge("mongodb_pool_connections_open", lambda: observer.open)
        metrics.bind_gauge("mongodb_pool_connections_in_use", lambda: observer.in_use)
        readiness = Readiness(store, health, settings.warmup_cache)
        app.state.metrics, app.state.store, app.state.health = metrics, store, health
        app.state.readiness, app.state.handler = readiness, WebhookHandler(store, sender, metrics)

        await health.check()
        background = [asyncio.create_task(health.watch()), asyncio.create_task(readiness.prepare())]
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
            await health.close()
            await close_client(client)

    app = FastAPI(title="WhatsApp webhook (optimized)", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    install_error_handlers(app)

    # -- the webhook contract ----------------------------------------------------------------
    @app.get(WEBHOOK_PATH)
    @webhook_limit
    async def verify_subscription(
        request: Request, query: SubscriptionRequest = Depends(subscription_request)
    ) -> Response:
        return handshake_response(query, settings)

    @app.post(WEBHOOK_PATH)
    @webhook_limit
    async def receive_webhook(request: Request, envelope: WebhookEnvelope = Depends(webhook_envelope)) -> JSONResponse:
        if not request.app.state.health.available:
            raise ServiceUnavailable()  # fail fast: nothing to gain from queueing behind timeouts
        return outcome_response(await request.app.state.handler.handle(envelope))

    # -- operations --------------------------------------------------------------------------
    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        readiness: Readiness = request.app.state.readiness
        return JSONResponse(readiness.describe(), status_code=200 if readiness.ready else 503)

    @app.get("/metrics")
    @limiter.limit(settings.rate_limit_metrics)
    async def metrics_json(request: Request) -> dict[str, object]:
        pool = {"max_size": settings.mongodb_max_pool_size, "min_size": settings.mongodb_min_pool_size}
        return request.app.state.metrics.as_json(
            max_size=settings.business_cache_size, ttl_seconds=settings.business_cache_ttl, pool=pool
        )

    @app.get("/metrics/prometheus")
    @limiter.limit(settings.rate_limit_metrics)
    async def metrics_prometheus(request: Request) -> Response:
        return Response(request.app.state.metrics.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.post("/admin/cache/warmup")
    @limiter.limit(settings.rate_limit_admin)
    async def admin_warmup(request: Request) -> dict[str, object]:
        require_admin(request, settings)
        try:
            entries = await request.app.state.store.warm_up()
        except PyMongoError as error:
            raise ServiceUnavailable() from error
        return {"status": "ok", "cached_phone_ids": entries}

    @app.post("/admin/cache/clear")
    @limiter.limit(settings.rate_limit_admin)
    async def admin_clear(request: Request) -> dict[str, object]:
        require_admin(request, settings)
        request.app.state.store.cache.clear()
        return {"status": "ok"}

    return app


def _unlimited(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    return endpoint


app = create_app()
