"""The run's two answers per candidate, read from the same fields the report reads (schema v3),
and worded by the report's own :mod:`harness.report.answers` (one wording everywhere).

The verdict (``Results.decisions``: :attr:`Decision.verdict` and its reasons' codes) says whether
the candidate is the better design, from what this machine measured; the target load
(``Results.targets``: :class:`TargetLoad` status and basis) says whether it holds the checklist's
500 users on its deployment, measured or projected. The gate shows both, one line per candidate,
and gates on neither: a CI run judges the change under review with its criteria, its delivery
audit and its regressions, and a candidate known to be worse (the checklist's design) must not
fail every build.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..report.answers import answers, target_clause
from ..results import Results
from ..terms import ReasonCode, TargetStatus, Verdict

__all__ = ["Answer", "run_answers"]


@dataclass(frozen=True)
class Answer:
    """One candidate's two answers (or, in a run without a verdict, one service's target load)."""

    service: str
    verdict: Verdict | None  # None: the run compared no candidate with a baseline
    codes: tuple[ReasonCode, ...]
    target: TargetStatus | None  # None: the run computed no target load for it
    basis: str | None  # "measured" or "projected"
    line: str


def run_answers(results: Results) -> tuple[Answer, ...]:
    """One answer per candidate; a run without candidates (``harness run``): one per service."""
    if results.decisions:
        told = {a.candidate: a.headline for a in answers(results)}
        return tuple(
            _answer(results, d.candidate, d.verdict, tuple(r.code for r in d.reasons), told[d.candidate])
            for d in results.decisions
        )
    return tuple(
        _answer(results, t.service, None, (), f"{t.service}: no verdict (no baseline in this run); {target_clause(t)}")
        for t in results.targets
    )


def _answer(
    results: Results, service: str, verdict: Verdict | None, codes: tuple[ReasonCode, ...], line: str
) -> Answer:
    target = results.target_for(service)
    return Answer(
        service=service,
        verdict=verdict,
        codes=codes,
        target=target.status if target else None,
        basis=target.basis if target else None,
        line=line,
    )
