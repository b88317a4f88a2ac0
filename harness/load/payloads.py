"""Payload factory: realistic, correctly signed WhatsApp webhook bodies for tests and Locust.

The shapes follow Meta's webhook reference (and ``../shared/webhook-samples``). A factory is
seeded, so a load test's mix is reproducible.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterable
from typing import Any

from contract import SIGNATURE_HEADER, sign_body

__all__ = [
    "PayloadFactory",
    "disabled_phone_number_id",
    "encode",
    "other_step_wamids",
    "phone_number_id",
    "signed_headers",
    "wamid_prefix",
]

_WAMID_HEADER = b"\x15\x02\x00\x12\x18\x14"  # the fixed bytes Meta's wamids start with
WAMID_SALT_BYTES = 3  # header + salt is 9 bytes: whole base64 groups, so the prefix is a fixed string


def wamid_prefix(salt: bytes) -> str:
    """What every wamid a factory with ``salt`` makes starts with."""
    if len(salt) != WAMID_SALT_BYTES:
        raise ValueError(f"a wamid salt is {WAMID_SALT_BYTES} bytes")
    return "wamid." + base64.b64encode(_WAMID_HEADER + salt).decode()


_GENERATED = "wamid." + base64.b64encode(_WAMID_HEADER).decode()[:8]  # the first 6 bytes: 8 characters
_PREFIX_LENGTH = len("wamid.") + 12  # header and salt: 9 bytes, 12 characters


def other_step_wamids(delivered: Iterable[str], sent: Iterable[str]) -> list[str]:
    """The ``delivered`` wamids this factory made for another step than the one that ``sent``
    these: their salt is none of the sent ones'."""
    own = {wamid[:_PREFIX_LENGTH] for wamid in sent if wamid.startswith(_GENERATED)}
    return [w for w in delivered if w.startswith(_GENERATED) and w[:_PREFIX_LENGTH] not in own]


_FIRST_NAMES = ("Ana", "Kerry", "Sam", "Priya", "Chen", "Fatima", "Lucas", "Amara", "Yuki", "Omar")
_TEXTS = (
    "Hi! Are you open today?",
    "What is the price of the large box?",
    "Table for two at 8pm",
    "Olá! Vocês entregam hoje?",
    "Can I change my order?",
    "Thanks 🙏",
    "Where is my delivery?",
    "Do you have gluten-free options?",
)


def phone_number_id(business: int, phone: int) -> str:
    """The seeded phone ids: 15 digits, like Meta's, with the business and phone index encoded,
    so the load regenerates what ``harness seed`` wrote without reading the database."""
    return f"10{business:08d}{phone:05d}"


def disabled_phone_number_id(kind: str) -> str:
    """The phone id of the seeded disabled (``kind="disabled"``) or inactive business."""
    return {"disabled": "199999999900001", "inactive": "199999999900002"}[kind]


