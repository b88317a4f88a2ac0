"""The self-test: the harness judged on two comparisons whose right answer is known.

* **A/A** - one service against an identical copy of itself (same app, same settings, each on
  its own freshly seeded database, the same fake upstream latency). The harness must report no
  difference that its verdict acts on, and must not say MIGRATE.
* **A/A unpinned** - the A/A run again without CPU pinning (service and bench sharing every
  CPU). The isolation check: the pinned A/A's p95 interval must be no wider than this one's.
* **A/B** - the same pair, except that the copy under judgement (B) talks to a fake upstream
  20 % slower. The harness must flag B's p95 as significantly worse beyond the practical margin
  and refuse the migration by that rule.

A/A and A/B are one run: A beside its identical copy B and its copy with the slower upstream,
in one seeded order, so A is measured once for both; each is then judged on its own view of that
run (A and that copy alone, :func:`~harness.analysis.conclude.pair_view`, saved as ``aa/`` and
``ab/``). Both runs go through the real compare machinery
(:func:`~harness.runs.compare.run_comparison`), so the self-test vouches for the very code that
produces a verdict.

* **Known answers** of the verdict's rules, judged again on the measured A/B run with the roles
  swapped (A, whose upstream is faster, against B; no extra run): under the checklist's 500-user
  criteria, which a light run cannot judge, A must earn MIGRATE and get a projected target load;
  under a criterion A fails on usable data, it must get DO NOT MIGRATE (:data:`KNOWN_ANSWERS`).

Why the A/A check is "no significant difference *beyond the practical margin*": a per-request
test (Mann-Whitney over hundreds of requests) resolves differences far below 1 %, and two steps
of the same service on a shared machine do differ by that much (warm-up order, other processes):
the difference is real for those two steps but says nothing about the service. The verdict acts
only on differences beyond :data:`~harness.terms.PRACTICAL_MARGIN`, so that is the claim the
A/A run must never make; smaller "significant" ratios are shown and explained, not hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pandas as pd

from ..analysis.conclude import conclude, pair_view, rejudge
from ..analysis.criteria import load_criteria
from ..analysis.decision import acts_on, key_ratio
from ..analysis.quiet import (
    OTHER_WORK_LIMIT_SHARE,
    other_work_cores,
    other_work_limit,
)
from ..bench import BenchConfig
from ..bench.pinning import CpuPlan, cpu_plan
from ..metrics import (
    COMPARED_METRICS,
    CPU_METRIC,
    LATENCY_METRICS,
    METRIC_LABELS,
    PRACTICAL_MARGIN,
    RATIO_METRICS,
    SHORT_LABELS,
    VERDICT_METRICS,
    practical_margin,
)
from ..processes import ProcessFailed
from ..records import load_run_records
from ..results import LoadSettings, Ratio, Results
from ..rounding import P_FLOOR, estimate, number, p_value
from ..terms import (
    COMPONENT_LABELS,
    Direction,
    Outcome,
    ReasonCode,
    TargetStatus,
    Unusable,
    Verdict,
    load_label,
    outside_margin,
)
from .compare import RunControl, run_comparison, save_view
from .gateknown import gate_known_answers
from .plan import RunPlan
from .variants import variant_target

__all__ = [
    "A_A",
    "A_A_UNPINNED",
    "A_B",
    "BASELINE",
    "CANDIDATE",
    "CRITERIA_FILE",
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNUSABLE",
    "ISOLATION_STEAL_MARGIN_CORES",
    "ISOLATION_TOLERANCE",
    "KNOWN_ANSWERS",
    "Cause",
    "Problem",
    "OTHER_WORK_LIMIT_SHARE",
    "SELFTEST_PROFILES",
    "RUNS",
    "SLOWDOWN",
    "Check",
    "KnownAnswer",
    "SelftestCase",
    "SelftestConfig",
    "SelftestProfile",
    "SelftestReport",
    "SelftestRun",
    "isolation_checks",
    "judge",
    "known_answers",
    "other_work_cores",
    "other_work_limit",
    "run_quietly",
    "gate_selftest",
    "run_selftest",
    "selftest_plan",
    "selftest_table",
    "write_criteria",
]

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2
BASELINE, CANDIDATE = "A", "B"
SLOWDOWN = 1.2  # B's fake upstream in the A/B run: 20 % more Graph API and LLM latency
# The quiet-machine limits (outside work, host steal) are the verdict's own: analysis/quiet.py.

Status = Literal["pass", "fail", "unusable", "info"]


class Cause(StrEnum):
    """Why a run, or a level of it, could not be judged."""

    NO_RESULTS = "no_results"  # the bench could not run
    RUN_STOPPED = "run_stopped"
    COPY_BROKEN = "copy_broken"  # a copy lost replies or failed a criterion: the service, not the harness
    COPY_MISSING = "copy_missing"
    LEVEL_UNUSABLE = "level_unusable"  # bench-bound, too few requests...
    NOT_QUIET = "not_quiet"  # processes outside the bench took CPU during a step
    NO_USABLE_LEVEL = "no_usable_level"
    VERDICT_INCONCLUSIVE = "verdict_inconclusive"
    GATE_INCONCLUSIVE = "gate_inconclusive"  # a gate known answer's run could not be judged


@dataclass(frozen=True)
class Problem:
    """Why a run could not be judged: a code for logic, a sentence for people."""

    code: Cause
    text: str


@dataclass(frozen=True)
class SelftestProfile:
    users: tuple[int, ...]
    step_duration_s: float
    warmup_s: float
    trials: int
    isolation: bool  # the unpinned A/A run, and the isolation check on it


SELFTEST_PROFILES: dict[str, SelftestProfile] = {
    # `make test`: one light level, one trial per copy. Light on purpose, so no bench guard has a
    # reason to fire; its measured A/A and A/B ratios are in docs/measurements.md. No isolation
    # check: one trial's interval width moves more from run to run than pinning moves it (the
    # spread is in docs/measurements.md), so it would fail at random.
    "short": SelftestProfile(users=(20,), step_duration_s=12, warmup_s=3, trials=1, isolation=False),
    # Documented form: two levels, longer steps, three interleaved trials a copy, so intervals
    # come from trial-to-trial variation (wall times in docs/measurements.md).
    "full": SelftestProfile(users=(25, 50), step_duration_s=30, warmup_s=5, trials=3, isolation=True),
}


@dataclass(frozen=True)
class SelftestCase:
    name: str  # "A/A" | "A/B"
    directory: str  # the run directory under the self-test's out dir
    upstream_latency_factor: float  # B's fake upstream; A's is always 1
    expectation: str

    @property
    def identical(self) -> bool:
        """A and B are the same: no difference may be reported."""
        return self.upstream_latency_factor == 1.0

    @property
    def copy_label(self) -> str:
        """B's label in the run it shares with other cases (B again in its own view)."""
        return CANDIDATE if self.identical else f"{CANDIDATE}-slower"


