"""``original.app:app`` — run with ``uvicorn original.app:app`` or
``gunicorn original.app:app -k uvicorn_worker.UvicornWorker -w N``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from contract import Settings, TokenCipher, WebhookEnvelope, load_settings
from contract.http import (
    WEBHOOK_PATH,
    SubscriptionRequest,
    handshake_response,
    install_error_handlers,
    outcome_response,
    subscription_request,
    webhook_envelope,
)

from .store import MessageStore, connect
from .webhook import handle_webhook

__all__ = ["app", "create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One client per process, made after a gunicorn fork, closed on shutdown.
        client = connect(settings)
        app.state.store = MessageStore(
            client[settings.mongodb_db_name],
            TokenCipher(settings.encryption_secret.get_secret_value()),
            settings.processing_lease_seconds,
        )
        try:
            yield
        finally:
            app.state.store.backlog.close()  # before the client it writes through is closed
            client.close()

    app = FastAPI(title="WhatsApp webhook (original)", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)

    @app.get(WEBHOOK_PATH)
    def verify_subscription(request: Request, query: SubscriptionRequest = Depends(subscription_request)) -> Response:
        return handshake_response(query, request.app.state.settings)

    @app.post(WEBHOOK_PATH)
    def receive_webhook(request: Request, envelope: WebhookEnvelope = Depends(webhook_envelope)) -> JSONResponse:
        return outcome_response(handle_webhook(envelope, request.app.state.store, request.app.state.settings))

    return app


app = create_app()
