"""Short run plans for tests: real variants, a small bench, short steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.bench import BenchConfig
from harness.results import LoadSettings
from harness.runs import RunPlan, variant_target

_LOAD_FIELDS = frozenset(LoadSettings.model_fields)


def short_plan(
    services: Sequence[str] = ("original", "optimized"),
    *,
    bench: BenchConfig | None = None,
    businesses: int = 10,
    **options: Any,
) -> RunPlan:
    """The first service is the baseline, the others the candidates; ``options`` are
    LoadSettings fields or RunPlan fields."""
    load = {name: value for name, value in options.items() if name in _LOAD_FIELDS}
    rest = {name: value for name, value in options.items() if name not in _LOAD_FIELDS}
    return RunPlan(
        targets=tuple(variant_target(name) for name in services),
        baseline=services[0] if len(services) > 1 else None,
        candidates=tuple(services[1:]),
        load=LoadSettings(**load),
        bench=bench or BenchConfig(businesses=businesses),
        **rest,
    )
