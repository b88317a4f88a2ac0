"""``upstream-slow``: every Graph API send slower (by default half the services' timeout), and a
share hanging past the timeout (twice as long, so none lands as the service gives up)."""

from __future__ import annotations

from ...bench import Bench, ServiceProcess
from ...upstream import UpstreamProcess
from .base import Fault, FaultOption, GraphKnobs, Injector, register

_DEFAULT_HANG_RATE = 0.2


@register
class UpstreamSlow(Fault):
    kind = "upstream-slow"
    summary = "Graph API: every send slower, a share hangs past the timeout"
    options = (
        FaultOption("slow_ms", "--slow-ms", None, "latency of the sends that answer (default half the timeout)"),
        FaultOption(
            "timeout_rate",
            "--timeout-rate",
            None,
            f"share of sends that hang past the timeout (default {_DEFAULT_HANG_RATE:g})",
            share=True,
        ),
    )

    @property
    def hang_rate(self) -> float:
        value = self.values["timeout_rate"]
        return _DEFAULT_HANG_RATE if value is None else value

    @property
    def slow_ms(self) -> float:
        value = self.values["slow_ms"]
        return self.timeline.graph_timeout_s * 500 if value is None else value

    def problems(self) -> list[str]:
        if self.slow_ms >= self.timeline.graph_timeout_s * 1000:
            return ["the slow latency must stay under the Graph API timeout (the hangs exceed it)"]
        return []

    def describe(self) -> str:
        return (
            f"Graph API: sends take {self.slow_ms:g} ms, {self.hang_rate:.0%} hang past the services' "
            f"{self.timeline.graph_timeout_s:g} s timeout"
        )

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        knobs = {
            "latency_ms": self.slow_ms,
            "distribution": "fixed",
            "timeout_rate": self.hang_rate,
            "hang_s": 2 * self.timeline.graph_timeout_s,
        }
        return GraphKnobs(upstream, knobs)
