"""How each fake endpoint behaves: its latency, and how often it fails, hangs, throttles or
answers at the edge of the caller's timeout.

Every knob is validated (a pydantic model), so a typo in a ``POST /control`` is a 400, never a
silently ignored fault. Draws come from one seeded RNG per endpoint: the same seed and the same
order of requests give the same latencies and the same injected faults. A request draws its fate
once (one uniform number against the stacked shares); an edge answer's moment comes from where
that same number fell in the edge's share, so no fault costs a request a second draw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "DISTRIBUTIONS",
    "ENDPOINTS",
    "Behaviour",
    "BehaviourControl",
    "BehaviourError",
    "Draw",
    "Endpoint",
    "Fate",
]

Endpoint = Literal["graph", "llm"]
Fate = Literal["answer", "error", "timeout", "throttle", "edge"]
Distribution = Literal["fixed", "exponential", "lognormal"]
ENDPOINTS: tuple[Endpoint, ...] = ("graph", "llm")
DISTRIBUTIONS: tuple[Distribution, ...] = ("fixed", "exponential", "lognormal")


class BehaviourError(ValueError):
    """A knob value that cannot be applied; the message says which and why."""


class Behaviour(BaseModel):
    """The knobs of one endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(ge=0, le=600_000, description="mean; the median for lognormal")
    distribution: Distribution = "fixed"
    sigma: float = Field(0.5, gt=0, le=3, description="lognormal shape (sigma of the log)")
    error_rate: float = Field(0.0, ge=0, le=1, description="share answered HTTP 500")
    timeout_rate: float = Field(0.0, ge=0, le=1, description="share that hang, then 504")
    hang_s: float = Field(30.0, ge=0, le=600, description="how long a timed-out request hangs")
    throttle_rate: float = Field(0.0, ge=0, le=1, description="share answered 429, Meta's throttling (code 130429)")
    retry_after_s: int = Field(1, ge=0, le=3600, description="the Retry-After header of a throttled answer")
    edge_rate: float = Field(
        0.0, ge=0, le=1, description="share answered around edge_s: delivered, and answered just before, at or after it"
    )
    edge_s: float = Field(2.0, gt=0, le=600, description="the centre of the edge answers (the caller's timeout)")
    edge_spread_s: float = Field(0.1, ge=0, le=60, description="edge answers land uniformly in edge_s +/- this")
    pair_limited_to: str = Field(
        "", max_length=32, description="sends to this number answer 429 code 131056 (pair rate limit); '' none"
    )

    @model_validator(mode="after")
    def _rates_fit(self) -> Behaviour:
        if self.error_rate + self.timeout_rate + self.throttle_rate + self.edge_rate > 1:
            raise ValueError("error_rate + timeout_rate + throttle_rate + edge_rate must not exceed 1")
        return self

    def updated(self, patch: Mapping[str, Any]) -> Behaviour:
        return Behaviour.model_validate({**self.model_dump(), **patch})


@dataclass(frozen=True, slots=True)
class Draw:
    delay_s: float
    fate: Fate


class _Sampler:
    __slots__ = ("behaviour", "_rng")

    def __init__(self, behaviour: Behaviour, seed: int | None) -> None:
        self.behaviour = behaviour
        self._rng = random.Random(seed)

    def draw(self) -> Draw:
        knobs, rng = self.behaviour, self._rng
        delay_s = self._delay_ms(knobs, rng) / 1000.0
        u = rng.random()
        fate = self._fate(knobs, u)
        if fate == "edge":
            # Where u fell in the edge's share (0..1), spread over edge_s +/- edge_spread_s.
            position = (u - knobs.error_rate - knobs.timeout_rate - knobs.throttle_rate) / knobs.edge_rate
            delay_s = max(0.0, knobs.edge_s + knobs.edge_spread_s * (2.0 * position - 1.0))
        return Draw(delay_s, fate)

    @staticmethod
    def _delay_ms(knobs: Behaviour, rng: random.Random) -> float:
        if knobs.latency_ms == 0 or knobs.distribution == "fixed":
            return knobs.latency_ms
        if knobs.distribution == "exponential":
            return rng.expovariate(1.0 / knobs.latency_ms)
        # lognormal: exp(mu) is the median, so latency_ms stays the "typical" answer time.
        return rng.lognormvariate(math.log(knobs.latency_ms), knobs.sigma)

    @staticmethod
    def _fate(knobs: Behaviour, u: float) -> Fate:
        if u < knobs.error_rate:
            return "error"
        if u < knobs.error_rate + knobs.timeout_rate:
            return "timeout"
        if u < knobs.error_rate + knobs.timeout_rate + knobs.throttle_rate:
            return "throttle"
        if u < knobs.error_rate + knobs.timeout_rate + knobs.throttle_rate + knobs.edge_rate:
            return "edge"
        return "answer"


class BehaviourControl:
    """The live knobs of both endpoints, read per request and changed through ``/control``."""

    def __init__(self, graph: Behaviour, llm: Behaviour, *, seed: int | None = None) -> None:
        # Distinct streams per endpoint: changing the LLM's knobs never shifts the Graph draws.
        self._samplers: dict[Endpoint, _Sampler] = {
            "graph": _Sampler(graph, seed),
            "llm": _Sampler(llm, None if seed is None else seed + 1),
        }

    def __getitem__(self, endpoint: Endpoint) -> Behaviour:
        return self._samplers[endpoint].behaviour

    def draw(self, endpoint: Endpoint) -> Draw:
        return self._samplers[endpoint].draw()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: sampler.behaviour.model_dump() for name, sampler in self._samplers.items()}

    def apply(self, patch: Any) -> dict[str, dict[str, Any]]:
        """Partial update, e.g. ``{"graph": {"error_rate": 1.0}}``; all of it or nothing."""
        if not isinstance(patch, Mapping):
            raise BehaviourError('expected a JSON object like {"graph": {"latency_ms": 100}}')
        unknown = set(patch) - set(ENDPOINTS)
        if unknown:
            raise BehaviourError(f"unknown endpoint(s) {sorted(unknown)}; known: {list(ENDPOINTS)}")
        updated: dict[Endpoint, Behaviour] = {}
        for endpoint, changes in patch.items():
            if not isinstance(changes, Mapping):
                raise BehaviourError(f"{endpoint}: expected an object of knobs")
            try:
                updated[endpoint] = self[endpoint].updated(changes)
            except ValidationError as error:
                raise BehaviourError(f"{endpoint}: {_describe(error)}") from None
        for endpoint, behaviour in updated.items():
            self._samplers[endpoint].behaviour = behaviour
        return self.snapshot()


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(problems)
