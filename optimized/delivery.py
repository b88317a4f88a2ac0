"""The optimized service's outbound calls: one shared, pooled HTTP client per process.

aiohttp's client rather than httpx's: on this service's hot path it costs a fraction of the CPU
per call, and CPU per message is what the migration is judged on.
"""

from __future__ import annotations

from typing import Any

import aiohttp

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

__all__ = ["ReplySender"]


class ReplySender:
    """Composes (through the LLM when configured) and sends replies; made and closed in the lifespan."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.http_max_connections, keepalive_timeout=30),
            raise_for_status=False,
        )
        self._graph_timeout = aiohttp.ClientTimeout(total=settings.graph_api_timeout)
        self._llm_timeout = aiohttp.ClientTimeout(total=settings.llm_timeout)
        self._llm_headers = (
            {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"} if settings.llm_api_key else {}
        )

    async def close(self) -> None:
        await self._session.close()

    async def deliver(self, message: Message, phone_number_id: str, business: Business) -> str:
        text = await self._compose(message, business)
        url = graph_message_url(self._settings.graph_api_root, phone_number_id)
        headers = {"Authorization": f"Bearer {business.access_token}"}
        answer = await self._post(url, graph_message_request(message, text), headers, self._graph_timeout, "Graph API")
        return sent_message_id(answer)

    async def _compose(self, message: Message, business: Business) -> str:
        settings = self._settings
        if settings.llm_base_url is None:
            return reply_text(message, business)
        body = llm_request(settings.llm_model, message, business)
        answer = await self._post(llm_url(settings.llm_base_url), body, self._llm_headers, self._llm_timeout, "LLM")
        return llm_reply_text(answer)

    async def _post(
        self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: aiohttp.ClientTimeout, upstream: str
    ) -> Any:
        try:
            async with self._session.post(url, json=body, headers=headers, timeout=timeout) as response:
                if response.status >= 300:
                    raise DeliveryError(f"{upstream} answered {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryError(f"{upstream} unreachable: {type(error).__name__}") from None
        except ValueError:
            raise DeliveryError(f"{upstream} answered a body that is not JSON") from None
