"""The HTTP face of the webhook contract, shared by every FastAPI service variant.

Everything here runs before a service touches its database: size limit, signature, parsing.
A request rejected here has had no effect at all. Also here: the checklist's request-timing
middleware (``REQUEST_LOG_MIDDLEWARE=on``), the same for whichever handler runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from .handshake import subscription_challenge
from .outcome import WebhookOutcome
from .payload import WebhookEnvelope, WebhookPayloadError, parse_webhook
from .settings import Settings
from .signature import SIGNATURE_HEADER, verify_signature

__all__ = [
    "MAX_BODY_BYTES",
    "WEBHOOK_PATH",
    "ServiceUnavailable",
    "SubscriptionRequest",
    "WebhookRejected",
    "handshake_response",
    "install_error_handlers",
    "install_request_log",
    "outcome_response",
    "subscription_request",
    "webhook_envelope",
]

WEBHOOK_PATH = "/whatsapp_response"
MAX_BODY_BYTES = 4 * 1024 * 1024  # Meta's batches stay under 3 MB

log = logging.getLogger("contract.http")
request_log = logging.getLogger("contract.http.requests")


class WebhookRejected(Exception):
    """The request is refused as a whole, with a 4xx status and a short reason."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class ServiceUnavailable(Exception):
    """A dependency (the database) is unreachable: answer 503 so Meta retries later."""

    def __init__(self, reason: str = "database unavailable; retry later") -> None:
        super().__init__(reason)
        self.reason = reason


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "body larger than 4 MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise WebhookRejected(413, "body larger than 4 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


async def webhook_envelope(request: Request) -> WebhookEnvelope:
    """FastAPI dependency: the verified, parsed body of a webhook POST, or a 4xx."""
    settings: Settings = request.app.state.settings
    body = await _read_limited(request)
    if settings.whatsapp_app_secret is not None:
        secret = settings.whatsapp_app_secret.get_secret_value()
        if not verify_signature(body, request.headers.get(SIGNATURE_HEADER), secret):
            raise WebhookRejected(401, f"missing or invalid {SIGNATURE_HEADER}")
    try:
        return parse_webhook(body)
    except WebhookPayloadError as error:
        raise WebhookRejected(400, error.reason) from None


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    mode: str | None
    token: str | None
    challenge: str | None


async def subscription_request(
    mode: str | None = Query(None, alias="hub.mode"),
    token: str | None = Query(None, alias="hub.verify_token"),
    challenge: str | None = Query(None, alias="hub.challenge"),
) -> SubscriptionRequest:
    """FastAPI dependency: the query of Meta's GET verification handshake."""
    return SubscriptionRequest(mode, token, challenge)


def handshake_response(query: SubscriptionRequest, settings: Settings) -> Response:
    """200 with the challenge as text/plain when the verify token matches, else 403."""
    verify_token = settings.whatsapp_verify_token.get_secret_value()
    answer = subscription_challenge(query.mode, query.token, query.challenge, verify_token)
    if answer is None:
        return JSONResponse({"error": "verification failed"}, status_code=403)
    return PlainTextResponse(answer)


def outcome_response(outcome: WebhookOutcome) -> JSONResponse:
    headers = {"Retry-After": "5"} if outcome.must_retry else None
    return JSONResponse(outcome.body(), status_code=outcome.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map the contract's errors to short JSON answers; nothing internal leaks to a client."""

    @app.exception_handler(WebhookRejected)
    async def _rejected(_: Request, error: WebhookRejected) -> JSONResponse:
        return JSONResponse({"error": error.reason}, status_code=error.status_code)

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, error: ServiceUnavailable) -> JSONResponse:
        return JSONResponse({"error": error.reason}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"invalid request: {where}: {first.get('msg')}"}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # Log the type only: exception text can carry upstream bodies or tokens.
        log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
        return JSONResponse({"error": "internal error"}, status_code=500)


def install_request_log(app: FastAPI) -> None:
    """The checklist's ``log_requests`` middleware, as its code has it: every request timed,
    logged at INFO (the message is built whether or not INFO is enabled) and answered with an
    ``X-Process-Time`` header. An ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware."""

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start_time = time.time()
        response = await call_next(request)
        duration = time.time() - start_time
        request_log.info(
            f"{request.method} {request.url.path} - Status: {response.status_code} - Duration: {duration:.3f}s"
        )
        response.headers["X-Process-Time"] = str(duration)
        return response
