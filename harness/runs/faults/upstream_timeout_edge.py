"""``upstream-timeout-edge``: a share of Graph API sends is delivered and answered just before,
at or just after the services' ``GRAPH_API_TIMEOUT`` (uniformly within +/- a spread of it), so
some replies land as the service gives up on them.

Meta sends such a reply whether or not the service still waits for the answer; the service sees
a timeout, releases its claim and answers 503; Meta's retry claims the message again and the
reply is sent a second time. The Graph API has no idempotency key, so no design can avoid this
without giving up the retry: the doubles are counted apart (*at the timeout's edge*), per design,
for the decision to weigh, and every other double still fails the audit.
"""

from __future__ import annotations

from ...bench import Bench, ServiceProcess
from ...upstream import UpstreamProcess
from .base import Evidence, Fault, FaultOption, GraphKnobs, Injector, register


@register
class UpstreamTimeoutEdge(Fault):
    kind = "upstream-timeout-edge"
    summary = "Graph API: a share of sends delivered and answered just before, at or just after the timeout"
    options = (
        FaultOption("edge_rate", "--edge-rate", 0.2, "share of Graph API sends answered at the timeout", share=True),
        FaultOption(
            "edge_spread_ms", "--edge-spread-ms", 100.0, "edge answers land within the timeout +/- this many ms"
        ),
    )

    @property
    def edge_rate(self) -> float:
        return float(self.values["edge_rate"] or 0)

    @property
    def spread_s(self) -> float:
        return float(self.values["edge_spread_ms"] or 0) / 1000.0

    def problems(self) -> list[str]:
        if self.edge_rate <= 0:
            return ["--edge-rate must be more than 0: no send would land at the timeout"]
        if not 0 <= self.spread_s < self.timeline.graph_timeout_s:
            return ["the edge spread must be at least 0 and less than the Graph API timeout"]
        return []

    def describe(self) -> str:
        return (
            f"Graph API: {self.edge_rate:.0%} of sends delivered and answered within +/- {self.spread_s * 1000:g} ms "
            f"of the services' {self.timeline.graph_timeout_s:g} s timeout"
        )

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        knobs = {
            "edge_rate": self.edge_rate,
            "edge_s": self.timeline.graph_timeout_s,
            "edge_spread_s": self.spread_s,
        }
        return _Edge(upstream, knobs)


class _Edge(GraphKnobs):
    def evidence(self) -> Evidence:
        return Evidence(edge=True)