A_A = SelftestCase("A/A", "aa", 1.0, "no difference the verdict acts on; not MIGRATE")
A_B = SelftestCase(
    "A/B",
    "ab",
    SLOWDOWN,
    f"B (upstream {SLOWDOWN - 1:.0%} slower) significantly worse on p95; DO NOT MIGRATE",
)
A_A_UNPINNED = SelftestCase(
    "A/A unpinned",
    "aa-unpinned",
    1.0,
    "as A/A, with the services and the bench sharing every CPU",
)


@dataclass(frozen=True)
class SelftestRun:
    """One run: A beside one copy per case (its directory is the case's when it has one case)."""

    name: str
    directory: str
    cases: tuple[SelftestCase, ...]
    pinned: bool = True  # the services on CPUs of their own (when the machine can pin)

    @property
    def expectation(self) -> str:
        return "; ".join(f"{case.name}: {case.expectation}" for case in self.cases)


RUNS = (
    SelftestRun("A/A and A/B", "pinned", (A_A, A_B)),
    SelftestRun(A_A_UNPINNED.name, A_A_UNPINNED.directory, (A_A_UNPINNED,), pinned=False),
)
# The isolation check allows the pinned interval this much over the unpinned one's width: about
# the bootstrap's own resampling noise on a width of 1000 resamples (docs/measurements.md).
ISOLATION_TOLERANCE = 0.05
# The two A/A runs are minutes apart, and the host's steal moves an interval's width more than
# pinning does (docs/measurements.md): the widths are compared only when the pinned run lost no
# more than this many cores more.
ISOLATION_STEAL_MARGIN_CORES = 0.05


@dataclass(frozen=True)
class SelftestConfig:
    profile: str = "short"
    service: str = "optimized"
    users: tuple[int, ...] | None = None  # None: the profile's
    seed: int = 1

    @property
    def levels(self) -> tuple[int, ...]:
        return self.users or SELFTEST_PROFILES[self.profile].users


@dataclass(frozen=True)
class Check:
    """One line of the self-test's verdict: what was expected, what was measured, and the result."""

    scenario: str
    subject: str
    expected: str
    measured: str  # for people
    status: Status
    ratio: Ratio | None = None  # what the check read, for logic and tests
    verdict: Verdict | None = None
    causes: tuple[Cause, ...] = ()  # an unusable level: why


