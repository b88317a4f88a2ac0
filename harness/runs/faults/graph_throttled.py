"""``graph-throttled``: Meta throttles the sends. A share of Graph API sends is answered 429 with
Meta's error 130429 ("Rate limit hit": the business number's throughput) and a ``Retry-After``
header, and every send to one consumer number is answered 429 with 131056 (the pair rate limit of
one business number and one consumer number).

A throttled send is not delivered, so the contract asks the service to release its claim and
answer Meta 503 with ``Retry-After``, so that Meta retries later. The records show how each
service answered while the fault lasted; a probe shows it for one message the harness sends
itself, from the pair-limited number, so its send is refused whatever the draw, and reads the
service's status and ``Retry-After``. The probe's message is never delivered (the pair stays
limited while the fault lasts), so the audit does not see it.
"""

from __future__ import annotations

import httpx

from contract.http import WEBHOOK_PATH

from ...bench import Bench, ServiceProcess
from ...load.payloads import PayloadFactory, encode, signed_headers
from ...upstream import UpstreamProcess
from .base import Evidence, Fault, FaultOption, GraphKnobs, Injector, register

PAIR_LIMITED_NUMBER = "15550131056"  # the consumer whose pair with every business number is limited
_RETRY_AFTER_S = 1  # what the Graph API asks the service to wait
_PROBE_TIMEOUT_S = 30.0


@register
class GraphThrottled(Fault):
    kind = "graph-throttled"
    summary = "Graph API: a share of sends answer 429 (130429, Retry-After), one consumer's pair 131056"
    options = (
        FaultOption(
            "throttle_rate", "--throttle-rate", 0.3, "share of Graph API sends answered 429 130429", share=True
        ),
    )

    @property
    def throttle_rate(self) -> float:
        return float(self.values["throttle_rate"] or 0)

    def describe(self) -> str:
        return (
            f"Graph API: {self.throttle_rate:.0%} of sends answer 429 code 130429 with Retry-After "
            f"{_RETRY_AFTER_S} s, sends to {PAIR_LIMITED_NUMBER} 429 code 131056"
        )

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        knobs = {
            "throttle_rate": self.throttle_rate,
            "retry_after_s": _RETRY_AFTER_S,
            "pair_limited_to": PAIR_LIMITED_NUMBER,
        }
        return _Throttled(upstream, knobs, service, bench)


class _Throttled(GraphKnobs):
    """The throttling knobs, and once they are in force a probe: one message from the
    pair-limited number, whose reply the Graph API refuses with 131056."""

    def __init__(self, upstream: UpstreamProcess, knobs: dict[str, object], service: ServiceProcess, bench: Bench):
        super().__init__(upstream, knobs)
        self._service = service
        self._phone = bench.plan.active_phone_ids()[0]
        self._app_secret = bench.secrets.app_secret
        self._answer: tuple[int, str | None] | None = None

    def inject(self) -> None:
        super().inject()
        body = encode(PayloadFactory().text_webhook(self._phone, sender=PAIR_LIMITED_NUMBER))
        try:
            answer = httpx.post(
                f"{self._service.url}{WEBHOOK_PATH}",
                content=body,
                headers=signed_headers(body, self._app_secret),
                timeout=_PROBE_TIMEOUT_S,
            )
            self._answer = (answer.status_code, answer.headers.get("Retry-After"))
        except httpx.HTTPError:
            self._answer = (0, None)

    def evidence(self) -> Evidence:
        if self._answer is None:
            return Evidence()
        status, retry_after = self._answer
        return Evidence(
            probe=f"a message whose reply the Graph API throttles (429 code 131056, Retry-After {_RETRY_AFTER_S} s)",
            probe_status=status,
            probe_retry_after=retry_after,
        )