def encode(payload: Any) -> bytes:
    """The exact bytes sent (compact JSON, UTF-8), which is what gets signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(body: bytes, app_secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if app_secret is not None:
        headers[SIGNATURE_HEADER] = sign_body(body, app_secret)
    return headers


class PayloadFactory:
    def __init__(
        self, seed: int | None = None, *, display_phone_number: str = "15550783881", salt: bytes | None = None
    ) -> None:
        self.rng = random.Random(seed)
        self.display_phone_number = display_phone_number
        # A load step's salt keeps its wamids apart from every other step's, whose seed may be the
        # same (the services of one level get the same messages).
        self._head = _WAMID_HEADER + (salt if salt is not None else b"\x00" * WAMID_SALT_BYTES)
        if len(self._head) != len(_WAMID_HEADER) + WAMID_SALT_BYTES:
            raise ValueError(f"a wamid salt is {WAMID_SALT_BYTES} bytes")

    # -- identifiers -------------------------------------------------------------------------
    def wamid(self) -> str:
        raw = self.rng.getrandbits(192).to_bytes(24, "big")
        return "wamid." + base64.b64encode(self._head + raw).decode()

    def sender(self) -> str:
        return f"{self.rng.choice(('1631', '5511', '2348', '4477', '9198'))}{self.rng.randrange(10**7, 10**8)}"

    # -- messages ----------------------------------------------------------------------------
    def message(
        self, kind: str = "text", *, wamid: str | None = None, sender: str | None = None, text: str | None = None
    ) -> dict[str, Any]:
        """One ``messages[]`` item of the given type (every type Meta documents is supported)."""
        message: dict[str, Any] = {
            "from": sender or self.sender(),
            "id": wamid or self.wamid(),
            "timestamp": str(int(time.time())),
            "type": kind,
        }
        message.update(self._content(kind, text))
        return message

    def _content(self, kind: str, text: str | None) -> dict[str, Any]:
        media_id = str(self.rng.randrange(10**15, 10**16))
        match kind:
            case "text":
                return {"text": {"body": text or self.rng.choice(_TEXTS)}}
            case "image" | "video" | "sticker":
                return {kind: {"id": media_id, "mime_type": f"{kind}/jpeg", "sha256": "c2hh", "caption": text}}
            case "audio":
                return {"audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": True}}
            case "document":
                return {"document": {"id": media_id, "mime_type": "application/pdf", "filename": "menu.pdf"}}
            case "location":
                return {"location": {"latitude": -23.5505, "longitude": -46.6333, "name": "Av. Paulista"}}
            case "reaction":
                return {"reaction": {"message_id": self.wamid(), "emoji": "👍"}}
            case "interactive":
                return {"interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}}
            case "interactive_list":
                return {
                    "type": "interactive",
                    "interactive": {
                        "type": "list_reply",
                        "list_reply": {"id": "row-1", "title": "Large box", "description": "12 pieces"},
                    },
                }
            case "button":
                return {"button": {"text": "Track order", "payload": "TRACK"}}
            case "unsupported":
                return {"errors": [{"code": 131051, "title": "Message type unknown"}]}
            case _:
                return {}

    def status(self, status: str = "delivered", *, wamid: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": wamid or self.wamid(),
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": self.sender(),
        }
        if status == "failed":
            item["errors"] = [{"code": 131047, "title": "Re-engagement message"}]
        return item

    # -- envelopes ---------------------------------------------------------------------------
    def change(
        self,
        phone_number_id: str,
        *,
        messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
        statuses: list[dict[str, Any]] = (),
    ) -> dict[str, Any]:  # type: ignore[assignment]
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_phone_number, "phone_number_id": phone_number_id},
        }
        if messages:
            value["contacts"] = [
                {"profile": {"name": self.rng.choice(_FIRST_NAMES)}, "wa_id": m.get("from")} for m in messages
            ]
            value["messages"] = list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        return {"field": "messages", "value": value}

    def envelope(self, *changes: dict[str, Any], waba_id: str = "102290129340398") -> dict[str, Any]:
        return {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": list(changes)}]}

    def signed_message(
        self, phone_number_id: str, message_type: str, app_secret: str | None
    ) -> tuple[str, bytes, dict[str, str]]:
        """(wamid, body, headers) of one message as the load generator sends it: encoded once,
        signed over exactly those bytes."""
        message = self.message(message_type)
        body = encode(self.envelope(self.change(phone_number_id, messages=[message])))
        return message["id"], body, signed_headers(body, app_secret)

    def text_webhook(self, phone_number_id: str, **kwargs: Any) -> dict[str, Any]:
        return self.envelope(self.change(phone_number_id, messages=[self.message("text", **kwargs)]))

    def status_webhook(self, phone_number_id: str, status: str = "delivered") -> dict[str, Any]:
        return self.envelope(self.change(phone_number_id, statuses=[self.status(status)]))

    def batch(self, phone_number_ids: list[str], updates: int) -> dict[str, Any]:
        """One POST carrying ``updates`` messages and statuses spread over several entries."""
        entries: dict[str, list[dict[str, Any]]] = {}
        for i in range(updates):
            pid = phone_number_ids[i % len(phone_number_ids)]
            change = (
                self.change(pid, statuses=[self.status()])
                if i % 4 == 3
                else self.change(pid, messages=[self.message("text")])
            )
            entries.setdefault(pid, []).append(change)
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": f"waba-{pid}", "changes": changes} for pid, changes in entries.items()],
        }
