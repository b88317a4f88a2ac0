"""The sync handler's outbound calls: a new ``httpx.Client`` for every call (as the seed's handler
did: every reply pays the client's construction and a fresh TCP connection), or one shared,
pooled client per process (``HTTP_CLIENT=shared``)."""

from __future__ import annotations

from typing import Any

import httpx

from contract import (
    Business,
    ClientScope,
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

__all__ = ["ReplySender"]


class ReplySender:
    """Composes (through the LLM when configured) and sends replies; closed in the lifespan."""

    def __init__(self, settings: Settings, scope: ClientScope) -> None:
        self._settings = settings
        self._shared = (
            httpx.Client(limits=httpx.Limits(max_connections=settings.http_max_connections))
            if scope is ClientScope.SHARED
            else None
        )
        self._llm_headers = (
            {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"} if settings.llm_api_key else {}
        )

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()

    def deliver(self, message: Message, phone_number_id: str, business: Business) -> str:
        """Compose and send the reply; the id Meta gave it, or :class:`DeliveryError`."""
        settings = self._settings
        text = self._compose(message, business)
        url = graph_message_url(settings.graph_api_root, phone_number_id)
        headers = {"Authorization": f"Bearer {business.access_token}"}
        body = graph_message_request(message, text)
        return sent_message_id(self._post(url, body, headers, settings.graph_api_timeout, "Graph API"))

    def _compose(self, message: Message, business: Business) -> str:
        settings = self._settings
        if settings.llm_base_url is None:
            return reply_text(message, business)
        body = llm_request(settings.llm_model, message, business)
        answer = self._post(llm_url(settings.llm_base_url), body, self._llm_headers, settings.llm_timeout, "LLM")
        return llm_reply_text(answer)

    def _post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float, upstream: str) -> Any:
        try:
            if self._shared is not None:
                response = self._shared.post(url, json=body, headers=headers, timeout=timeout)
            else:
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
