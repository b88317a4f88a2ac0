"""The fake upstream's routes: Meta's Graph API send, an OpenAI-compatible chat completion, and
the harness's own ``/control``, ``/audit`` and ``/health``.

Handlers stay cheap: a request waiting out its latency is one sleeping coroutine, so thousands
in flight cost the shared CPU almost nothing. Answers copy the real services' shapes, so the
services under test parse exactly what production would send them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

from aiohttp import web

from .behaviour import BehaviourControl, BehaviourError, Draw, Endpoint
from .ledger import Ledger
from .tokens import TokenDirectory, token_matches

__all__ = ["create_app", "completion_text"]

_BEHAVIOUR = web.AppKey("behaviour", BehaviourControl)
_DIRECTORY = web.AppKey("directory", TokenDirectory)
_LEDGER = web.AppKey("ledger", Ledger)
_MAX_ECHO = 160


def create_app(directory: TokenDirectory, behaviour: BehaviourControl, ledger: Ledger) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[_DIRECTORY], app[_BEHAVIOUR], app[_LEDGER] = directory, behaviour, ledger
    app.router.add_get("/health", _health)
    app.router.add_get("/control", _get_control)
    app.router.add_post("/control", _post_control)
    app.router.add_get("/audit", _get_audit)
    app.router.add_post("/audit/reset", _reset_audit)
    app.router.add_post("/v1/chat/completions", _chat_completion)
    app.router.add_post("/openai/v1/chat/completions", _chat_completion)
    app.router.add_post("/{version}/{phone_number_id}/messages", _send_message)
    return app


# -- Graph API ---------------------------------------------------------------------------------
async def _send_message(request: web.Request) -> web.Response:
    app = request.app
    ledger = app[_LEDGER]
    ledger.count("graph_calls")
    _note_caller(request, ledger)
    presented = _bearer(request.headers.get("Authorization", ""))
    if presented is None:
        ledger.count("wrong_token")
        return _invalid_token()
    phone_number_id = request.match_info["phone_number_id"]
    accepted = await app[_DIRECTORY].tokens_for(phone_number_id)
    if accepted is None:
        ledger.count("unknown_phone")
        return _meta_error(
            400,
            f"Unsupported post request. Object with ID '{phone_number_id[:32]}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            "GraphMethodException",
            100,
            error_subcode=33,
        )
    if not token_matches(presented, accepted):
        ledger.count("wrong_token")
        return _invalid_token()
    body = await _json_object(request)
    problem = "the body is not a JSON object" if body is None else _text_send_problem(body)
    if problem:
        ledger.count("rejected")
        return _meta_error(400, "(#100) Invalid parameter", "OAuthException", 100, details=problem)

    draw = app[_BEHAVIOUR].draw("graph")
    ledger.started("graph")
    try:
        failure = await _wait_out(request, draw, "graph")
    finally:
        ledger.finished("graph")
    if failure is not None:
        return failure
    limited = app[_BEHAVIOUR]["graph"].pair_limited_to
    if limited and body["to"] == limited:
        ledger.count("pair_limited")
        return _throttled(request, 131056)
    edge = draw.fate == "edge"
    if not edge and _client_gone(request):
        # The service's own timeout fired first: it believes the send failed, and so do we.
        ledger.count("abandoned")
        return web.json_response({}, status=499)
    # An edge answer was sent by Meta whether or not the caller still waits for the answer: the
    # Graph API has no idempotency key, so a caller that gave up and retries sends it twice.
    context = body.get("context")
    wamid = context.get("message_id", "") if isinstance(context, dict) else ""
    ledger.record_delivery(str(wamid), edge=edge)
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
        }
    )


def _text_send_problem(body: dict[str, Any]) -> str | None:
    """Why the body is not Meta's text send, or None when it is."""
    if body.get("messaging_product") != "whatsapp":
        return 'messaging_product must be "whatsapp"'
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "to must be a non-empty string"
    if body.get("type") != "text":
        return 'type must be "text"'
    text = body.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"].strip():
        return "text.body must be a non-empty string"
    if "context" in body and not isinstance(body["context"], dict):
        return "context must be an object"
    return None


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _invalid_token() -> web.Response:
    # Never echo what was presented: a wrong token may still be somebody's real one.
    return _meta_error(401, "Invalid OAuth access token.", "OAuthException", 190)


