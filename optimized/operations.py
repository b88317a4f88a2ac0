"""The operational routes (``OPERATIONS_ROUTES=on``): ``/health``, ``/ready``, ``/metrics`` (JSON),
``/metrics/prometheus``, ``/admin/cache/warmup`` and ``/admin/cache/clear``, with slowapi's
per-address limits on all but the probes (and on the webhook when ``RATE_LIMIT_WEBHOOK`` is set)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from contract import PoolSizing, Settings
from contract.http import ServiceUnavailable

from .admin import require_admin
from .readiness import Readiness

__all__ = ["install_operations", "limiter_for", "webhook_limit"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _unlimited(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    return endpoint


def limiter_for(app: FastAPI) -> Limiter:
    limiter = Limiter(key_func=get_remote_address)
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    return limiter


def webhook_limit(limiter: Limiter | None, settings: Settings) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The webhook's limit: none unless asked (Meta posts from a handful of addresses)."""
    if limiter is None or not settings.rate_limit_webhook:
        return _unlimited
    return limiter.limit(settings.rate_limit_webhook)


def install_operations(app: FastAPI, settings: Settings, limiter: Limiter, pool: PoolSizing) -> None:
    pool_sizes = (
        (settings.mongodb_max_pool_size, settings.mongodb_min_pool_size) if pool is PoolSizing.SIZED else (None, None)
    )

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
        store = request.app.state.store
        cache = (store.cache.max_size, store.cache.ttl) if store.cache is not None else None
        return request.app.state.metrics.report(cache=cache, pool=pool_sizes).model_dump()

    @app.get("/metrics/prometheus")
    @limiter.limit(settings.rate_limit_metrics)
    async def metrics_prometheus(request: Request) -> Response:
        return Response(request.app.state.metrics.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.post("/admin/cache/warmup")
    @limiter.limit(settings.rate_limit_admin)
    async def admin_warmup(request: Request) -> dict[str, object]:
        require_admin(request, settings)
        store = request.app.state.store
        if store.cache is None:
            return {"status": "ok", "cached_phone_ids": 0}
        try:
            entries = await store.warm_up()
        except PyMongoError as error:
            raise ServiceUnavailable() from error
        return {"status": "ok", "cached_phone_ids": entries}

    @app.post("/admin/cache/clear")
    @limiter.limit(settings.rate_limit_admin)
    async def admin_clear(request: Request) -> dict[str, object]:
        require_admin(request, settings)
        if request.app.state.store.cache is not None:
            request.app.state.store.cache.clear()
        return {"status": "ok"}
