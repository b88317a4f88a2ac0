"""Check the harness itself on two comparisons whose answer is known, through the real compare
machinery: A/A (one service against an identical copy: no difference may be reported that the
verdict acts on, and the verdict must not be MIGRATE) and A/B (the copy under judgement talks to
a fake upstream 20 % slower: its p95 must be flagged significantly worse and the verdict must be
DO NOT MIGRATE), measured in one run of A beside both copies and judged each on its own view;
then (``--profile full``) the A/A run again without CPU pinning, for the isolation check: the
pinned A/A's p95 interval must be no wider than the unpinned one's. And known answers of the
verdict's rules, judged again on the A/B run with A (the faster copy) as the candidate, without
another run: under the checklist's 500-user criteria, which a light run cannot judge, MIGRATE with
a projected target load; under a criterion A fails on usable data, DO NOT MIGRATE.

The gate's known answers (``--part gate``, :mod:`harness.runs.gateknown`): one relative run of
HEAD's optimized from a git worktree beside three patched copies of it (unchanged, burning more
CPU per message, answering later); each copy with the base alone is gated under criteria-ci.toml:
PASS, FAIL on CPU per request, FAIL on p95.

Exit code 0 when every expectation holds, 1 when the harness gave a wrong answer, 2 when a run
could not be judged (stopped early, bench-bound, a copy broken; the reason is printed).
Wall times are in docs/measurements.md.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from ..report.console import report_console
from ..results import Results, load_results
from ..runs import RunPlan
from ..runs.gateknown import GATE_PROFILES
from ..runs.selftest import (
    EXIT_PASS,
    SELFTEST_PROFILES,
    SelftestConfig,
    SelftestReport,
    gate_selftest,
    run_selftest,
    selftest_table,
)
from ._runs import positive_ints, run_with_console, variant_name

HELP = "A/A and A/B runs, and known answers of the verdict, that must come out right: the harness checking itself"

PARTS = ("all", "verdict", "gate")
SUMMARY_FILE = "selftest.md"
REPORT_FILE = "selftest.json"  # the same, for programs: statuses and causes as codes
_STYLES = {"PASS": "green", "FAIL": "bold red", "UNUSABLE": "yellow", "INFO": "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=sorted(SELFTEST_PROFILES),
        default="short",
        help="short: one light level, 1 trial (about 3 min); full: two levels, 3 trials (about 24 min, estimated)",
    )
    parser.add_argument(
        "--variant",
        dest="service",
        type=variant_name,
        default="optimized",
        metavar="VARIANT",
        help="the variant both copies run",
    )
    parser.add_argument(
        "--users",
        type=positive_ints,
        default=None,
        metavar="N,N,...",
        help="closed-loop user levels (default: the profile's)",
    )
    parser.add_argument(
        "--part",
        choices=PARTS,
        default="all",
        help="verdict: the A/A, A/B (and, full profile, unpinned) runs and the verdict's known answers; gate: "
        "the gate's known answers (unchanged code, more CPU, a slower answer, each a patched copy beside "
        "HEAD); all: both",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the data, the load and the step order")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for the runs (pinned/, its views aa/ and ab/, full profile aa-unpinned/; gate/ and its views "
        "gate-<case>/), the criteria files and selftest.md "
        "(default reports/selftest-<UTC time>)",
    )


def run(args: argparse.Namespace) -> int:
    config = SelftestConfig(profile=args.profile, service=args.service, users=args.users, seed=args.seed)
    out = args.out or Path("reports") / datetime.now(UTC).strftime("selftest-%Y%m%dT%H%M%SZ")
    console = report_console()

    def run_one(name: str, expectation: str, plan: RunPlan, run_dir: Path) -> Results | None:
        console.rule(f"[bold]{name}[/] ({config.service}); expected: {expectation}")
        run_with_console(plan, run_dir, console)
        try:
            return load_results(run_dir)
        except (OSError, ValueError):
            return None  # the bench could not run; run_with_console said why

    report = SelftestReport()
    if args.part in ("verdict", "all"):
        report = run_selftest(config, out, run_one)
    if args.part in ("gate", "all"):
        gate = gate_selftest(config, out, run_one)
        report.checks += gate.checks
        report.problems += gate.problems
        report.run_dirs.update(gate.run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    console.print(_table(report))
    for problem in report.problems:
        console.print(f"could not judge: {problem.text}", style="yellow", markup=False)
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    (out / SUMMARY_FILE).write_text(_markdown(report, config), encoding="utf-8")
    (out / REPORT_FILE).write_text(json.dumps(_report_json(report), indent=2), encoding="utf-8")
    style = _STYLES[report.outcome]
    console.print(
        f"\n[{style}]Self-test {report.outcome}[/] (exit {report.exit_code}); runs in "
        + ", ".join(f"{name}: {path}" for name, path in report.run_dirs.items())
    )
    return report.exit_code


def _table(report: SelftestReport) -> Table:
    table = Table(
        title=f"harness self-test: {report.outcome}",
        caption="ratios are B / A with [95% CI] and Mann-Whitney p; margin: what the verdict acts on",
    )
    frame = selftest_table(report)
    for column in frame.columns:
        table.add_column(column, justify="left")
    for _, row in frame.iterrows():
        table.add_row(*(str(row[c]) for c in frame.columns), style=_STYLES.get(row["result"]))
    return table


def _report_json(report: SelftestReport) -> dict[str, object]:
    return {
        "outcome": report.outcome,
        "exit_code": report.exit_code,
        "checks": [
            {
                "run": c.scenario,
                "check": c.subject,
                "status": c.status,
                "causes": [str(cause) for cause in c.causes],
                "verdict": None if c.verdict is None else str(c.verdict),
                "measured": c.measured,
            }
            for c in report.checks
        ],
        "problems": [{"code": str(problem.code), "text": problem.text} for problem in report.problems],
        "runs": {name: str(path) for name, path in report.run_dirs.items()},
    }


def _markdown(report: SelftestReport, config: SelftestConfig) -> str:
    lines = [
        f"# harness self-test: {report.outcome}",
        "",
        f"Service {config.service}, profile {config.profile}, users {','.join(map(str, config.levels))}, "
        f"seed {config.seed}. Exit code {report.exit_code}"
        + (" (every expectation holds)." if report.exit_code == EXIT_PASS else ".")
        + (
            f" Gate known answers: optimized at {','.join(map(str, GATE_PROFILES[config.profile].users))} users "
            "beside HEAD, criteria-ci.toml."
            if any(check.scenario == "gate" for check in report.checks)
            else ""
        ),
        "",
        selftest_table(report).to_markdown(index=False),
        "",
    ]
    lines += [f"- could not judge: {problem.text}" for problem in report.problems]
    lines += [f"- note: {note}" for note in report.notes]
    lines += ["", "Runs: " + ", ".join(f"[{name}]({path.name}/summary.md)" for name, path in report.run_dirs.items())]
    return "\n".join(lines) + "\n"
