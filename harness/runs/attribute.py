"""``harness attribute``: which change between two variants earns what.

The design (:func:`design`) lists every choice that differs between the baseline B and the
target T, and the configurations that price each change: B+c (the change alone) and T-c (the
target without it), each named in the variant grammar (``original+shared-client``,
``optimized+per-call-client``). A change no handler implements alone (aiohttp under the sync
handler) is not measured that way, and says why. Configurations that coincide are measured once.

Every configuration runs in one interleaved run (the compare machinery: levels in order, the
configurations in a seeded random order per trial). Each configuration's verdict against B
(the verdict's own rules) decides the minimal migration. When it rests on the changes the target
cannot lose and those are not one of the configurations, a second, short run measures B with
exactly them (and what they need), beside B and T, to confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from contract.architecture import CHOICES, VARIANTS, Architecture, Change, VariantError, parse_variant, variant_label

from ..analysis.attribution import Confirmation, DesignedChange, attribute, minimal_migration, verdicts
from ..records import load_run_records
from ..report import write_report
from ..results import Decision, Results, save_results
from .compare import RunControl, run_comparison
from .plan import RunPlan
from .variants import variant_target

__all__ = ["AttributionDesign", "confirmation_label", "design", "run_attribution"]

_CHOICE = {choice.name: choice for choice in CHOICES}


@dataclass(frozen=True)
class AttributionDesign:
    baseline: str
    target: str
    changes: tuple[DesignedChange, ...]
    configurations: tuple[str, ...]  # every label to measure, the baseline and the target first


def _label(architecture: Architecture, preset: str) -> str:
    """The name of ``architecture`` in the variant grammar, relative to a preset."""
    base = preset.split("+", 1)[0]
    return variant_label(base, VARIANTS[base].architecture.changes_to(architecture))


def design(baseline: str, target: str, only: tuple[str, ...] = ()) -> AttributionDesign:
    """The configurations that price every change from ``baseline`` to ``target`` (``only``:
    just the changes with these tokens). Raises VariantError for a name no service can run."""
    start, end = parse_variant(baseline), parse_variant(target)
    changes = start.changes_to(end)
    if only:
        unknown = sorted(set(only) - {c.token for c in changes})
        if unknown:
            raise VariantError(f"{', '.join(unknown)}: not a change from {baseline} to {target}")
        changes = [c for c in changes if c.token in only]
    if not changes:
        raise VariantError(f"{baseline} and {target} make the same choices: there is nothing to attribute")
    seen: dict[Architecture, str] = {start: baseline, end: target}
    designed = []
    for change in changes:
        added, not_added = _configuration(start, change, baseline, seen)
        undo = Change(change.choice, change.after, change.before)
        removed, not_removed = _configuration(end, undo, target, seen)
        designed.append(
            DesignedChange(
                token=change.token,
                setting=_CHOICE[change.choice].env,
                before=str(change.before),
                after=str(change.after),
                title=change.title,
                added=added,
                removed=removed,
                not_added=not_added,
                not_removed=not_removed,
            )
        )
    return AttributionDesign(baseline, target, tuple(designed), tuple(dict.fromkeys(seen.values())))


def _configuration(
    architecture: Architecture, change: Change, preset: str, seen: dict[Architecture, str]
) -> tuple[str | None, str | None]:
    """(label, None) of ``architecture`` with ``change`` applied, or (None, why not)."""
    try:
        moved = architecture.with_values({change.choice: change.after})
    except VariantError as error:
        return None, str(error)
    if moved not in seen:
        seen[moved] = _label(moved, preset)
    return seen[moved], None


def run_attribution(plan: RunPlan, attribution: AttributionDesign, run_dir: Path, control: RunControl) -> Results:
    """Measure every configuration of ``attribution`` with ``plan``'s load and bench (its targets
    are replaced), then confirm the minimal migration if it needs its own run."""
    targets = tuple(variant_target(label) for label in attribution.configurations)
    plan = replace(
        plan,
        targets=targets,
        baseline=attribution.baseline,
        candidates=tuple(t.label for t in targets[1:]),
        command="attribute",
    )
    results = run_comparison(plan, replace(control, run_dir=run_dir))
    records = _records(run_dir, results)
    seed = plan.load.seed
    decisions = verdicts(results, records, attribution.baseline, seed=seed)
    confirmation = None
    if results.complete:
        first = minimal_migration(decisions, attribution.baseline, attribution.target, attribution.changes)
        if first.status == "undetermined" and first.changes:  # the changes the target cannot lose, unconfirmed
            confirmation = _confirmation(plan, attribution, first.changes, decisions, run_dir, control)
    found = attribute(
        results,
        records,
        attribution.baseline,
        attribution.target,
        attribution.changes,
        confirmation=confirmation,
        decisions=decisions,
        seed=seed,
    )
    results = results.model_copy(update={"attribution": found})
    save_results(results, run_dir)
    write_report(results, run_dir, records)
    return results


def _confirmation(
    plan: RunPlan,
    attribution: AttributionDesign,
    tokens: list[str],
    decisions: dict[str, Decision],
    run_dir: Path,
    control: RunControl,
) -> Confirmation | None:
    """The verdict of B with exactly ``tokens`` (and what they need), measured by a second, short
    run unless the first measured it; None when no handler runs that configuration."""
    try:
        label, changes = confirmation_label(attribution, tokens)
    except VariantError:
        return None
    if label in decisions:
        return Confirmation(changes, decisions[label])
    confirm_dir = run_dir / "confirmation"
    confirmed = _confirm(plan, attribution, label, confirm_dir, control)
    records = _records(confirm_dir, confirmed)
    measured = verdicts(confirmed, records, attribution.baseline, services=[label], seed=plan.load.seed)
    return Confirmation(changes, measured[label])


def confirmation_label(attribution: AttributionDesign, tokens: list[str]) -> tuple[str, tuple[str, ...]]:
    """B with the changes ``tokens`` name, and those tokens. When no handler runs them alone, they
    take the changes the target cannot lose alone (not measured as T-c: e.g. the async handler
    aiohttp needs). Raises VariantError when that still is no configuration."""
    named = [c.token for c in attribution.changes if c.token in tokens]
    try:
        return _with_changes(attribution, named), tuple(named)
    except VariantError:
        widened = [c.token for c in attribution.changes if c.token in tokens or c.removed is None]
        if len(widened) == len(named):
            raise
        return _with_changes(attribution, widened), tuple(widened)


def _with_changes(attribution: AttributionDesign, tokens: list[str]) -> str:
    start = parse_variant(attribution.baseline)
    chosen = {c.token: c for c in attribution.changes}
    values = {}
    for token in tokens:
        choice = next(choice for choice in CHOICES if choice.env == chosen[token].setting)
        values[choice.name] = next(value for value in choice.values if str(value) == chosen[token].after)
    return _label(start.with_values(values), attribution.baseline)


def _confirm(plan: RunPlan, attribution: AttributionDesign, label: str, run_dir: Path, control: RunControl) -> Results:
    names = (attribution.baseline, attribution.target, label)
    targets = tuple(variant_target(name) for name in names)
    confirm = replace(plan, targets=targets, baseline=attribution.baseline, candidates=names[1:], echo=False)
    return run_comparison(confirm, replace(control, run_dir=run_dir))


def _records(run_dir: Path, results: Results) -> pd.DataFrame:
    records = load_run_records(run_dir, results.records_file)
    return records if records is not None else pd.DataFrame()
