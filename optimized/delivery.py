"""The async handler's outbound calls, through one of four transports (``HTTP_CLIENT`` x
``HTTP_LIBRARY``): a new ``httpx.AsyncClient`` per call (the checklist's handler does exactly
this: ``async with httpx.AsyncClient() as client``), a new aiohttp session per call, or one
shared, pooled client of either library per process."""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp
import httpx

from contract import (
    Architecture,
    Business,
    ClientScope,
    DeliveryError,
    HttpLibrary,
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


class _Transport(Protocol):
    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        """(status, parsed JSON body or None); raises the library's own errors."""

    async def close(self) -> None: ...


class _HttpxPerCall:
    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, json=body, headers=headers)
        return response.status_code, _json(response.status_code, response.json)

    async def close(self) -> None:
        return None


class _HttpxShared:
    def __init__(self, settings: Settings) -> None:
        self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=settings.http_max_connections))

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        response = await self._client.post(url, json=body, headers=headers, timeout=timeout)
        return response.status_code, _json(response.status_code, response.json)

    async def close(self) -> None:
        await self._client.aclose()


class _AiohttpPerCall:
    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            return await _aiohttp_post(session, url, body, headers, timeout)

    async def close(self) -> None:
        return None


class _AiohttpShared:
    def __init__(self, settings: Settings) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.http_max_connections, keepalive_timeout=30)
        )

    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        return await _aiohttp_post(self._session, url, body, headers, timeout)

    async def close(self) -> None:
        await self._session.close()


async def _aiohttp_post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
        if answer.status >= 300:
            return answer.status, None
        return answer.status, await answer.json(content_type=None)


def _json(status: int, parse: Any) -> Any:
    return parse() if status < 300 else None


def _transport(settings: Settings, architecture: Architecture) -> _Transport:
    shared = architecture.http_client is ClientScope.SHARED
    if architecture.http_library is HttpLibrary.AIOHTTP:
        return _AiohttpShared(settings) if shared else _AiohttpPerCall()
    return _HttpxShared(settings) if shared else _HttpxPerCall()


_NETWORK_ERRORS = (httpx.HTTPError, aiohttp.ClientError, TimeoutError)


class ReplySender:
    """Composes (through the LLM when configured) and sends replies; made and closed in the lifespan."""

    def __init__(self, settings: Settings, architecture: Architecture) -> None:
        self._settings = settings
        self._transport = _transport(settings, architecture)
        self._llm_headers = (
            {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"} if settings.llm_api_key else {}
        )

    async def close(self) -> None:
        await self._transport.close()

    async def deliver(self, message: Message, phone_number_id: str, business: Business) -> str:
        settings = self._settings
        text = await self._compose(message, business)
        url = graph_message_url(settings.graph_api_root, phone_number_id)
        headers = {"Authorization": f"Bearer {business.access_token}"}
        body = graph_message_request(message, text)
        return sent_message_id(await self._post(url, body, headers, settings.graph_api_timeout, "Graph API"))

    async def _compose(self, message: Message, business: Business) -> str:
        settings = self._settings
        if settings.llm_base_url is None:
            return reply_text(message, business)
        body = llm_request(settings.llm_model, message, business)
        answer = await self._post(llm_url(settings.llm_base_url), body, self._llm_headers, settings.llm_timeout, "LLM")
        return llm_reply_text(answer)

    async def _post(
        self, url: str, body: dict[str, Any], headers: dict[str, str], timeout: float, upstream: str
    ) -> Any:
        try:
            status, answer = await self._transport.post(url, body, headers, timeout)
        except _NETWORK_ERRORS as error:
            raise DeliveryError(f"{upstream} unreachable: {type(error).__name__}") from None
        except ValueError:
            raise DeliveryError(f"{upstream} answered a body that is not JSON") from None
        if status >= 300:
            raise DeliveryError(f"{upstream} answered {status}")
        return answer
