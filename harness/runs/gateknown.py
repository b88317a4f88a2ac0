"""The gate's known answers: real code changes, measured beside their base revision, then gated.

One run measures the base revision (``HEAD``, from a git worktree) beside one copy of it per case,
each a second worktree of the same revision with the case's patch applied to ``optimized/app.py``
(a copy, so the working tree is never touched), interleaved as the pull-request job of
``.github/workflows/perf-gate.yml`` interleaves its two. Each case is then the job's run: the
base and that copy alone (:func:`case_view`, saved as ``gate-<case>/``), and ``harness gate`` on
it under ``criteria-ci.toml``:

* **unchanged**: the copy as it is                          -> PASS
* **cpu**: each answered message burns more CPU             -> FAIL on CPU per request
* **latency**: each answer waits longer before it is sent   -> FAIL on p95, at a level where
  neither copy filled its CPUs

One run, not one per case: the base is measured once a trial instead of three times, and the
bench starts once. The sizes are the profile's. ``full`` uses the issue's: about 30 % more CPU
per request on optimized at 50 users, and 80 ms on its p95 of about 270 ms; their measured
false-alarm and detection rates are in docs/gate.md. ``short`` (``make test``) doubles both, so
that a busy CI runner cannot turn a right answer into a wrong one: it checks the machinery end to
end, the rates come from the full sizes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from ..analysis.conclude import pair_view
from ..analysis.criteria import load_criteria
from ..analysis.quiet import disturbance
from ..bench import BenchConfig
from ..bench.pinning import cpu_plan
from ..gate import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, GateResult, judge_run
from ..metrics import CPU_METRIC
from ..records import load_run_records
from ..results import LoadSettings, Results, VariantInfo
from .compare import save_view
from .plan import RunPlan
from .variants import VariantError, scratch_copy, variant_target

__all__ = [
    "ANCHOR",
    "GATE_CASES",
    "GATE_PROFILES",
    "GateAnswer",
    "GateCase",
    "GateProfile",
    "apply_patch",
    "case_label",
    "case_view",
    "gate_known_answers",
    "known_answers_plan",
    "judge_case",
]

CI_CRITERIA = "criteria-ci.toml"
PATCHED_FILE = Path("optimized") / "app.py"
# The line every patch wraps: optimized's webhook handler answering one delivery.
ANCHOR = "        return outcome_response(await request.app.state.handler.handle(envelope))\n"
_PATCHES = {
    "cpu": (
        "        import time\n\n"
        "        answer = outcome_response(await request.app.state.handler.handle(envelope))\n"
        "        spent = time.thread_time() + {size} / 1000  # the known answer's regression: CPU per message\n"
        "        while time.thread_time() < spent:\n"
        "            pass\n"
        "        return answer\n"
    ),
    "latency": (
        "        import asyncio\n\n"
        "        answer = outcome_response(await request.app.state.handler.handle(envelope))\n"
        "        await asyncio.sleep({size} / 1000)  # the known answer's regression: a wait per message\n"
        "        return answer\n"
    ),
}

Kind = Literal["unchanged", "cpu", "latency"]
Status = Literal["pass", "fail", "unusable"]


@dataclass(frozen=True)
class GateProfile:
    users: tuple[int, ...]
    step_duration_s: float
    warmup_s: float
    cpu_ms: float  # CPU burnt per answered message by the cpu case
    delay_ms: float  # wait added to every answer by the latency case
    trials: int = 2  # as the pull-request job: the second in the reverse order


GATE_PROFILES = {
    "short": GateProfile(users=(50,), step_duration_s=8, warmup_s=3, cpu_ms=1.7, delay_ms=160),
    # the pull-request job's run: --profile quick --users 50 --trials 2 --no-echo
    "full": GateProfile(users=(50,), step_duration_s=12, warmup_s=3, cpu_ms=0.85, delay_ms=80),
}


@dataclass(frozen=True)
class GateCase:
    name: str
    kind: Kind
    expected: str
    metric: str | None  # the side-by-side check that must fail; None: nothing may fail

    def change(self, profile: GateProfile) -> str:
        if self.kind == "cpu":
            return f"+{profile.cpu_ms:g} ms CPU per message"
        if self.kind == "latency":
            return f"+{profile.delay_ms:g} ms per answer"
        return "none"


GATE_CASES = (
    GateCase("gate: unchanged code", "unchanged", "PASS (exit 0): nothing fails", None),
    GateCase("gate: more CPU per message", "cpu", "FAIL (exit 1) on CPU per request", CPU_METRIC),
    GateCase("gate: a slower answer", "latency", "FAIL (exit 1) on p95 where neither filled its CPUs", "p95_ms"),
)


@dataclass(frozen=True)
class GateAnswer:
    """One case's outcome: what the gate said, and whether that is the known answer."""

    case: GateCase
    status: Status
    measured: str
    run_dir: Path
    exit_code: int | None = None
    disturbed: bool = False  # unusable because other work took the machine's CPUs: rerun when quiet


