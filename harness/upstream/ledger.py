"""What the fake upstream received: deliveries per inbound message, every refusal by cause, and
how the callers called (how many connections, which HTTP library, how many calls at once).

A delivery is a Graph API send that was answered 200 to a client still waiting for it. It is
filed under the inbound message it answers (``context.message_id``; ``""`` when the send quotes
none), so the harness can match replies to the messages the services acknowledged. The callers'
side shows a variant's architecture from outside: a new client per call opens a connection per
call, a shared one reuses a few; httpx and aiohttp name themselves in ``User-Agent``; a batch
answered concurrently has several sends in flight at once. The ledger holds no token and no
message text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

__all__ = ["COUNTERS", "Ledger"]

Counted = Literal[
    "graph_calls",
    "llm_calls",
    "wrong_token",
    "unknown_phone",
    "rejected",
    "errors_injected",
    "timeouts_injected",
    "abandoned",
    "throttled",
    "pair_limited",
    "edge_sends",
    "edge_late",
]
COUNTERS: tuple[Counted, ...] = (
    "graph_calls",  # every POST to /{version}/{phone}/messages, whatever its answer
    "llm_calls",  # every POST to a chat-completions route, whatever its answer
    "wrong_token",
    "unknown_phone",
    "rejected",  # a body that is not Meta's text send (or a bad completion request)
    "errors_injected",  # 500s from the error_rate knob, both endpoints
    "timeouts_injected",  # 504s after hang_s from the timeout_rate knob, both endpoints
    "abandoned",  # sends whose client had gone by the time the latency elapsed: not delivered
    "throttled",  # 429s code 130429 from the throttle_rate knob (the LLM's: 429 rate_limit_error)
    "pair_limited",  # 429s code 131056: sends to the pair_limited_to number
    "edge_sends",  # sends answered around edge_s (delivered whether or not the client still waited)
    "edge_late",  # of those, answered after edge_s: the caller had given up on them
)


class Ledger:
    __slots__ = ("_agents", "_counts", "_deliveries", "_edge", "_in_flight", "_peak", "_peers", "_replies")

    def __init__(self) -> None:
        self._deliveries: Counter[str] = Counter()
        self._edge: Counter[str] = Counter()  # deliveries answered at the timeout's edge, per message
        self._counts: Counter[str] = Counter()
        self._replies = 0
        self._peers: set[object] = set()
        self._agents: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()

    def count(self, what: Counted) -> None:
        self._counts[what] += 1

    def caller(self, peer: object, user_agent: str) -> None:
        """A request from ``peer`` (host, port): one connection per distinct peer."""
        self._peers.add(peer)
        self._agents[_library(user_agent)] += 1

    def started(self, endpoint: str) -> None:
        self._in_flight[endpoint] += 1
        self._peak[endpoint] = max(self._peak[endpoint], self._in_flight[endpoint])

    def finished(self, endpoint: str) -> None:
        self._in_flight[endpoint] -= 1

    def record_delivery(self, wamid: str, *, edge: bool = False) -> None:
        self._deliveries[wamid] += 1
        self._replies += 1
        if edge:
            self._edge[wamid] += 1

    def reset(self) -> None:
        self._deliveries.clear()
        self._edge.clear()
        self._counts.clear()
        self._replies = 0
        self._peers.clear()
        self._agents.clear()
        self._peak = Counter({endpoint: n for endpoint, n in self._in_flight.items() if n > 0})

    def snapshot(self) -> dict[str, Any]:
        delivered = len(self._deliveries)
        return {
            "deliveries": dict(self._deliveries),
            "delivered_messages": delivered,
            "replies": self._replies,
            "duplicates": self._replies - delivered,  # every delivery beyond a message's first
            **{name: self._counts[name] for name in COUNTERS},
            "connections": len(self._peers),
            "user_agents": dict(self._agents),
            "peak_in_flight": dict(self._peak),
            # Only while any: which messages got a reply answered at the edge of the caller's timeout.
            **({"edge_deliveries": dict(self._edge)} if self._edge else {}),
        }


def _library(user_agent: str) -> str:
    """The HTTP library a User-Agent names ("python-httpx/0.28.1" -> "httpx")."""
    lowered = user_agent.lower()
    for library in ("httpx", "aiohttp"):
        if library in lowered:
            return library
    return user_agent.split("/", 1)[0] or "unknown"
