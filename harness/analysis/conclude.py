"""Concluding a run: from its steps and per-request records to everything a reader is given.

The summaries of every level, every criterion on every service, the ratios and the verdict of
each candidate against the baseline, the checklist's claims checked, the cost per message, and
the target-load answer of every service.
Every command's run ends here; ``harness report --criteria`` re-judges with :func:`rejudge`.
"""

from __future__ import annotations

import pandas as pd

from ..results import Results
from .claims import check_claims, cost_figures
from .criteria import Criteria, evaluate
from .decision import decide
from .levels import summarize
from .ratios import ratios
from .target import target_loads

__all__ = ["conclude", "pair_view", "rejudge"]


def conclude(results: Results, records: pd.DataFrame, criteria: Criteria, *, seed: int = 0) -> Results:
    """``results`` with its summaries, criteria, ratios, one decision per candidate, the claims
    and the costs computed from its steps and ``records``."""
    summaries = summarize(results.steps, records, seed)
    with_summaries = results.model_copy(update={"summaries": summaries})
    judged = evaluate(criteria, with_summaries)
    baseline = results.settings.baseline
    decisions = [
        decide(
            with_summaries,
            judged,
            ratios(summaries, records, candidate=candidate, baseline=baseline, seed=seed, steps=results.steps),
            candidate=candidate,
            baseline=baseline,
        )
        for candidate in results.settings.candidates
        if baseline is not None
    ]
    concluded = with_summaries.model_copy(update={"criteria": judged, "decisions": decisions})
    costed = concluded.model_copy(
        update={"claims": check_claims(concluded, records, seed), "costs": cost_figures(concluded, records, seed)}
    )
    return costed.model_copy(update={"targets": target_loads(costed)})


def rejudge(results: Results, criteria: Criteria) -> Results:
    """``results`` judged again under ``criteria``, from its stored figures and ratios (a finished
    run re-judged without its records)."""
    judged = evaluate(criteria, results)
    decisions = [
        decide(results, judged, decision.ratios, candidate=decision.candidate, baseline=decision.baseline)
        for decision in results.decisions
    ]
    return results.model_copy(update={"criteria": judged, "decisions": decisions})


def pair_view(
    results: Results, records: pd.DataFrame, candidate: str, criteria: Criteria, *, named: str | None = None
) -> tuple[Results, pd.DataFrame]:
    """``results`` as if its run had measured only its baseline and ``candidate`` (named
    ``named``), concluded again: a run of several copies beside one base (the self-test's, the
    gate's known answers) read as one two-service run per copy, each with its own verdict."""
    baseline, name = results.settings.baseline, named or candidate
    assert baseline is not None
    kept = {baseline, candidate}
    steps = [
        step.model_copy(update={"service": name}) if step.service == candidate else step
        for step in results.steps
        if step.service in kept
    ]
    variants = {label: info for label, info in results.settings.variants.items() if label in kept}
    settings = results.settings.model_copy(
        update={
            "services": [baseline, name],
            "variants": {name if label == candidate else label: info for label, info in variants.items()},
            "candidates": [name],
        }
    )
    mine = records[records["service"].isin(kept)]
    mine = mine.assign(service=mine["service"].astype(str).replace({candidate: name}))
    view = results.model_copy(update={"settings": settings, "steps": steps})
    return conclude(view, mine, criteria, seed=results.settings.load.seed), mine
