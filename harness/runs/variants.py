"""The service variants a run can measure, as targets: everything the harness does with a
variant (which app runs, its environment, whether its database gets the migration's indexes,
its label in every report) derives from :data:`contract.architecture.VARIANTS`."""

from __future__ import annotations

from contract.architecture import VARIANTS, Architecture, Indexes, VariantError, parse_variant

from ..results import VariantInfo
from .plan import Target

__all__ = ["DEFAULT_BASELINE", "DEFAULT_CANDIDATES", "VariantError", "variant_info", "variant_target"]

DEFAULT_BASELINE = next(name for name, variant in VARIANTS.items() if variant.role == "baseline")
DEFAULT_CANDIDATES = tuple(name for name, variant in VARIANTS.items() if variant.role == "candidate")


def variant_info(name: str, architecture: Architecture) -> VariantInfo:
    base = name.split("+", 1)[0]
    changed = name != base
    summary = VARIANTS[base].summary + (f", changed: {name.removeprefix(base + '+')}" if changed else "")
    return VariantInfo(summary=summary, choices=architecture.to_env())


def variant_target(
    name: str, *, env: dict[str, str] | None = None, upstream_latency_factor: float = 1.0, label: str | None = None
) -> Target:
    """The target of variant ``name`` (``NAME`` or ``NAME+TOKEN...``); raises VariantError."""
    architecture = parse_variant(name)
    return Target(
        label=label or name,
        app=architecture.app,
        env={**architecture.to_env(), **(env or {})},
        indexes=architecture.indexes is Indexes.CREATED,
        variant=variant_info(name, architecture),
        upstream_latency_factor=upstream_latency_factor,
    )
