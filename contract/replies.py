"""What a business answers, and the exact requests that carry the answer upstream.

Both services build the same requests from these functions; only how they send them differs.
The reply is deterministic unless ``LLM_BASE_URL`` is set, in which case the text comes from an
OpenAI-compatible chat completion (as Groq exposes) prompted with :func:`llm_prompt`.
"""

from __future__ import annotations

from typing import Any

from .business import Business
from .payload import Message

__all__ = [
    "DeliveryError",
    "graph_message_request",
    "graph_message_url",
    "llm_reply_text",
    "llm_request",
    "llm_url",
    "reply_text",
    "sent_message_id",
]

_MAX_QUOTE = 200
# WhatsApp's own limit on a text message: a longer prompt (a huge caption or location name in a
# hostile body) would be refused by the LLM on every retry, a 503 caused by the input itself.
_MAX_PROMPT = 4096


class DeliveryError(RuntimeError):
    """A reply could not be delivered (upstream error, timeout, or an answer we cannot use).

    The message says what failed in a few words; it never carries a token or message text.
    """


def describe(message: Message) -> str:
    """A short text rendering of any answerable message, for the reply and the LLM prompt."""
    match message.type:
        case "text":
            body = message.text.body if message.text else ""
            return body if body.strip() else "[empty text]"  # an LLM refuses a blank prompt
        case "interactive":
            choice = message.interactive.choice if message.interactive else None
            return f"[chose: {choice.title}]" if choice else "[interactive]"
        case "button":
            return f"[pressed: {message.button.text}]" if message.button else "[button]"
        case "location":
            loc = message.location
            return f"[location: {loc.name or f'{loc.latitude:.5f},{loc.longitude:.5f}'}]" if loc else "[location]"
        case kind:
            media = getattr(message, kind, None)
            caption = getattr(media, "caption", None)
            label = "voice note" if kind == "audio" and getattr(media, "voice", False) else kind
            return f"[{label}: {caption}]" if caption else f"[{label}]"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reply_text(message: Message, business: Business) -> str:
    """The deterministic reply used when no LLM is configured."""
    return f"Thanks for your message to {business.name}! We received: {_clip(describe(message), _MAX_QUOTE)}"


def llm_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/chat/completions"


def llm_request(model: str, message: Message, business: Business) -> dict[str, Any]:
    return {
        "model": model,
        "temperature": 0,
        "max_tokens": 200,
        "messages": [
            {
                "role": "system",
                "content": f"You are the WhatsApp assistant of {business.name}. Answer briefly.",
            },
            {"role": "user", "content": _clip(describe(message), _MAX_PROMPT)},
        ],
    }


def llm_reply_text(response: Any) -> str:
    try:
        text = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise DeliveryError("LLM answer has no choices[0].message.content") from None
    if not isinstance(text, str) or not text.strip():
        raise DeliveryError("LLM answer is empty")
    return text.strip()


def graph_message_url(graph_api_root: str, phone_number_id: str) -> str:
    return f"{graph_api_root}/{phone_number_id}/messages"


def graph_message_request(message: Message, text: str) -> dict[str, Any]:
    """A text reply quoting the inbound message, so the conversation (and the audit) ties them."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.from_,
        "context": {"message_id": message.id},
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }


def sent_message_id(response: Any) -> str:
    try:
        return str(response["messages"][0]["id"])
    except (KeyError, IndexError, TypeError):
        raise DeliveryError("Graph API answer has no messages[0].id") from None
