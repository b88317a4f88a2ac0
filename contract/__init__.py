"""Everything every service variant, and the harness, agree on: the webhook contract, the
business data, and the architecture choices a variant is made of.

Import from here: ``from contract import Settings, parse_webhook, TokenCipher``.
"""

from .architecture import (
    CHOICES,
    VARIANTS,
    Architecture,
    BatchMode,
    BusinessCacheMode,
    ClientScope,
    DatabaseDown,
    Handler,
    HttpLibrary,
    Indexes,
    MongoDriver,
    OperationsRoutes,
    PoolSizing,
    RequestLog,
    Variant,
    VariantError,
    parse_variant,
)
from .business import (
    BUSINESS_PROJECTION,
    Business,
    active_businesses_filter,
    business_from_document,
    business_lookup_filter,
    new_business_document,
)
from .cache import BusinessCache
from .claims import Claim, ClaimState, PendingWrites
from .crypto import TokenCipher, TokenDecryptionError, fernet_key
from .handshake import subscription_challenge
from .metrics import COUNTER_NAMES, CacheMetrics, MetricsReport, PoolMetrics
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
    "CHOICES",
    "COUNTER_NAMES",
    "VARIANTS",
    "Architecture",
    "BatchMode",
    "BusinessCache",
    "BusinessCacheMode",
    "CacheMetrics",
    "ClientScope",
    "DatabaseDown",
    "Handler",
    "HttpLibrary",
    "Indexes",
    "MetricsReport",
    "MongoDriver",
    "OperationsRoutes",
    "PoolMetrics",
    "PoolSizing",
    "RequestLog",
    "Variant",
    "VariantError",
    "active_businesses_filter",
    "parse_variant",
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
