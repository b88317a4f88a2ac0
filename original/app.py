"""``original.app:app``: the sync handler. Run with ``uvicorn original.app:app`` or
``gunicorn original.app:app -k uvicorn_worker.UvicornWorker -w N``; ``SERVICE_VARIANT`` (default
``original``) and the choice variables say which variant of it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from contract import (
    BusinessCache,
    BusinessCacheMode,
    Handler,
    Indexes,
    RequestLog,
    Settings,
    SettingsError,
    TokenCipher,
    WebhookEnvelope,
    load_settings,
)
from contract.http import (
    WEBHOOK_PATH,
    SubscriptionRequest,
    handshake_response,
    install_error_handlers,
    install_request_log,
    outcome_response,
    subscription_request,
    webhook_envelope,
)

from .delivery import ReplySender
from .startup import StartupWork
from .store import MessageStore, connect
from .webhook import handle_webhook

__all__ = ["DEFAULT_VARIANT", "app", "create_app"]

DEFAULT_VARIANT = "original"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    architecture = settings.architecture(DEFAULT_VARIANT)
    if architecture.handler is not Handler.SYNC:
        raise SettingsError(
            "original.app is the sync handler; these settings ask for SERVICE_HANDLER=async: run optimized.app:app"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One client per process, made after a gunicorn fork, closed on shutdown.
        client = connect(settings, architecture)
        cache = (
            BusinessCache(settings.business_cache_size, settings.business_cache_ttl)
            if architecture.business_cache is BusinessCacheMode.TTL
            else None
        )
        store = MessageStore(
            client[settings.mongodb_db_name],
            TokenCipher(settings.encryption_secret.get_secret_value()),
            settings.processing_lease_seconds,
            cache,
        )
        startup = StartupWork(
            store, indexes=architecture.indexes is Indexes.CREATED, warm_up=cache is not None and settings.warmup_cache
        ).start()
        sender = ReplySender(settings, architecture.http_client)
        app.state.store, app.state.sender = store, sender
        try:
            yield
        finally:
            startup.close()
            sender.close()
            store.backlog.close()  # before the client it writes through is closed
            client.close()

    app = FastAPI(title="WhatsApp webhook (sync handler)", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    if architecture.request_log is RequestLog.ON:
        install_request_log(app)

    @app.get(WEBHOOK_PATH)
    def verify_subscription(request: Request, query: SubscriptionRequest = Depends(subscription_request)) -> Response:
        return handshake_response(query, request.app.state.settings)

    @app.post(WEBHOOK_PATH)
    def receive_webhook(request: Request, envelope: WebhookEnvelope = Depends(webhook_envelope)) -> JSONResponse:
        state = request.app.state
        return outcome_response(handle_webhook(envelope, state.store, state.sender))

    return app


app = create_app()
