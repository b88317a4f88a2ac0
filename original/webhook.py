"""The sync handler's message handling: every message of the batch in turn, inline."""

from __future__ import annotations

import logging

from contract import ClaimState, DeliveryError, WebhookEnvelope, WebhookOutcome

from .delivery import ReplySender
from .store import MessageStore

__all__ = ["handle_webhook"]

log = logging.getLogger("original.webhook")


def handle_webhook(envelope: WebhookEnvelope, store: MessageStore, sender: ReplySender) -> WebhookOutcome:
    outcome = WebhookOutcome(statuses=sum(1 for _ in envelope.statuses()))
    for inbound in envelope.messages():
        outcome.messages += 1
        message = inbound.message
        business = store.answerable_business(inbound.phone_number_id)
        if business is None or not message.answerable:
            outcome.ignored += 1
            continue
        state, claim = store.claim(message.id, inbound.phone_number_id)
        if state is ClaimState.DONE:
            outcome.duplicates += 1
            continue
        if state is ClaimState.IN_FLIGHT:
            outcome.in_flight += 1
            continue
        try:
            reply_id = sender.deliver(message, inbound.phone_number_id, business)
        except DeliveryError as error:
            log.warning("reply to %s not delivered: %s", message.id, error)
            store.release(claim)
            outcome.failed += 1
            continue
        store.mark_done(claim, reply_id)
        outcome.replied += 1
    return outcome