def _meta_error(
    status: int, message: str, kind: str, code: int, *, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if "details" in extra:
        error["error_data"] = {"details": extra.pop("details")}
    error.update(extra)
    error["fbtrace_id"] = uuid.uuid4().hex[:22]
    return web.json_response({"error": error}, status=status, headers=headers)


# Meta's throttling answers, as the Cloud API words them: the business number's throughput
# (130429) and the (business number, consumer number) pair's rate (131056).
_THROTTLES = {
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131056: (
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same "
        "phone number in a short period of time.",
    ),
}


def _throttled(request: web.Request, code: int) -> web.Response:
    message, details = _THROTTLES[code]
    retry_after = str(request.app[_BEHAVIOUR]["graph"].retry_after_s)
    return _meta_error(
        429,
        message,
        "OAuthException",
        code,
        headers={"Retry-After": retry_after},
        error_data={"messaging_product": "whatsapp", "details": details},
    )


# -- OpenAI-compatible LLM -----------------------------------------------------------------------
async def _chat_completion(request: web.Request) -> web.Response:
    app = request.app
    ledger = app[_LEDGER]
    ledger.count("llm_calls")
    _note_caller(request, ledger)
    body = await _json_object(request)
    prompt = _last_user_message(body) if body is not None else None
    if prompt is None:
        ledger.count("rejected")
        return _openai_error(
            400,
            "messages must be a list ending in turns with a user message",
            "invalid_request_error",
        )
    failure = await _wait_out(request, app[_BEHAVIOUR].draw("llm"), "llm")
    if failure is not None:
        return failure
    content = completion_text(prompt)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
    completion_tokens = len(content.split())
    return web.json_response(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or "fake-llm"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def completion_text(prompt: str) -> str:
    """The completion for a user message: the same prompt always gets the same answer."""
    said = " ".join(prompt.split())
    if len(said) > _MAX_ECHO:
        said = said[: _MAX_ECHO - 1] + "…"
    ref = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    return f"Thanks for your message ({said}). A member of our team will follow up shortly. [ref {ref}]"


def _last_user_message(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return None
    for message in reversed(messages):
        if message["role"] == "user":
            content = message.get("content")
            return content if isinstance(content, str) and content.strip() else None
    return None


def _openai_error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status)


# -- knobs ---------------------------------------------------------------------------------------
async def _wait_out(request: web.Request, draw: Draw, endpoint: Endpoint) -> web.Response | None:
    """Sleep the drawn latency, then the injected failure's answer (None: answer normally)."""
    if draw.delay_s > 0:
        await asyncio.sleep(draw.delay_s)
    if draw.fate == "answer":
        return None
    ledger = request.app[_LEDGER]
    if draw.fate == "edge":
        ledger.count("edge_sends")
        if draw.delay_s > request.app[_BEHAVIOUR][endpoint].edge_s:
            ledger.count("edge_late")
        return None
    if draw.fate == "throttle":
        ledger.count("throttled")
        if endpoint == "llm":
            retry_after = str(request.app[_BEHAVIOUR]["llm"].retry_after_s)
            return web.json_response(
                {"error": {"message": "Rate limit reached.", "type": "rate_limit_error", "param": None, "code": None}},
                status=429,
                headers={"Retry-After": retry_after},
            )
        return _throttled(request, 130429)
    if draw.fate == "error":
        ledger.count("errors_injected")
        if endpoint == "llm":
            return _openai_error(500, "The server had an error while processing your request.", "server_error")
        return _meta_error(
            500,
            "An unexpected error has occurred. Please retry your request later.",
            "OAuthException",
            2,
            is_transient=True,
        )
    ledger.count("timeouts_injected")
    await asyncio.sleep(request.app[_BEHAVIOUR][endpoint].hang_s)
    return web.json_response({"error": {"message": "upstream timed out", "code": 504}}, status=504)


def _note_caller(request: web.Request, ledger: Ledger) -> None:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    ledger.caller(peer, request.headers.get("User-Agent", ""))


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


# -- the harness's own routes ----------------------------------------------------------------------
async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "phone_number_ids": len(request.app[_DIRECTORY])})


async def _get_control(request: web.Request) -> web.Response:
    return web.json_response(request.app[_BEHAVIOUR].snapshot())


async def _post_control(request: web.Request) -> web.Response:
    try:
        patch = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return web.json_response({"error": "the body is not JSON"}, status=400)
    try:
        return web.json_response(request.app[_BEHAVIOUR].apply(patch))
    except BehaviourError as error:
        return web.json_response({"error": str(error)}, status=400)


async def _get_audit(request: web.Request) -> web.Response:
    return web.json_response(request.app[_LEDGER].snapshot())


async def _reset_audit(request: web.Request) -> web.Response:
    ledger = request.app[_LEDGER]
    ledger.reset()
    return web.json_response(ledger.snapshot())
