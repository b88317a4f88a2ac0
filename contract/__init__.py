"""Everything the original and optimized services, and the harness, agree on.

Import from here: ``from contract import Settings, parse_webhook, TokenCipher``.
"""

from .business import (
    BUSINESS_PROJECTION,
    Business,
    business_from_document,
    business_lookup_filter,
    new_business_document,
)
from .claims import Claim, ClaimState, PendingWrites
from .crypto import TokenCipher, TokenDecryptionError, fernet_key
from .handshake import subscription_challenge
from .outcome import WebhookOutcome
from .payload import (
    ANSWERABLE_TYPES,
    MESSAGE_TYPES,
    STATUS_VALUES,
    InboundMessage,
    InboundStatus,
    Message,
    Status,
    WebhookEnvelope,
    WebhookPayloadError,
    parse_webhook,
)
from .replies import (
    DeliveryError,
    graph_message_request,
    graph_message_url,
    llm_reply_text,
    llm_request,
    llm_url,
    reply_text,
    sent_message_id,
)
from .settings import Settings, SettingsError, load_settings
from .signature import SIGNATURE_HEADER, sign_body, verify_signature
from .store import (
    BUSINESS_INDEXES,
    BUSINESSES,
    PROCESSED_MESSAGE_INDEXES,
    PROCESSED_MESSAGES,
)

__all__ = [
    "ANSWERABLE_TYPES",
    "BUSINESSES",
    "BUSINESS_INDEXES",
    "BUSINESS_PROJECTION",
    "MESSAGE_TYPES",
    "PROCESSED_MESSAGES",
    "PROCESSED_MESSAGE_INDEXES",
    "SIGNATURE_HEADER",
    "STATUS_VALUES",
    "Business",
    "Claim",
    "DeliveryError",
    "ClaimState",
    "PendingWrites",
    "InboundMessage",
    "InboundStatus",
    "Message",
    "Settings",
    "SettingsError",
    "Status",
    "TokenCipher",
    "TokenDecryptionError",
    "WebhookEnvelope",
    "WebhookOutcome",
    "WebhookPayloadError",
    "business_from_document",
    "business_lookup_filter",
    "fernet_key",
    "graph_message_request",
    "graph_message_url",
    "llm_reply_text",
    "llm_request",
    "llm_url",
    "load_settings",
    "new_business_document",
    "parse_webhook",
    "reply_text",
    "sent_message_id",
    "sign_body",
    "subscription_challenge",
    "verify_signature",
]