@dataclass
class SelftestReport:
    checks: list[Check] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # why a run could not be judged
    notes: list[str] = field(default_factory=list)
    run_dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        # A wrong answer on usable data outranks an unusable run: the harness is at fault.
        if any(check.status == "fail" for check in self.checks):
            return EXIT_FAIL
        if self.problems or not any(check.status == "pass" for check in self.checks):
            return EXIT_UNUSABLE
        return EXIT_PASS

    @property
    def outcome(self) -> str:
        return {EXIT_PASS: "PASS", EXIT_FAIL: "FAIL", EXIT_UNUSABLE: "UNUSABLE"}[self.exit_code]


# -- the plans ----------------------------------------------------------------------------------
CRITERIA_FILE = "selftest-criteria.toml"
_CRITERIA = """\
# The self-test's criteria: only that both copies work. The shipped criteria (500 rps at 500
# users, connection caps...) judge a service, not the harness, and would leave a light run
# INCONCLUSIVE for reasons that have nothing to do with what the self-test checks.
[[criterion]]
name = "success rate above 99 %"
metric = "success_rate"
op = ">"
threshold = 0.99
"""


def write_criteria(directory: Path) -> Path:
    """The self-test's criteria file, written beside its runs (so the runs say what judged them)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CRITERIA_FILE
    path.write_text(_CRITERIA, encoding="utf-8")
    return path


@dataclass(frozen=True)
class KnownAnswer:
    """A rule of the verdict with a known answer, judged on the measured A/B run with the roles
    swapped (A against B: A's upstream is faster), under criteria of its own."""

    name: str
    file: str  # its criteria file, written beside the runs
    criteria: str
    expected: str
    verdict: Verdict


# B's upstream 20 % slower puts A's p95 below B's by more than the margin (the A/B ratios:
# docs/measurements.md): the A/B check and the first case read the same difference from both sides.
KNOWN_TARGET = KnownAnswer(
    "A/B swapped: better here, target elsewhere",
    "selftest-target-criteria.toml",
    _CRITERIA
    + """
# The checklist's final load test, which a light run cannot judge: the target-load answer's.
[[criterion]]
name = "p95 under 2 s at 500 users"
metric = "p95_ms"
op = "<"
threshold = 2000
at_users = 500

[[criterion]]
name = "500 rps at 500 users"
metric = "throughput_rps"
op = ">="
threshold = 500
at_users = 500
""",
    f"{Verdict.MIGRATE}; the 500-user criteria go to the target load, projected (fits or exceeds)",
    Verdict.MIGRATE,
)
KNOWN_CRITERION = KnownAnswer(
    "A/B swapped: better here, fails a criterion",
    "selftest-failing-criteria.toml",
    _CRITERIA
    + """
# No service that calls an upstream answers this fast: A fails it on usable data.
[[criterion]]
name = "p95 under 1 ms"
metric = "p95_ms"
op = "<"
threshold = 1
services = ["A"]
""",
    f"{Verdict.DO_NOT_MIGRATE} by the criterion A fails, though A is faster",
    Verdict.DO_NOT_MIGRATE,
)
KNOWN_ANSWERS = (KNOWN_TARGET, KNOWN_CRITERION)


def selftest_plan(run: SelftestRun, config: SelftestConfig, criteria_file: Path) -> RunPlan:
    """A comparison of ``config.service``: A as it is, beside one copy per case (B, or B with the
    case's slower upstream)."""
    profile = SELFTEST_PROFILES[config.profile]
    copies = tuple(
        variant_target(config.service, label=case.copy_label, upstream_latency_factor=case.upstream_latency_factor)
        for case in run.cases
    )
    return RunPlan(
        targets=(variant_target(config.service, label=BASELINE), *copies),
        baseline=BASELINE,
        candidates=tuple(copy.label for copy in copies),
        profile=config.profile,
        load=LoadSettings(
            users=config.levels,
            step_duration_s=profile.step_duration_s,
            warmup_s=profile.warmup_s,
            trials=profile.trials,
            seed=config.seed,
        ),
        echo=False,  # the machine's ceiling is not what is tested here
        criteria_file=criteria_file,
        command="selftest",
        bench=BenchConfig(
            seed=config.seed,
            cpus=cpu_plan() if run.pinned else CpuPlan(reason="off for the self-test's isolation check"),
        ),
    )


# -- judging ------------------------------------------------------------------------------------
_Level = tuple[int, float]


def judge(scenario: SelftestCase, results: Results | None) -> tuple[list[Check], list[Problem]]:
    """The checks of one run, and the reasons it could not be judged (empty when it could)."""
    if results is None or results.decision is None:
        text = f"{scenario.name}: the run left no results or no decision (see its logs)"
        return [], [Problem(Cause.NO_RESULTS, text)]
    problems = [Problem(problem.code, f"{scenario.name}: {problem.text}") for problem in _broken(results)]
    if problems:
        return [], problems
    checks: list[Check] = []
    judged: set[_Level] = set()
    for users, arrival_rate in dict.fromkeys((s.users, s.arrival_rate) for s in results.summaries):
        level = load_label(users, arrival_rate)
        ratios = {r.metric: r for r in results.decision.ratios if (r.users, r.arrival_rate) == (users, arrival_rate)}
        unusable = _level_problems(results, users, arrival_rate)
        if unusable:
            checks += _unusable_level(scenario.name, level, unusable, ratios)
            continue
        judge_level = _judge_aa_level if scenario.identical else _judge_ab_level
        judged.add((users, arrival_rate))
        checks += judge_level(scenario.name, level, ratios)
    if not judged:
        return checks, [Problem(Cause.NO_USABLE_LEVEL, f"{scenario.name}: no load level was usable for both copies")]
    verdict = _judge_verdict(scenario, results, judged)
    if verdict.status == "unusable":
        problems += [
            Problem(_cause(reason.code), f"{scenario.name}: verdict {Verdict.INCONCLUSIVE}: {reason.text}")
            for reason in results.decision.reasons
        ]
    return [*checks, verdict], problems


def _unusable_level(scenario: str, level: str, problems: Sequence[Problem], ratios: dict[str, Ratio]) -> list[Check]:
    why = "; ".join(problem.text for problem in problems)
    causes = tuple(problem.code for problem in problems)
    checks = [Check(scenario, f"level {level}", "usable for both copies", why, "unusable", causes=causes)]
    if (p95 := ratios.get("p95_ms")) is not None:  # shown, but not evidence
        checks.append(_info(scenario, f"p95 ratio B/A at {level}", "(level not usable: not judged)", p95))
    return checks


def _broken(results: Results) -> list[Problem]:
    """Why a run says nothing about the harness: it stopped early, or a copy did not work."""
    problems = []
    if not results.complete:
        text = f"the run stopped early: {results.incomplete_reason or 'no reason recorded'}"
        problems.append(Problem(Cause.RUN_STOPPED, text))
    for step in results.steps:
        if step.audit is not None and not step.audit.passed:
            problems.append(
                Problem(
                    Cause.COPY_BROKEN,
                    f"{step.service} at {load_label(step.users, step.arrival_rate)} failed its delivery audit "
                    f"({step.audit.lost} lost, {step.audit.doubled} doubled): the service is broken, not the harness",
                )
            )
    for criterion in results.criteria:  # one not judged shows as an unusable level
        if criterion.outcome is Outcome.FAIL:
            text = f"{criterion.service} fails criterion '{criterion.criterion}': {criterion.detail}"
            problems.append(Problem(Cause.COPY_BROKEN, text))
    return problems


def _level_problems(results: Results, users: int, arrival_rate: float) -> list[Problem]:
    """Why a level cannot be judged: a copy missing or unusable. A copy the analysis set aside
    only because the machine was disturbed (:mod:`..analysis.quiet`, the verdict's own rule) is
    the machine's problem, not the harness's."""
    at_level = [s for s in results.summaries if (s.users, s.arrival_rate) == (users, arrival_rate)]
    summaries = {s.service: s for s in at_level}
    problems = []
    for copy in (BASELINE, CANDIDATE):
        summary = summaries.get(copy)
        if summary is None:
            problems.append(Problem(Cause.COPY_MISSING, f"{copy} did not run"))
        elif not summary.usable:
            causes = ", ".join(issue.detail for issue in summary.unusable)
            disturbed = all(issue.code is Unusable.DISTURBED for issue in summary.unusable)
            code = Cause.NOT_QUIET if disturbed else Cause.LEVEL_UNUSABLE
            rerun = "; rerun when it is quiet" if disturbed else ""
            problems.append(Problem(code, f"{copy} not usable ({causes}){rerun}"))
    return problems


def _cause(code: ReasonCode) -> Cause:
    """Why an INCONCLUSIVE verdict leaves a case unjudged: a disturbed machine, or the run."""
    return Cause.NOT_QUIET if code is ReasonCode.MACHINE_DISTURBED else Cause.VERDICT_INCONCLUSIVE


def _acted_on(ratio: Ratio) -> bool:
    """A difference the verdict would act on, either way (an A/A run must show none)."""
    return acts_on(ratio, Direction.BETTER) or acts_on(ratio, Direction.WORSE)


def _judge_aa_level(scenario: str, level: str, ratios: dict[str, Ratio]) -> list[Check]:
    checks = []
    for metric in VERDICT_METRICS:
        ratio = ratios.get(metric)
        if ratio is None and metric not in RATIO_METRICS:  # CPU per request: only where CPU was sampled
            continue
        expected = f"no significant difference beyond +-{practical_margin(metric):.0%}"
        subject = f"{_name(metric)} ratio B/A at {level}"
        if ratio is None or ratio.value.value is None:
            checks.append(Check(scenario, subject, expected, "not computed", "unusable"))
        elif ratio.placement_cost:  # unpinned: the verdict does not read it, so neither does this check
            expected = "(not used by the verdict: the services shared CPUs with the bench)"
            checks.append(_info(scenario, subject, expected, ratio))
        else:
            status: Status = "fail" if _acted_on(ratio) else "pass"
            checks.append(Check(scenario, subject, expected, _measured(ratio), status, ratio=ratio))
    for metric in (m for m in COMPARED_METRICS if m not in VERDICT_METRICS):
        if (ratio := ratios.get(metric)) is not None:
            checks.append(_info(scenario, f"{_name(metric)} ratio B/A at {level}", "(not used by the verdict)", ratio))
    return checks


def _judge_ab_level(scenario: str, level: str, ratios: dict[str, Ratio]) -> list[Check]:
    p95 = ratios.get("p95_ms")
    subject = f"p95 ratio B/A at {level}"
    expected = f"significant and > {1 + PRACTICAL_MARGIN:g}"
    if p95 is None or p95.value.value is None:
        checks = [Check(scenario, subject, expected, "not computed", "unusable")]
    elif not p95.is_evidence:
        why = f"{_measured(p95)}; both copies filled their CPUs: the verdict reads throughput only here"
        checks = [Check(scenario, subject, expected, why, "unusable", ratio=p95)]
    else:
        worse = acts_on(p95, Direction.WORSE)
        checks = [Check(scenario, subject, expected, _measured(p95), "pass" if worse else "fail", ratio=p95)]
    for metric in (m for m in COMPARED_METRICS if m != "p95_ms"):  # every ratio but the one judged
        if (ratio := ratios.get(metric)) is not None:
            subject = f"{_name(metric)} ratio B/A at {level}"
            checks.append(_info(scenario, subject, "(informative)", ratio))
    return checks


def _judge_verdict(scenario: SelftestCase, results: Results, judged: set[_Level]) -> Check:
    """The verdict, read on the levels the self-test judged: which rule it rests on matters."""
    decision = results.decision
    assert decision is not None
    acted_on = [r for r in decision.ratios if (r.users, r.arrival_rate) in judged and _acted_on(r)]
    worse_p95 = [r for r in acted_on if r.metric == "p95_ms" and acts_on(r, Direction.WORSE)]
    basis = (
        "B significantly worse on p95"
        if worse_p95
        else "a difference beyond the margin"
        if acted_on
        else "no difference beyond the margin"
    )
    if scenario.identical:
        expected = f"not {Verdict.MIGRATE}; no difference acted on"
        passed = decision.verdict != Verdict.MIGRATE and not acted_on
    else:
        expected = f"{Verdict.DO_NOT_MIGRATE} (B significantly worse)"
        passed = decision.verdict == Verdict.DO_NOT_MIGRATE and bool(worse_p95)
    if decision.verdict == Verdict.INCONCLUSIVE and not acted_on:
        return Check(
            scenario.name,
            "verdict",
            expected,
            f"{Verdict.INCONCLUSIVE}: see the reasons",
            "unusable",
            verdict=decision.verdict,
        )
    measured = f"{decision.verdict} ({basis})"
    return Check(scenario.name, "verdict", expected, measured, "pass" if passed else "fail", verdict=decision.verdict)


def isolation_checks(pinned: Results | None, unpinned: Results | None) -> list[Check]:
    """Per level judged in both A/A runs: the pinned p95 interval no wider than the unpinned one."""
    if pinned is None or unpinned is None or pinned.decision is None or unpinned.decision is None:
        return []  # the runs' own problems say why
    name = "isolation"
    if not pinned.settings.bench.service_cpus:
        return [Check(name, "pinning", "the services on CPUs of their own", pinned.settings.bench.pinning, "info")]
    checks = []
    widths = {key: _p95_widths(run) for key, run in (("pinned", pinned), ("unpinned", unpinned))}
    expected = f"pinned no wider than unpinned (+{ISOLATION_TOLERANCE:.0%}, the bootstrap's own noise)"
    for level in widths["pinned"].keys() & widths["unpinned"].keys():
        narrow, wide = widths["pinned"][level], widths["unpinned"][level]
        subject = f"A/A p95 interval at {load_label(*level)}"
        measured = f"pinned {narrow:.4f} wide, unpinned {wide:.4f} ({narrow / wide:.2f}x)" if wide else "-"
        stolen = {key: _most_stolen(run, level) for key, run in (("pinned", pinned), ("unpinned", unpinned))}
        # A width is the noisiest figure the self-test reads: with more steal in the pinned run than
        # in the unpinned one, the comparison would measure the host. (A level with steal past the
        # quiet-machine limit is not usable, so it has no width.)
        if stolen["pinned"] > stolen["unpinned"] + ISOLATION_STEAL_MARGIN_CORES:
            why = (
                f"{measured}; not compared: the host took up to {stolen['pinned']:.2f} cores during the pinned run, "
                f"{stolen['unpinned']:.2f} during the unpinned one (more than {ISOLATION_STEAL_MARGIN_CORES} apart; "
                "the widths would measure the host)"
            )
            checks.append(Check(name, subject, expected, why, "unusable", causes=(Cause.NOT_QUIET,)))
            continue
        status: Status = "pass" if narrow <= wide * (1 + ISOLATION_TOLERANCE) else "fail"
        checks.append(Check(name, subject, expected, measured, status))
    return checks


def _most_stolen(results: Results, level: _Level) -> float:
    """The most steal (cores) any step of the level recorded; 0 where none was counted."""
    return max(
        (
            step.cpu_load.steal_cores or 0.0
            for step in results.steps
            if (step.users, step.arrival_rate) == level and step.cpu_load is not None
        ),
        default=0.0,
    )


def _p95_widths(results: Results) -> dict[_Level, float]:
    """The width of the A/A p95 ratio's interval at each level usable for both copies (steal
    aside: :func:`isolation_checks` says where it stops a comparison)."""
    assert results.decision is not None
    usable = {(s.users, s.arrival_rate) for s in results.summaries if s.usable}
    return {
        (r.users, r.arrival_rate): r.value.ci_high - r.value.ci_low
        for r in results.decision.ratios
        if r.metric == "p95_ms"
        and (r.users, r.arrival_rate) in usable
        and not _level_problems(results, r.users, r.arrival_rate)
        and r.value.ci_low is not None
        and r.value.ci_high is not None
    }


def _info(scenario: str, subject: str, expected: str, ratio: Ratio) -> Check:
    return Check(scenario, subject, expected, _measured(ratio), "info", ratio=ratio)


def _name(metric: str) -> str:
    """ "p95", "throughput", "CPU per request": a percentile by its short name, the rest in words."""
    return SHORT_LABELS[metric] if metric in LATENCY_METRICS else METRIC_LABELS[metric]


def _measured(ratio: Ratio) -> str:
    value = ratio.value
    text = estimate(value.value, value.ci_low, value.ci_high, 4, "lower")
    if ratio.p_value is not None:
        p = p_value(ratio.p_value)
        text += f", p {p}" if ratio.p_value < P_FLOOR else f", p = {p}"
    if not ratio.significant:
        return text + "; not significant"
    inside = value.value is not None and not outside_margin(ratio.metric, value.value)
    return text + ("; significant, inside the margin" if inside else "; significant")


def _notes(scenario: SelftestCase, results: Results | None) -> list[str]:
    if results is None:
        return []
    notes = []
    ratios = results.decision.ratios if results.decision is not None else []
    sub_margin = [
        r
        for r in ratios
        if r.metric in VERDICT_METRICS and r.significant and not outside_margin(r.metric, r.value.value)
    ]
    if scenario.identical and sub_margin:
        notes.append(
            "A/A: the per-request test calls a sub-margin difference between two identical copies "
            "significant. It is real for those two steps (start-up order, other work on the "
            "machine) but not a property of the service: the verdict ignores differences inside "
            f"+-{PRACTICAL_MARGIN:.0%} (CPU per request +-{practical_margin(CPU_METRIC):.0%}), and the A/A run "
            "checks that no larger one is reported."
        )
    other = [(cores, step) for step in results.steps if (cores := other_work_cores(step)) is not None]
    busiest = max(other, default=None, key=lambda pair: pair[0])
    if busiest is not None and busiest[0] > other_work_limit(results) / 2:
        cores, step = busiest
        bench = ", ".join(
            f"{COMPONENT_LABELS.get(name, name)} {usage.cpu_cores_mean:.2f}" for name, usage in step.components.items()
        )
        notes.append(
            f"{scenario.name}: processes outside the bench took up to {cores:.2f} cores during a step "
            f"({step.service} at {load_label(step.users, step.arrival_rate)}, trial {step.trial}; "
            f"the bench's own parts: {bench})"
        )
    return notes


# -- the known answers --------------------------------------------------------------------------
KNOWN = "known answer"
# An INCONCLUSIVE verdict for these reasons is the run's, not a wrong answer: the case is unusable.
_RUN_CAUSES = frozenset(
    {
        ReasonCode.MACHINE_DISTURBED,
        ReasonCode.NO_COMPARABLE_LEVEL,
        ReasonCode.RUN_INCOMPLETE,
        ReasonCode.BASELINE_AUDIT_FAILED,
        ReasonCode.NOT_AUDITED,
    }
)


def known_answers(ab: Results, records: pd.DataFrame | None, directory: Path) -> tuple[list[Check], list[Problem]]:
    """The :data:`KNOWN_ANSWERS`, on the A/B run (one the self-test could judge) with A as the
    candidate against B, each under its criteria file written to ``directory``: one conclusion
    from the run's records, then the other criteria judged again on it (no extra run)."""
    if records is None:
        text = f"{KNOWN}: the A/B run left no per-request records to judge A against B again"
        checks = [Check(KNOWN, case.name, case.expected, "no records", "unusable") for case in KNOWN_ANSWERS]
        return checks, [Problem(Cause.NO_RESULTS, text)]
    settings = ab.settings.model_copy(update={"baseline": CANDIDATE, "candidates": [BASELINE]})
    swapped = ab.model_copy(update={"settings": settings})
    checks, problems = [], []
    judged: Results | None = None
    for case in KNOWN_ANSWERS:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / case.file
        path.write_text(case.criteria, encoding="utf-8")
        criteria = load_criteria(path)
        judged = conclude(swapped, records, criteria) if judged is None else rejudge(judged, criteria)
        check = _known_check(case, judged)
        checks.append(check)
        if check.status == "unusable":
            assert judged.decision is not None
            problems += [
                Problem(_cause(reason.code), f"{case.name}: {reason.text}")
                for reason in judged.decision.reasons
                if reason.code in _RUN_CAUSES
            ]
    return checks, problems


def _known_check(case: KnownAnswer, results: Results) -> Check:
    decision = results.decision
    assert decision is not None
    codes = {reason.code for reason in decision.reasons}
    better = [r for r in decision.ratios if acts_on(r, Direction.BETTER)]
    ratio = key_ratio(decision) or (better[0] if better else None)
    failed = [f"'{r.criterion}'" for r in decision.criteria if r.outcome is Outcome.FAIL]
    measured = str(decision.verdict) + (f" (fails {', '.join(sorted(set(failed)))})" if failed else "")
    if ratio is not None:
        measured += f"; {_name(ratio.metric)} A/B {_measured(ratio)}"
    if decision.verdict is Verdict.INCONCLUSIVE and codes & _RUN_CAUSES:
        return Check(KNOWN, case.name, case.expected, measured, "unusable", ratio=ratio, verdict=decision.verdict)
    if case.verdict is Verdict.MIGRATE:
        target = results.target_for(decision.candidate)
        if target is not None and target.basis == "measured":  # `--users 500`: not the case it checks
            return Check(KNOWN, case.name, case.expected, f"{measured}; the run measured the target load", "info")
        projected = (
            target is not None
            and target.basis == "projected"
            and target.status in (TargetStatus.FITS, TargetStatus.EXCEEDS)
        )
        if target is not None:
            cpus = target.service_cpus.value if target.service_cpus else None
            measured += f"; target {target.status} ({target.basis}, {number(cpus, 2, 'lower')} service CPUs)"
        passed = decision.verdict is Verdict.MIGRATE and ReasonCode.TARGET_ELSEWHERE in codes and projected
    else:
        passed = decision.verdict is Verdict.DO_NOT_MIGRATE and ReasonCode.CRITERION_FAILED in codes
    status: Status = "pass" if passed else "fail"
    return Check(KNOWN, case.name, case.expected, measured, status, ratio=ratio, verdict=decision.verdict)


# -- running ------------------------------------------------------------------------------------
RunOne = Callable[[str, str, RunPlan, Path], Results | None]  # (name, expectation, plan, run directory)


def run_quietly(name: str, expectation: str, plan: RunPlan, run_dir: Path) -> Results | None:
    """Run one comparison without a console (the notebook, tests); None when the bench could
    not start (every process it started has been stopped; its logs are in ``run_dir``)."""
    try:
        return run_comparison(plan, RunControl(run_dir))
    except (ProcessFailed, OSError, ConnectionError):
        return None


def run_selftest(config: SelftestConfig, out: Path, run: RunOne = run_quietly) -> SelftestReport:
    """The runs, one after the other (never at once: each would be the other's noise), each
    case judged on its view; the known answers on the A/B view when it could be judged.

    ``run(name, expectation, plan, run_dir)`` runs one comparison and returns its results (None
    when the bench could not run); the command passes one that shows progress on the console.
    """
    if config.profile not in SELFTEST_PROFILES:
        raise ValueError(f"unknown self-test profile {config.profile!r}; choose from {', '.join(SELFTEST_PROFILES)}")
    criteria = write_criteria(out)
    report = SelftestReport()
    measured: dict[str, Results | None] = {}
    profile = SELFTEST_PROFILES[config.profile]
    # The unpinned run is only there for the isolation check.
    for group in [group for group in RUNS if group.pinned or profile.isolation]:
        run_dir = out / group.directory
        results = run(group.name, group.expectation, selftest_plan(group, config, criteria), run_dir)
        records = None if results is None else load_run_records(run_dir, results.records_file)
        if len(group.cases) > 1:
            report.run_dirs[group.name] = run_dir
        for case in group.cases:
            view, view_records = _case_view(case, results, records, out, criteria)
            report.run_dirs[case.name] = out / case.directory
            measured[case.name] = view
            checks, problems = judge(case, view)
            report.checks += checks
            report.problems += problems
            report.notes += _notes(case, view)
            if case is A_B and view is not None and not problems:  # else its problems say why
                checks, problems = known_answers(view, view_records, out)
                report.checks += checks
                report.problems += problems
    if not profile.isolation:
        report.checks.append(_ISOLATION_NOT_MEASURED)
        return report
    isolation = isolation_checks(measured[A_A.name], measured[A_A_UNPINNED.name])
    report.checks += isolation
    report.problems += [
        Problem(Cause.NOT_QUIET, f"isolation: {check.measured}") for check in isolation if check.status == "unusable"
    ]
    return report


_ISOLATION_NOT_MEASURED = Check(
    "isolation",
    "A/A p95 interval, pinned against unpinned",
    "measured by `harness selftest --profile full`",
    "not measured: one trial's interval width moves more from run to run than pinning does",
    "info",
)


def _case_view(
    case: SelftestCase, results: Results | None, records: pd.DataFrame | None, out: Path, criteria: Path
) -> tuple[Results | None, pd.DataFrame | None]:
    """``case``'s run: A and its copy alone (B), written to the case's directory with a report of
    its own; the run itself when it measured nothing else."""
    if results is None or results.settings.candidates == [CANDIDATE]:
        return results, records
    if records is None:  # a shared run cannot be split without its records: judged as no results
        return None, None
    view, mine = pair_view(results, records, case.copy_label, load_criteria(criteria), named=CANDIDATE)
    return save_view(view, mine, out / case.directory, report=True), mine


def gate_selftest(config: SelftestConfig, out: Path, run: RunOne = run_quietly) -> SelftestReport:
    """The gate's known answers (:mod:`.gateknown`), as self-test checks."""
    report = SelftestReport()
    # Always optimized: the patches wrap its handler, whatever variant the verdict's part runs.
    for answer in gate_known_answers(out, run, profile=config.profile, seed=config.seed):
        report.run_dirs[answer.case.name] = answer.run_dir
        cause = Cause.NOT_QUIET if answer.disturbed else Cause.GATE_INCONCLUSIVE
        causes = (cause,) if answer.status == "unusable" else ()
        subject = answer.case.name.removeprefix("gate: ")
        check = Check("gate", subject, answer.case.expected, answer.measured, answer.status, causes=causes)
        report.checks.append(check)
        report.problems += [Problem(cause, f"{answer.case.name}: {answer.measured}") for _ in causes]
    return report


def selftest_table(report: SelftestReport) -> pd.DataFrame:
    """The checks as display strings: the console, ``selftest.md`` and tests read the same table."""
    return pd.DataFrame(
        [
            {
                "run": c.scenario,
                "check": c.subject,
                "expected": c.expected,
                "measured": c.measured,
                "result": c.status.upper(),
            }
            for c in report.checks
        ],
        columns=["run", "check", "expected", "measured", "result"],
    )
