"""The WhatsApp Cloud API webhook payload: typed models and one parser.

Meta batches up to 1000 updates (about 3 MB) in one POST: several ``entry[]``, each with several
``changes[]``, each with ``messages[]`` and ``statuses[]``. The parser validates the whole body
before anything is processed, so a malformed body is rejected as a whole (nothing
half-processed). Unknown message types, unknown change fields and unknown extra keys are
tolerated, as Meta adds them without notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ANSWERABLE_TYPES",
    "MESSAGE_TYPES",
    "STATUS_VALUES",
    "InboundMessage",
    "InboundStatus",
    "Message",
    "Status",
    "WebhookEnvelope",
    "WebhookPayloadError",
    "parse_webhook",
]

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "reaction",
        "interactive",
        "button",
        "order",
        "system",
        "request_welcome",
        "unsupported",
    }
)
# Types a business answers. Reactions, system notices and "unsupported" (Meta could not read the
# message) get no reply: answering an emoji reaction or a message nobody can read helps no one.
ANSWERABLE_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "interactive", "button"}
)
STATUS_VALUES = frozenset({"sent", "delivered", "read", "failed", "played", "deleted"})


class WebhookPayloadError(ValueError):
    """The body is not a WhatsApp webhook payload; the services answer 400 with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Text(_Model):
    body: str


class Media(_Model):
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None


class Location(_Model):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class Reaction(_Model):
    message_id: str
    emoji: str | None = None


class Reply(_Model):
    id: str
    title: str
    description: str | None = None


class Interactive(_Model):
    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None

    @property
    def choice(self) -> Reply | None:
        return self.button_reply or self.list_reply


class Button(_Model):
    text: str
    payload: str | None = None


class Context(_Model):
    id: str | None = None
    from_: str | None = Field(None, alias="from")


class Message(_Model):
    from_: str = Field(alias="from", min_length=1)  # the reply's recipient: a blank one cannot be answered
    id: str = Field(min_length=1)
    timestamp: str
    type: str
    context: Context | None = None
    text: Text | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    reaction: Reaction | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    errors: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _content_matches_type(self) -> Message:
        # A known type must carry its own object ("type": "text" with no "text" is malformed);
        # unknown types are passed through untouched.
        if self.type in _CONTENT_FIELD and getattr(self, self.type) is None:
            raise ValueError(f"message of type {self.type!r} has no {self.type!r} object")
        return self

    @property
    def answerable(self) -> bool:
        return self.type in ANSWERABLE_TYPES


_CONTENT_FIELD = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "reaction", "interactive", "button"}
)


class Status(_Model):
    id: str
    status: str
    timestamp: str
    recipient_id: str | None = None
    errors: list[dict[str, Any]] | None = None


class Metadata(_Model):
    display_phone_number: str | None = None
    phone_number_id: str = Field(min_length=1)


class Contact(_Model):
    wa_id: str | None = None
    profile: dict[str, Any] | None = None


class MessagesValue(_Model):
    messaging_product: Literal["whatsapp"] = "whatsapp"
    metadata: Metadata
    contacts: list[Contact] = []
    messages: list[Message] = []
    statuses: list[Status] = []


class Change(_Model):
    field: str
    value: MessagesValue | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_messages_field_only(cls, data: Any) -> Any:
        # Other subscriptions (account_update, templates, ...) have other shapes; they are
        # acknowledged and not read.
        if isinstance(data, dict) and data.get("field") != "messages":
            return {"field": data.get("field")}
        return data


class Entry(_Model):
    id: str
    changes: list[Change]


class WebhookEnvelope(_Model):
    object: Literal["whatsapp_business_account"]
    entry: list[Entry]

    def messages(self) -> Iterator[InboundMessage]:
        """Every message of every change of every entry, in the order Meta sent them."""
        for entry in self.entry:
            for change in entry.changes:
                if change.value is not None:
                    pid = change.value.metadata.phone_number_id
                    for message in change.value.messages:
                        yield InboundMessage(pid, message)

    def statuses(self) -> Iterator[InboundStatus]:
        for entry in self.entry:
            for change in entry.changes:
                if change.value is not None:
                    pid = change.value.metadata.phone_number_id
                    for status in change.value.statuses:
                        yield InboundStatus(pid, status)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    phone_number_id: str
    message: Message


@dataclass(frozen=True, slots=True)
class InboundStatus:
    phone_number_id: str
    status: Status


def parse_webhook(body: bytes) -> WebhookEnvelope:
    """Validate a raw webhook body, or raise :class:`WebhookPayloadError` with a short reason."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookPayloadError("body is not valid UTF-8") from None
    try:
        return WebhookEnvelope.model_validate_json(body)
    except ValidationError as error:
        raise WebhookPayloadError(_reason(error)) from None


def _reason(error: ValidationError) -> str:
    first = error.errors(include_input=False, include_url=False)[0]
    if first["type"] == "json_invalid":
        return "body is not valid JSON"
    if not first["loc"]:
        return "body is not a WhatsApp webhook object"
    if first["loc"] == ("object",):
        return f"not a WhatsApp webhook: 'object' must be {WHATSAPP_OBJECT!r}"
    where = ".".join(str(part) for part in first["loc"])
    return f"not a WhatsApp webhook: {where}: {first['msg']}"
