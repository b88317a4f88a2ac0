"""What one webhook POST did, and the answer the services give for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["WebhookOutcome"]


@dataclass(slots=True)
class WebhookOutcome:
    messages: int = 0  # messages in the body
    replied: int = 0  # replies delivered by this request
    duplicates: int = 0  # answered before (Meta's retries and duplicate deliveries)
    ignored: int = 0  # unknown or disabled business, or a type that gets no reply
    statuses: int = 0  # delivery/read receipts: accepted, never answered
    failed: int = 0  # reply could not be delivered: Meta must retry
    in_flight: int = 0  # another worker is answering it right now: Meta must retry

    def merge(self, other: WebhookOutcome) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def must_retry(self) -> bool:
        return bool(self.failed or self.in_flight)

    @property
    def status_code(self) -> int:
        return 503 if self.must_retry else 200

    def body(self) -> dict[str, Any]:
        counts = asdict(self)
        if self.must_retry:
            return {"status": "retry", "error": "some replies could not be delivered; retry later", **counts}
        return {"status": "ok", **counts}
