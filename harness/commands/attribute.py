"""Measure what each change between two variants earns: every change added alone to the
baseline and taken alone out of the target, interleaved in one run at each load level, with the
difference it makes to throughput, p95 and the service's CPU per request (bootstrap 95%
intervals), a waterfall from baseline to target, and the smallest set of changes that earns
MIGRATE against the baseline (the minimal migration, with its key ratio and interval; confirmed by
a run of it when it takes more than one change).

`harness attribute --from checklist --to optimized` prices what the checklist leaves out;
`--from original --to optimized` prices every change of the migration (17 configurations).
"""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from ..analysis.attribution import ratio_text
from ..metrics import ATTRIBUTED_METRICS, METRIC_LABELS, higher_is_better
from ..processes import ProcessFailed
from ..report.console import report_console
from ..report.firstscreen import attribution_line
from ..results import Attribution, ChangeEffect, Effect, Results
from ..rounding import estimate
from ..runs import RunControl, VariantError, default_run_dir
from ..runs.attribute import design, run_attribution
from ..terms import load_label
from ._runs import add_run_arguments, plan_from_args, print_results, variant_name

HELP = "measure what each change between two variants earns (and the minimal migration)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("attribution")
    group.add_argument(
        "--from",
        dest="baseline",
        type=variant_name,
        default="original",
        metavar="VARIANT",
        help="where the migration starts",
    )
    group.add_argument(
        "--to", dest="target", type=variant_name, default="optimized", metavar="VARIANT", help="where it ends"
    )
    group.add_argument(
        "--changes", default="", metavar="TOKEN,...", help="only these changes (default: every choice that differs)"
    )
    add_run_arguments(parser)
    parser.set_defaults(users=(50, 250))


def run(args: argparse.Namespace) -> int:
    console = report_console()
    only = tuple(token.strip() for token in args.changes.split(",") if token.strip())
    try:
        attribution = design(args.baseline, args.target, only)
    except VariantError as error:
        console.print(f"[red]{error}[/]")
        return 2
    plan = plan_from_args(args, (), baseline=None, candidates=(), command="attribute")
    console.print(
        f"[bold]harness attribute[/] {args.baseline} -> {args.target}: {len(attribution.changes)} changes, "
        f"{len(attribution.configurations)} configurations interleaved"
    )
    run_dir = args.out or default_run_dir()
    with console.status("attribution run") as status:

        def on_start(number: int, total: int, service: str, users: int, rate: float, trial: int) -> None:
            status.update(f"[{number}/{total}] {service} · {load_label(users, rate)} · trial {trial}")

        try:
            results = run_attribution(plan, attribution, run_dir, RunControl(run_dir, on_start))
        except (ProcessFailed, OSError, ConnectionError) as error:
            console.print(f"[red]the bench could not run: {error}[/]")
            return 2
    print_results(console, results, run_dir)
    console.print(attribution_table(results))
    if results.attribution is not None:
        for text, style in _minimal_lines(results.attribution):
            console.print(Text(text, style=style))
    return 0 if results.complete else 1


def _minimal_lines(attribution: Attribution) -> list[tuple[str, str]]:
    """The smallest migration with its deciding ratio and interval, in one line; the detail under
    it when none was found."""
    minimal, line = attribution.minimal, attribution_line(attribution)
    if minimal is None or line is None:
        return []
    if minimal.status in ("single_change", "confirmed") and minimal.evidence is not None:
        told = f"{minimal.label}: {minimal.verdict}, {ratio_text(minimal.evidence)}"
        return [(f"smallest migration: {' + '.join(minimal.changes)} ({told})", "bold")]
    return [(line, "bold"), (f"  {minimal.detail}", "")]


def _cell(effects: list[Effect], metric: str, users: int, rate: float) -> str:
    found = [e for e in effects if (e.metric, e.users, e.arrival_rate) == (metric, users, rate)]
    if not found or found[0].difference.value is None:
        return "-"
    d = found[0].difference
    better = "higher" if higher_is_better(metric) else "lower"
    mark = "" if found[0].significant else " (n.s.)"
    return f"{'+' if d.value >= 0 else ''}{estimate(d.value, d.ci_low, d.ci_high, 1, better)}{mark}"


def attribution_table(results: Results) -> Table:
    """Per change, level and metric: what it earns added alone and removed alone."""
    attribution = results.attribution
    table = Table(title="what each change earns: with - without [95% CI]; n.s. = not significant")
    for column in ("change", "level", "metric", "added alone", "removed alone"):
        table.add_column(column)
    if attribution is None:
        return table
    levels = sorted({(e.users, e.arrival_rate) for e in attribution.total})
    for change in attribution.changes:
        for users, rate in levels:
            for metric in ATTRIBUTED_METRICS:
                table.add_row(
                    _change_name(change),
                    load_label(users, rate),
                    METRIC_LABELS[metric],
                    _cell(change.added_effects, metric, users, rate) if change.added else "not alone",
                    _cell(change.removed_effects, metric, users, rate) if change.removed else "not alone",
                )
    for users, rate in levels:
        for metric in ATTRIBUTED_METRICS:
            table.add_row(
                "all (target - baseline)",
                load_label(users, rate),
                METRIC_LABELS[metric],
                _cell(attribution.total, metric, users, rate),
                "",
            )
    return table


def _change_name(change: ChangeEffect) -> str:
    return f"{change.token} ({change.setting}={change.after})"
