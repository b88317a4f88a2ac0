"""The async handler's message handling: the messages of one POST one after another, or
concurrently (``BATCH_MESSAGES=concurrent``, at most 16 at once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from contract import BatchMode, ClaimState, DeliveryError, InboundMessage, WebhookEnvelope, WebhookOutcome
from contract.http import ServiceUnavailable

from .delivery import ReplySender
from .metrics import Metrics
from .store import MessageStore

__all__ = ["WebhookHandler"]

log = logging.getLogger("optimized.webhook")

# Messages of one batch answered at once; bounded so a 1000-message POST cannot take the whole
# database pool from the other requests.
_BATCH_CONCURRENCY = 16
_COUNTED = {
    "messages": "messages",
    "replied": "replies",
    "duplicates": "duplicates",
    "ignored": "ignored",
    "statuses": "statuses",
    "failed": "failures",
    "in_flight": "in_flight",
}


class WebhookHandler:
    def __init__(self, store: MessageStore, sender: ReplySender, metrics: Metrics, batch: BatchMode) -> None:
        self._store = store
        self._sender = sender
        self._metrics = metrics
        self._concurrent = batch is BatchMode.CONCURRENT

    async def handle(self, envelope: WebhookEnvelope) -> WebhookOutcome:
        messages, repeats = _distinct(envelope.messages())
        # A message repeated in one body is answered by its first copy: answered concurrently, the
        # copies would race for the claim and the loser would make the whole body a 503.
        outcome = WebhookOutcome(statuses=sum(1 for _ in envelope.statuses()), messages=repeats, duplicates=repeats)
        if len(messages) == 1 or not self._concurrent:
            results: list[WebhookOutcome | BaseException] = []
            for inbound in messages:  # as the sync handler: the database going away ends the body
                try:
                    results.append(await self._answer(inbound))
                except ServiceUnavailable as unavailable:
                    results.append(unavailable)
                    break
        else:
            gate = asyncio.Semaphore(_BATCH_CONCURRENCY)

            async def bounded(inbound: InboundMessage) -> WebhookOutcome:
                async with gate:
                    return await self._answer(inbound)

            results = await asyncio.gather(*(bounded(m) for m in messages), return_exceptions=True)
        unavailable = None
        for result in results:
            if isinstance(result, ServiceUnavailable):
                unavailable = result
            elif isinstance(result, BaseException):
                raise result
            else:
                outcome.merge(result)
        self._record(outcome)
        if unavailable is not None:
            # Every other message finished (answered or released); Meta's retry finds them done.
            raise unavailable
        return outcome

    async def _answer(self, inbound: InboundMessage) -> WebhookOutcome:
        one = WebhookOutcome(messages=1)
        message = inbound.message
        business = await self._store.answerable_business(inbound.phone_number_id)
        if business is None or not message.answerable:
            one.ignored = 1
            return one
        state, claim = await self._store.claim(message.id, inbound.phone_number_id)
        if state is ClaimState.DONE:
            one.duplicates = 1
            return one
        if state is ClaimState.IN_FLIGHT:
            one.in_flight = 1
            return one
        try:
            reply_id = await self._sender.deliver(message, inbound.phone_number_id, business)
        except DeliveryError as error:
            log.warning("reply to %s not delivered: %s", message.id, error)
            await self._store.release(claim)
            one.failed = 1
            return one
        await self._store.mark_done(claim, reply_id)
        one.replied = 1
        return one

    def _record(self, outcome: WebhookOutcome) -> None:
        for field, counter in _COUNTED.items():
            if value := getattr(outcome, field):
                self._metrics.count(counter, value)


def _distinct(messages: Iterable[InboundMessage]) -> tuple[list[InboundMessage], int]:
    """The messages of a body, each wamid once, and how many repeats were dropped."""
    first: dict[str, InboundMessage] = {}
    total = 0
    for inbound in messages:
        total += 1
        first.setdefault(inbound.message.id, inbound)
    return list(first.values()), total - len(first)
