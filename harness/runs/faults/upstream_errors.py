"""``upstream-errors``: a share of the Graph API sends answer 500, and another share hangs past
the services' ``GRAPH_API_TIMEOUT`` (twice as long, so it never lands as the service gives up:
``upstream-timeout-edge`` is the fault that aims at that instant)."""

from __future__ import annotations

from ...bench import Bench, ServiceProcess
from ...upstream import UpstreamProcess
from .base import Fault, FaultOption, GraphKnobs, Injector, register

_DEFAULT_HANG_RATE = 0.1


@register
class UpstreamErrors(Fault):
    kind = "upstream-errors"
    summary = "Graph API: a share of sends answer 500, another share hangs past the timeout"
    options = (
        FaultOption("error_rate", "--error-rate", 0.3, "share of Graph API sends answered 500", share=True),
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

    def problems(self) -> list[str]:
        if (self.values["error_rate"] or 0) + self.hang_rate > 1:
            return ["error rate + timeout rate must not exceed 1"]
        return []

    def describe(self) -> str:
        return (
            f"Graph API: {self.values['error_rate']:.0%} of sends answer 500, {self.hang_rate:.0%} hang past "
            f"the services' {self.timeline.graph_timeout_s:g} s timeout"
        )

    def injector(self, bench: Bench, service: ServiceProcess, upstream: UpstreamProcess) -> Injector:
        knobs = {
            "error_rate": self.values["error_rate"],
            "timeout_rate": self.hang_rate,
            "hang_s": 2 * self.timeline.graph_timeout_s,
        }
        return GraphKnobs(upstream, knobs)
