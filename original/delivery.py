"""The original's outbound calls: a new synchronous HTTP client for each call, as the seed's
handler did (so every reply pays a fresh TCP connection)."""

from __future__ import annotations

import httpx

from contract import (
    Business,
    DeliveryError,
    Message,
    Settings,
    graph_message_request,
    graph_message_url,
    llm_reply_text,
    llm_request,
    llm_url,
    reply_text,
    sent_message_id,
)

__all__ = ["deliver_reply"]


def deliver_reply(message: Message, phone_number_id: str, business: Business, settings: Settings) -> str:
    """Compose and send the reply; the id Meta gave it, or :class:`DeliveryError`."""
    text = _compose(message, business, settings)
    url = graph_message_url(settings.graph_api_root, phone_number_id)
    headers = {"Authorization": f"Bearer {business.access_token}"}
    answer = _post(url, graph_message_request(message, text), headers, settings.graph_api_timeout, "Graph API")
    return sent_message_id(answer)


def _compose(message: Message, business: Business, settings: Settings) -> str:
    if settings.llm_base_url is None:
        return reply_text(message, business)
    headers = {}
    if settings.llm_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    body = llm_request(settings.llm_model, message, business)
    return llm_reply_text(_post(llm_url(settings.llm_base_url), body, headers, settings.llm_timeout, "LLM"))


def _post(url: str, body: dict, headers: dict[str, str], timeout: float, upstream: str) -> object:
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as error:
        raise DeliveryError(f"{upstream} unreachable: {type(error).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"{upstream} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise DeliveryError(f"{upstream} answered a body that is not JSON") from None