def apply_patch(source: Path, kind: Kind, size: float) -> None:
    """``kind``'s regression of ``size`` (ms) written into the copy at ``source``; raises
    VariantError when its handler no longer has the anchor line (the patch must follow the code)."""
    if kind == "unchanged":
        return
    path = source / PATCHED_FILE
    text = path.read_text(encoding="utf-8")
    if text.count(ANCHOR) != 1:
        raise VariantError(f"{PATCHED_FILE} no longer has the line the gate's known answers patch: {ANCHOR.strip()}")
    path.write_text(text.replace(ANCHOR, _PATCHES[kind].format(size=size)), encoding="utf-8")


def case_label(case: GateCase, service: str) -> str:
    """The case's copy in the run of every case (each is ``service`` in its own view)."""
    return f"{service}-{case.kind}"


def known_answers_plan(
    profile: GateProfile, service: str, revision: str, seed: int, profile_name: str = "short"
) -> RunPlan:
    """``service`` at ``revision`` (the base) beside one patched copy of it per case."""
    base_name = f"{service}@{revision}"
    base = variant_target(base_name)
    assert base.variant is not None
    changes = []
    for case in GATE_CASES:
        copy = scratch_copy(revision)
        apply_patch(copy.path, case.kind, profile.cpu_ms if case.kind == "cpu" else profile.delay_ms)
        variant = VariantInfo(summary=f"{service}, patched: {case.change(profile)}", choices=base.variant.choices)
        changes.append(dataclasses.replace(base, label=case_label(case, service), source=copy.path, variant=variant))
    return RunPlan(
        targets=(base, *changes),
        baseline=base_name,
        candidates=tuple(change.label for change in changes),
        profile=profile_name,
        load=LoadSettings(
            users=profile.users,
            step_duration_s=profile.step_duration_s,
            warmup_s=profile.warmup_s,
            trials=profile.trials,
            seed=seed,
        ),
        echo=False,
        criteria_file=_ci_criteria(),
        command="selftest",
        bench=BenchConfig(seed=seed, cpus=cpu_plan()),
    )


def case_view(results: Results, records: pd.DataFrame, label: str, service: str) -> tuple[Results, pd.DataFrame]:
    """The run of every case as the pull-request job's run of one: the base and the copy
    ``label`` alone, the copy named ``service`` (this change), concluded again on their own."""
    return pair_view(results, records, label, load_criteria(_ci_criteria()), named=service)


def judge_case(case: GateCase, results: Results | None, records: pd.DataFrame | None, run_dir: Path) -> GateAnswer:
    """The gate on one case's run, under the CI criteria, and whether it gave the known answer."""
    if results is None:
        return GateAnswer(case, "unusable", "the bench could not run (its logs are in the run directory)", run_dir)
    gate = judge_run(results, load_criteria(_ci_criteria()), records=records)
    failed = sorted({f"{c.name} at {c.load}" for c in gate.with_outcome("fail")})
    measured = f"{gate.status} (exit {gate.exit_code})" + (f": {'; '.join(failed)}" if failed else "")
    if gate.exit_code == EXIT_INCONCLUSIVE:
        found = [why for step in results.steps if (why := disturbance(step)) is not None]
        why = f"the machine was disturbed: {found[0]}" if found else "the run could not be judged"
        return GateAnswer(case, "unusable", f"{measured} - {why}", run_dir, gate.exit_code, disturbed=bool(found))
    return GateAnswer(case, "pass" if _expected(case, gate) else "fail", measured, run_dir, gate.exit_code)


def _expected(case: GateCase, gate: GateResult) -> bool:
    if case.metric is None:
        return gate.exit_code == EXIT_PASS
    caught = [c for c in gate.with_outcome("fail") if c.suite == "side by side" and c.metric == case.metric]
    return gate.exit_code == EXIT_FAIL and bool(caught)


RunCase = Callable[[str, str, RunPlan, Path], "Results | None"]
EXPECTED = "; ".join(f"{case.kind}: {case.expected}" for case in GATE_CASES)


def gate_known_answers(
    out: Path, run: RunCase, *, profile: str = "short", service: str = "optimized", seed: int = 1
) -> list[GateAnswer]:
    """One run of every case (``out/gate``), then each case's view judged by the gate.
    ``run(name, expected, plan, run_dir)`` runs the comparison (None: the bench could not run)."""
    case_dirs = {case.kind: out / f"gate-{case.kind}" for case in GATE_CASES}
    try:
        plan = known_answers_plan(GATE_PROFILES[profile], service, "HEAD", seed, profile)
    except VariantError as error:  # no git checkout, or the patch no longer applies
        return [GateAnswer(case, "unusable", str(error), case_dirs[case.kind]) for case in GATE_CASES]
    run_dir = out / "gate"
    results = run("gate: known answers", EXPECTED, plan, run_dir)
    records = None if results is None else load_run_records(run_dir, results.records_file)
    if results is None or records is None:
        return [judge_case(case, None, None, run_dir) for case in GATE_CASES]
    answers = []
    for case in GATE_CASES:
        view, mine = case_view(results, records, case_label(case, service), service)
        answers.append(judge_case(case, save_view(view, mine, case_dirs[case.kind]), mine, case_dirs[case.kind]))
    return answers


def _ci_criteria() -> Path:
    return Path(str(resources.files("harness").joinpath(CI_CRITERIA)))
