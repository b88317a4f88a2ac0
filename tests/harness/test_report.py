"""The report files and `harness report`, on constructed runs (no server).

The report's logic is tested through what it builds (cards, matrices, plots) and the codes it
reads; the rendered pages are checked for their structure (a card, a matrix, embedded images),
never for the sentences the analysis wrote.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from harness.analysis import conclude
from harness.analysis.criteria import load_criteria
from harness.cli import main
from harness.commands._runs import print_results
from harness.metrics import HEADLINE_METRICS
from harness.report import PLOTS, SUMMARY_MAX_LINES, console_table, render_plots, write_report
from harness.report.answers import LINE_LIMIT, TOP_REASONS, answers, target_lines
from harness.report.console import CONSOLE_WIDTH, report_console
from harness.report.firstscreen import cards, claims_matrix
from harness.report.matrix import criteria_matrix
from harness.report.screenshot import CHROMIUM_VARIABLE, find_chromium, no_chromium_hint
from harness.report.tables import attribution_table, costs_table
from harness.report.timeline import fault_spans, per_second, timeline_figure
from harness.results import (
    Attribution,
    ChangeEffect,
    DecisionReason,
    Effect,
    Estimate,
    FaultResult,
    MinimalMigration,
    Results,
    UsabilityIssue,
    load_results,
    save_results,
)
from harness.rounding import estimate, number, percent
from harness.terms import Outcome, ReasonCode, TargetStatus, Unusable, Verdict
from tests.harness.test_decision import WIN, verdict_of
from tests.harness.test_figures import T0, WARMUP_S, clean_audit, make_records, make_run, make_step

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"

# The default compare's shape: the baseline, two candidates and the echo app; the top level is
# bench-bound for the baseline and the checklist (their generator saturated).
RICH = {
    "echo": {100: 5.0, 250: 6.0, 500: 8.0},
    "original": {100: 400.0, 250: 600.0, 500: 800.0},
    "checklist": {100: 380.0, 250: 590.0, 500: 790.0},
    "optimized": {100: 100.0, 250: 120.0, 500: 150.0},
}
RICH_REQUESTS = {100: 400, 250: 1500, 500: 5500}
BOUND = {("checklist", 500): 0.97, ("original", 500): 0.97}


def _effect(users: int, metric: str, value: float, low: float, high: float, significant: bool = True) -> Effect:
    return Effect(
        users=users,
        metric=metric,
        difference=Estimate(value=value, ci_low=low, ci_high=high),
        significant=significant,
    )


def attribution_of(users: int = 250) -> Attribution:
    """What `harness attribute` stores: the total, each change added alone, the minimal set."""
    total = [
        _effect(users, "throughput_rps", 40, 35, 45),
        _effect(users, "p95_ms", -500, -540, -460),
        _effect(users, "service_cpu_ms_per_request", -2.0, -2.3, -1.7),
    ]
    handler = ChangeEffect(
        token="async-handler",
        setting="HANDLER",
        before="sync",
        after="async",
        title="async handler",
        added="original+async-handler",
        removed="optimized-async-handler",
        added_effects=[
            _effect(users, "throughput_rps", 25, 20, 30),
            _effect(users, "p95_ms", -300, -340, -260),
            _effect(users, "service_cpu_ms_per_request", 0.2, -0.1, 0.5, significant=False),
        ],
    )
    cache = ChangeEffect(
        token="cache",
        setting="BUSINESS_CACHE",
        before="none",
        after="ttl",
        title="business cache",
        added="original+cache",
        removed=None,
        not_removed="not run",
        added_effects=[_effect(users, "p95_ms", -50, -80, -20)],
    )
    client = ChangeEffect(
        token="shared-client",
        setting="HTTP_CLIENT",
        before="per-call",
        after="shared",
        title="shared client",
        added=None,
        not_added="aiohttp under the sync handler",
        removed="optimized-shared-client",
    )
    minimal = MinimalMigration(
        status="confirmed", changes=["async-handler", "shared-client"], label="x", detail="passes every criterion"
    )
    return Attribution(
        baseline="original", target="optimized", total=total, changes=[handler, cache, client], minimal=minimal
    )


def rich_run() -> tuple[Results, object]:
    """Three services and the echo app at three levels, the top one bench-bound for two of them,
    with the claims, the costs and an attribution: every part of the first screen."""
    results, records = make_run(RICH, requests=RICH_REQUESTS, generator_cores=BOUND)
    settings = results.settings.model_copy(update={"baseline": "original", "candidates": ["checklist", "optimized"]})
    results = conclude(results.model_copy(update={"settings": settings}), records, load_criteria())
    return results.model_copy(update={"attribution": attribution_of()}), records


@pytest.fixture(scope="module")
def run():
    results, records = make_run(WIN, requests={100: 400, 500: 5500})
    return conclude(results, records, load_criteria()), records


@pytest.fixture(scope="module")
def rich():
    return rich_run()


@pytest.fixture
def no_browser(monkeypatch):
    monkeypatch.setenv(CHROMIUM_VARIABLE, "none")


@pytest.fixture(scope="module")
def written(tmp_path_factory, rich):
    """The rich run's report, written once (with its screenshot when a Chromium is installed)."""
    results, records = rich
    out = tmp_path_factory.mktemp("report")
    notes: list[str] = []
    paths = write_report(results, out, records, note=notes.append)
    return out, paths, notes


@pytest.fixture
def run_dir(tmp_path, run):
    results, records = run
    save_results(results, tmp_path)
    records.to_parquet(tmp_path / "requests.parquet")
    return tmp_path


# -- the files ---------------------------------------------------------------------------------------
def test_report_files_and_plots(written):
    out, paths, _ = written
    names = {path.name for path in paths}
    assert {"summary.md", "details.md", "report.html"} <= names
    # A comparison draws every plot but the capacity search's, which it did not run.
    assert {f"{spec.name}.png" for spec in PLOTS if not spec.per_level} - {"capacity.png"} <= names
    assert "capacity.png" not in names
    assert {"timeline_100users.png", "timeline_250users.png", "timeline_500users.png"} <= names
    assert all(path.is_file() and path.stat().st_size > 0 for path in paths)
    assert all(path.read_bytes()[:8] == PNG for path in paths if path.suffix == ".png")
    assert paths[0].name == "summary.md" and paths[1].name == "report.html"


def test_summary_is_a_short_pr_comment_with_links(written, rich):
    out, _, _ = written
    results, _ = rich
    summary = (out / "summary.md").read_text()
    lines = summary.splitlines()
    assert len(lines) < SUMMARY_MAX_LINES
    assert lines[0].startswith("# Migration benchmark test-run")
    for decision in results.decisions:
        assert f"## {decision.candidate} against {decision.baseline}: {decision.verdict}" in summary
    # The run's shape comes before any verdict: it bounds what the figures mean.
    assert summary.index("10 s steps after 2 s warm-up") < summary.index("## checklist against original")
    assert "## The checklist's claims" in summary and "[report.html](report.html)" in summary
    assert "[details.md](details.md)" in summary
    assert "Machine: bench-host, Linux-test, 2 CPUs (Test CPU)" in summary  # folded, but there
    # The two answers come first, worded as the console words them: every headline, every target line.
    first_card = summary.index("## checklist against original")
    for answer in answers(results):
        assert f"- **{answer.headline}**" in summary and summary.index(answer.headline) < first_card
        for reason in answer.reasons:
            assert f"- {reason}" in summary
    for line in target_lines(results):
        assert f"- {line.text}" in summary and summary.index(line.text) < first_card
    assert "Not decided yet" not in summary and "Migrate to" not in summary  # the old lead line is gone


def test_details_hold_every_table(written):
    out, _, _ = written
    details = (out / "details.md").read_text()
    machine = details.index("Machine: bench-host, Linux-test, 2 CPUs (Test CPU)")
    assert machine < details.index("## optimized against original: MIGRATE")
    for section in ("## Decision table", "## Criteria", "## Ratios", "## The checklist's claims", "## Attribution"):
        assert section in details
    assert "## Cost per message" in details
    assert "n/a (no cache)" in details and "95.00 %" in details  # original has no cache; optimized does
    assert "| PASS" in details and "![latency](plots/latency.png)" in details


def test_html_is_one_self_contained_file(written):
    out, _, _ = written
    html = (out / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) >= len([spec for spec in PLOTS if not spec.per_level and spec.name != "capacity"]) + 3
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :])[:8] == PNG
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched
    assert len(html.encode()) < 1_500_000


def test_html_reading_order(written, rich):
    out, _, _ = written
    results, _ = rich
    html = (out / "report.html").read_text()
    order = [
        'class="answers"',
        'id="target-load"',
        'class="card verdict-card',
        'id="claims"',
        'id="attribution"',
        'id="plots"',
        'id="over-time"',
        'class="matrix criteria-matrix"',
        "<h2>Decision table</h2>",
        'id="settings"',
    ]
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert html.count('class="card verdict-card') == len(results.decisions)
    for decision in results.decisions:
        assert f'data-candidate="{decision.candidate}" data-verdict="{decision.verdict}"' in html
    assert '<span class="verdict migrate">MIGRATE</span>' in html
    for answer in answers(results):  # a headline per candidate, saying what its card says
        assert f'data-candidate="{answer.candidate}" data-verdict="{answer.verdict}">{answer.headline}' in html.replace(
            "&#39;", "'"
        )
    assert html.count('class="target tone-') == len(results.targets)


def test_html_escapes_what_the_run_recorded(tmp_path, run, no_browser):
    results, _ = run
    step = results.steps[0].model_copy(update={"notes": ["<script>alert(1)</script>"]})
    write_report(results.model_copy(update={"steps": [step, *results.steps[1:]]}), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_without_records_omits_the_cdf_and_the_timelines(tmp_path, run, no_browser):
    results, _ = run
    names = {path.name for path in write_report(results, tmp_path)}
    assert "latency.png" in names
    assert "latency_cdf.png" not in names and not any(name.startswith("timeline") for name in names)
    assert "No per-request records" in (tmp_path / "report.html").read_text()


# -- the first screen ------------------------------------------------------------------------------
def test_cards_tell_the_answers_top_reasons_and_every_reason_in_full(rich):
    results, _ = rich
    by_candidate = {card.candidate: card for card in cards(results)}
    for answer in answers(results):
        card = by_candidate[answer.candidate]
        decision = results.decision_for(answer.candidate)
        assert card.verdict is decision.verdict is answer.verdict
        assert card.headline == answer.headline and card.reasons == answer.reasons
        assert card.full_reasons == tuple(r.text for r in decision.reasons)
        # the headline never contradicts the card: it leads with the card's verdict
        assert card.headline.startswith(f"{card.candidate}: {card.verdict} (")
    checklist = results.decision_for("checklist")
    assert checklist.verdict is Verdict.INCONCLUSIVE
    told = by_candidate["checklist"]
    assert told.next_steps == tuple(r.text for r in checklist.with_code(ReasonCode.TO_DECIDE))


def test_cards_show_every_level_and_compare_only_the_usable_ones(rich):
    results, _ = rich
    card = next(c for c in cards(results) if c.candidate == "optimized")
    assert [row.load for row in card.ratios] == ["100 users", "250 users", "500 users"]
    assert [row.load for row in card.not_compared] == ["500 users"]  # the baseline was bench-bound there
    for row in card.compared:
        assert len(row.cells) == len(HEADLINE_METRICS)
        p95, throughput = row.cells
        assert p95.tone == "good" and "[" in p95.text  # 4x faster, with its interval
        assert throughput.tone == "neutral"  # the closed loop caps throughput: same for both
    assert any(item.tone == "good" for item in card.trust)


def test_a_latency_ratio_where_both_filled_their_cpus_is_shown_as_not_compared(rich):
    results, _ = rich
    decision = results.decision_for("optimized")
    queued = [r.model_copy(update={"both_saturated": True}) for r in decision.ratios]
    marked = results.model_copy(update={"decisions": [decision.model_copy(update={"ratios": queued})]})
    card = cards(marked)[0]
    for row in card.compared:
        p95, throughput = row.cells
        assert (p95.tone, p95.note) == ("muted", "both saturated") and "[" in p95.text
        assert throughput.note != "both saturated"


def test_claims_matrix_has_a_row_per_claim_and_a_column_per_candidate(rich):
    results, _ = rich
    matrix = claims_matrix(results)
    assert matrix.candidates == ("checklist", "optimized")
    assert len(matrix.rows) == len({c.code for c in results.claims}) == 5
    tones = {"held": "good", "not_held": "bad", "cannot_judge": "warn"}
    for claim in results.claims:
        row = next(r for r in matrix.rows if r[0] == claim.claim)
        cell = row[2][matrix.candidates.index(claim.candidate)]
        assert cell is not None and cell.tone == tones[claim.outcome]


def test_criteria_matrix_puts_every_outcome_in_its_cell(rich):
    results, _ = rich
    matrix = criteria_matrix(results.criteria, results.settings.services)
    assert [row.criterion for row in matrix.rows] == list(dict.fromkeys(r.criterion for r in results.criteria))
    assert [service for service, _ in matrix.services] == ["original", "checklist", "optimized"]  # echo not judged
    for result in results.criteria:
        row = next(r for r in matrix.rows if r.criterion == result.criterion)
        level = "whole run" if result.users is None else f"{result.users} users"
        cell = row.cells[matrix.columns.index((result.service, level))]
        assert cell is not None and cell.outcome is result.outcome
    counts = matrix.counts()
    assert counts[Outcome.NOT_JUDGED] > 0 and counts[Outcome.PASS] > 0  # the bench-bound level is not judged


def test_html_matrix_cells_carry_their_outcome(written, rich):
    out, _, _ = written
    results, _ = rich
    html = (out / "report.html").read_text()
    for outcome in Outcome:
        assert html.count(f'data-outcome="{outcome}"') == sum(1 for r in results.criteria if r.outcome is outcome)
    assert "<summary>Every criterion, one row per service and level" in html  # the long list, folded


def test_attribution_waterfall_and_table(rich):
    results, records = rich
    first_screen = [spec for spec in PLOTS if spec.section == "first_screen"]
    assert [plot.name for plot in render_plots(results, records, first_screen)] == ["attribution"]
    table = attribution_table(results)
    changes = {row for row in table["change"] if not row.startswith("all:")}
    assert changes == {f"{c.title} ({c.token})" for c in results.attribution.changes}
    assert render_plots(results.model_copy(update={"attribution": None}), records, first_screen) == []


def test_costs_table_has_a_row_per_service_and_level(rich):
    results, _ = rich
    assert len(costs_table(results)) == len(results.costs) > 0


# -- the plots --------------------------------------------------------------------------------------
def test_the_plot_registry_names_each_plot_once():
    names = [spec.name for spec in PLOTS]
    assert len(names) == len(set(names))
    assert all(spec.title and callable(spec.draw) for spec in PLOTS)
    assert {spec.section for spec in PLOTS} == {"first_screen", "levels", "over_time"}


def test_plots_follow_the_registry_order(written):
    _, paths, _ = written
    rendered = [path.stem for path in paths if path.parent.name == "plots"]
    registry = [spec.name for spec in PLOTS]
    stems = [name.split("_")[0] if name.startswith("timeline") else name for name in rendered]
    assert [registry.index(stem) for stem in stems] == sorted(registry.index(stem) for stem in stems)


def test_per_second_series_show_a_stall_and_the_warm_up():
    latencies = np.full(400, 50.0)
    records = make_records("optimized", 50, latencies, warmup=40, seed=3)
    # A stall: nothing was sent between seconds 4 and 6 of the window.
    relative = records["t_start"] - T0
    records = records[~((relative >= 4) & (relative < 6))]
    step = make_step(records, service="optimized", users=50)
    series = per_second(step, records, WARMUP_S)
    assert series is not None
    assert series.x[0] == -WARMUP_S + 0.5 and series.x[-1] == 9.5
    stalled = (series.x > 4) & (series.x < 6)
    assert (series.answered[stalled] == 0).all() and (series.answered[~stalled & (series.x > 0)] > 0).all()
    assert (series.answered[series.x < 0] > 0).all()  # the warm-up is shown, not dropped
    assert np.isnan(series.p95_ms[stalled]).all() and (series.p95_ms[series.x > 6] == 50.0).all()


def test_over_time_rows_share_a_scale_that_fits_every_service(run):
    results, records = run
    # The baseline (drawn first) answers far fewer requests than the candidate at 500 users.
    sparse = records[(records["service"] != "original") | (records.index % 4 == 0)]
    figure = timeline_figure(results, sparse, (500, 0.0))
    assert figure is not None
    rows = [axes for axes in figure.axes if axes.get_ylabel() in results.settings.services]
    assert [axes.get_ylabel() for axes in rows] == ["original", "optimized"]
    for axes in rows:
        top = max(line.get_ydata().max() for line in axes.get_lines())
        assert axes.get_ylim()[0] == 0 and axes.get_ylim()[1] >= top


def test_faults_are_placed_on_the_step_window(run):
    results, _ = run
    step = next(s for s in results.steps if s.service == "optimized")
    lead = step.window_start - step.started_at.timestamp()  # the warm-up before the window
    fault = FaultResult(
        service="optimized",
        fault="db-outage",
        started_s=lead + 3.0,
        ended_s=lead + 5.0,
        errors_during=3,
        requests_during=40,
        recovery_s=1.0,
        ready_503_seen=True,
        ready_recovered=True,
        audit=clean_audit(40),
    )
    with_fault = results.model_copy(update={"faults": [fault]})
    assert fault_spans(with_fault, step) == [(3.0, 5.0)]
    assert fault_spans(with_fault, next(s for s in results.steps if s.service == "original")) == []
    # A fault that names its level marks that step only; one that does not, every step of its service.
    other = next(s for s in results.steps if s.service == "optimized" and s.users != step.users)
    assert fault_spans(with_fault, other) == [(3.0, 5.0)]
    placed = results.model_copy(update={"faults": [fault.model_copy(update={"users": step.users})]})
    assert fault_spans(placed, step) == [(3.0, 5.0)] and fault_spans(placed, other) == []


def test_fault_and_soak_sections_reach_both_documents(tmp_path, run, no_browser):
    results, records = run
    fault = FaultResult(
        service="optimized",
        fault="upstream-errors",
        started_s=5.0,
        ended_s=7.0,
        errors_during=3,
        requests_during=40,
        recovery_s=None,
        ready_503_seen=None,
        ready_recovered=None,
        audit=clean_audit(40),
    )
    write_report(results.model_copy(update={"faults": [fault]}), tmp_path, records)
    summary, html = (tmp_path / "summary.md").read_text(), (tmp_path / "report.html").read_text()
    assert "## Faults" in summary and "upstream-errors" in summary
    assert "<h2>Faults</h2>" in html and "n/a (no /ready)" in html


def test_numbers_are_rounded_against_the_service():
    assert number(812.34, 1, "lower") == "812.4"  # latency: up
    assert number(812.36, 1, "higher") == "812.3"  # throughput: down
    assert percent(0.99989, 2, "higher") == "99.98 %"  # success never rounds up to 99.99 %
    assert percent(0.000101, 2, "lower") == "0.02 %"
    assert estimate(1.0, 0.91234, 1.08761, 2) == "1.00 [0.91, 1.09]"  # interval outwards
    assert number(0.1 * 3, 1, "lower") == "0.3"  # float noise does not move a digit
    assert number(None) == "n/a"


def test_console_table_has_a_short_row_per_service_and_level(run):
    results, _ = run
    table = console_table(results)
    assert table.row_count == len(results.summaries) == 4
    assert [column.header for column in table.columns] == [
        "svc",
        "load",
        "p95 ms",
        "p99 ms",
        "rps",
        "err",
        "cache",
        "CPU ms",
        "bound",
        "audit",
        "usable",
    ]
    console = Console(record=True, width=CONSOLE_WIDTH, file=io.StringIO())
    console.print(table)
    text = console.export_text()
    assert "n/a" in text and "[" not in text  # no intervals: they are in details.md and the report


def _console_text(results: Results, width: int = CONSOLE_WIDTH) -> list[str]:
    console = Console(record=True, width=width, file=io.StringIO())
    print_results(console, results, Path("/runs/x"))
    return console.export_text().splitlines()


def test_the_console_puts_both_answers_first_and_fits_120_columns(rich):
    results, _ = rich
    lines = _console_text(results)
    assert max(len(line) for line in lines) <= CONSOLE_WIDTH
    header = next(i for i, line in enumerate(lines) if "svc" in line and "p95 ms" in line and "usable" in line)
    # The step table: one line per row, each naming its service and level once, in level order.
    caption = next(i for i, line in enumerate(lines) if line.startswith("dim rows are not usable"))
    rows = [line for line in lines[header + 2 : caption] if line.strip()]
    assert len(rows) == len(results.summaries)
    for summary in results.summaries:
        label = f"{summary.users} users"
        assert sum(1 for row in rows if row.split()[:3] == [summary.service, *label.split()]) == 1
    # Every headline, its reasons and every target line come before the table, within 40 lines.
    for answer in answers(results):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{answer.candidate}: {answer.verdict} ("))
        assert start < min(header, 40)
        for reason in answer.reasons:
            assert any(line.strip() == f"- {reason}" for line in lines[start:header])
    for line in target_lines(results):
        at = next(i for i, text in enumerate(lines) if text.startswith(f"{line.label}: "))
        assert at < min(header, 40)
    assert lines[-2:] == ["Report: /runs/x/report.html", "Summary: /runs/x/summary.md"]


def test_a_ci_log_gets_the_120_column_console():
    assert report_console().width == CONSOLE_WIDTH  # pytest captures stdout: not a terminal


# -- the answers ------------------------------------------------------------------------------------
def _check_shape(results: Results) -> None:
    for answer in answers(results):
        assert answer.headline.startswith(f"{answer.candidate}: {answer.verdict} (")
        assert 0 < len(answer.reasons) <= TOP_REASONS
        assert all(len(reason) <= LINE_LIMIT and "\n" not in reason for reason in answer.reasons)


@pytest.mark.parametrize(
    ("medians", "kwargs", "verdict", "why"),
    [
        (WIN, {}, Verdict.MIGRATE, "(0.19x p95 at 500 users)"),
        (
            {"original": {100: 6000.0, 500: 8000.0}, "optimized": {100: 100.0, 500: 1500.0}},
            {},
            Verdict.DO_NOT_MIGRATE,
            "(fails 'p95 under 2 s')",
        ),
        (
            {"original": {100: 100.0, 500: 150.0}, "optimized": {100: 100.0, 500: 300.0}},
            {},
            Verdict.DO_NOT_MIGRATE,
            "(p95 1.97x at 500 users)",
        ),
        (
            {"original": {100: 200.0, 500: 300.0}, "optimized": {100: 200.0, 500: 300.0}},
            {},
            Verdict.DO_NOT_MIGRATE,
            "(no measurable benefit)",
        ),
        (
            WIN,
            {"generator_cores": {("optimized", 500): 0.97}},
            Verdict.INCONCLUSIVE,
            "(7 criteria not judged at 500 users)",
        ),
    ],
    ids=["migrate", "criterion", "worse", "no-benefit", "inconclusive"],
)
def test_the_headline_names_what_decided_the_verdict(medians, kwargs, verdict, why):
    results = verdict_of(medians, **kwargs)
    answer = answers(results)[0]
    assert answer.verdict is verdict
    assert answer.headline.startswith(f"optimized: {verdict} {why}"), answer.headline
    _check_shape(results)


def test_a_knife_edge_the_analysis_found_is_worded_from_its_ratios():
    same = {100: 200.0, 500: 300.0}
    results = verdict_of({"original": same, "optimized": same})
    assert results.decision.with_code(ReasonCode.KNIFE_EDGE)  # an interval reaches past the margin
    edge = [r for r in answers(results)[0].reasons if r.startswith("knife edge: ")]
    assert len(edge) == 1 and " at 100 users near the 10% margin; " in edge[0]
    assert edge[0].endswith("2 more trials (--trials 3) settle it") and len(edge[0]) <= LINE_LIMIT


def test_a_baseline_that_lost_replies_is_the_inconclusive_cause():
    from tests.harness.test_figures import clean_audit

    results = verdict_of(WIN, audits={("original", 100): clean_audit(400, wrong_token=3)})
    assert answers(results)[0].headline.startswith("optimized: INCONCLUSIVE (original's delivery audit failed);")
    _check_shape(results)


def test_ratios_that_repeat_per_level_are_one_line_naming_the_levels(rich):
    results, _ = rich
    answer = next(a for a in answers(results) if a.candidate == "optimized")
    better = [reason for reason in answer.reasons if reason.startswith("better at")]
    assert len(better) == 1 and better[0].startswith("better at 100, 250 users: p95 ")
    wins = [r for r in results.decision_for("optimized").ratios if r.metric == "p95_ms" and r.users in (100, 250)]
    for ratio in wins:  # rounded against the candidate (p95 up), the interval outwards
        assert number(ratio.value.value, 2, "lower") + "x [" in better[0]
    # The key ratio comes from a level usable for both, never the bench-bound 500 users.
    assert "at 500 users" not in answer.headline.split(";")[0]


def test_a_knife_edge_and_a_disturbed_machine_are_always_among_the_top_reasons(rich):
    results, _ = rich
    decision = results.decision_for("optimized")
    disturbed = UsabilityIssue(code=Unusable.DISTURBED, detail="another process took 0.8 cores")
    summaries = [
        s.model_copy(update={"unusable": [*s.unusable, disturbed]}) if (s.service, s.users) == ("original", 500) else s
        for s in results.summaries
    ]
    edge_ratio = next(r for r in decision.ratios if r.metric == "p95_ms")
    crowded = [
        DecisionReason(
            code=code,
            text="a sentence the report shows in full",
            ratios=[edge_ratio] if code is ReasonCode.KNIFE_EDGE else [],
        )
        for code in (
            ReasonCode.NOT_COMPARED,
            ReasonCode.TARGET_ELSEWHERE,
            ReasonCode.BOTH_SATURATED,
            ReasonCode.CRITERIA_PASSED,
            ReasonCode.SIGNIFICANTLY_BETTER,
            ReasonCode.KNIFE_EDGE,
            ReasonCode.MACHINE_DISTURBED,
        )
    ]
    marked = results.model_copy(
        update={"summaries": summaries, "decisions": [decision.model_copy(update={"reasons": crowded})]}
    )
    reasons = answers(marked)[0].reasons
    assert len(reasons) == TOP_REASONS
    assert any(r.startswith("knife edge: ") and r.endswith("2 more trials (--trials 3) settle it") for r in reasons)
    assert any(r.startswith("machine disturbed at 500 users (original)") for r in reasons)
    assert reasons[0].startswith("better at")  # what decided it stays first
    assert all("a sentence the report shows in full" not in r for r in reasons)  # never the analysis's text


def test_target_lines_say_measured_or_projected_and_round_against_the_service(rich):
    results, _ = rich
    by_service = {line.service: line for line in target_lines(results)}
    assert list(by_service) == ["original", "checklist", "optimized"]
    assert by_service["original"].label == "original (baseline)"
    measured = by_service["optimized"]
    assert measured.status is TargetStatus.HOLDS and "(measured)" in measured.need and not measured.command
    assert "holds the 500-user target on 2 CPUs (measured)" in answers(results)[1].headline
    projected = results.target_for("checklist").model_copy(
        update={
            "status": TargetStatus.FITS,
            "service_cpus": Estimate(value=2.7412, ci_low=2.6375, ci_high=2.8613),
            "database_cores": Estimate(value=1.2357),
            "monthly_usd": 148.42,
        }
    )
    line = target_lines(results.model_copy(update={"targets": [projected]}))[0]
    assert "need 2.8 service CPUs [2.6, 2.9] + 1.3 DB cores (projected; fits the checklist's 4 workers)" in line.need
    assert line.cost == "$149/month" and line.assumptions.startswith("projected from ") and line.command
    headline = answers(results.model_copy(update={"targets": [*results.targets[:1], projected]}))[0].headline
    assert headline.endswith("; 500 users need ~2.8 CPUs + 1.3 DB cores, fits 4 workers (projected)")


# -- report.png -------------------------------------------------------------------------------------
def test_without_a_browser_the_report_says_how_to_get_a_screenshot(tmp_path, run, no_browser):
    results, records = run
    told: list[str] = []
    paths = write_report(results, tmp_path, records, note=told.append)
    assert told == [no_chromium_hint()] and "report.png" not in {p.name for p in paths}
    assert not (tmp_path / "report.png").exists()
    assert "report.png" not in (tmp_path / "summary.md").read_text()


def test_with_a_browser_the_first_screen_is_saved(written):
    out, paths, notes = written
    if find_chromium() is None:
        pytest.skip(no_chromium_hint())
    from PIL import Image

    assert notes == [] and out / "report.png" in paths
    with Image.open(out / "report.png") as image:
        assert image.size == (1280, 900)
    assert "![the report's first screen](report.png)" in (out / "summary.md").read_text()


# -- harness report ---------------------------------------------------------------------------------
def test_harness_report_round_trips_a_results_file(run_dir, run, capsys, no_browser):
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "verdicts: optimized: MIGRATE"
    assert str(run_dir / "summary.md") in printed and str(run_dir / "plots" / "latency_cdf.png") in printed
    assert str(run_dir / "details.md") in printed and no_chromium_hint() in printed
    assert load_results(run_dir) == run[0]  # re-rendering leaves the results untouched
    assert "## optimized against original: MIGRATE" in (run_dir / "summary.md").read_text()


def test_harness_report_rejudges_under_other_criteria(run_dir, capsys, no_browser):
    strict = run_dir / "strict.toml"
    strict.write_text('[[criterion]]\nname = "p95 under 100 ms"\nmetric = "p95_ms"\nop = "<"\nthreshold = 100\n')
    assert main(["report", str(run_dir), "--criteria", str(strict)]) == 0
    assert "DO NOT MIGRATE" in capsys.readouterr().out
    stored = load_results(run_dir)
    assert stored.decision.verdict == "DO NOT MIGRATE" and stored.settings.criteria_file == str(strict)
    assert "## optimized against original: DO NOT MIGRATE" in (run_dir / "summary.md").read_text()
    answer = answers(stored)[0]
    assert answer.headline.startswith("optimized: DO NOT MIGRATE (fails 'p95 under 100 ms')")
    assert answer.reasons[0].startswith("fails 'p95 under 100 ms' at 100, 500 users")


def test_harness_report_prices_the_costs_at_the_users_rate(run_dir, capsys, no_browser):
    assert main(["report", str(run_dir), "--price-per-vcpu-hour", "0.5"]) == 0
    assert "cost figures at 0.5 USD per vCPU-hour" in capsys.readouterr().out
    stored = load_results(run_dir)
    assert stored.settings.price_per_vcpu_hour == 0.5
    assert all(cost.price_per_vcpu_hour == 0.5 for cost in stored.costs)
    with pytest.raises(SystemExit) as refused:
        main(["report", str(run_dir), "--price-per-vcpu-hour", "-1"])
    assert refused.value.code == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not a valid results file"),
        (json.dumps({"schema_version": 99}), "schema version 99"),
        (json.dumps({"schema_version": 3, "run_id": "x"}), "not a valid results file"),
    ],
)
def test_harness_report_refuses_a_missing_or_invalid_results_file(tmp_path, capsys, content, message):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "summary.md").exists()


def test_harness_report_rejects_a_bad_criteria_file(run_dir, capsys):
    bad = run_dir / "bad.toml"
    bad.write_text('[[criterion]]\nname = "x"\nmetric = "p95_ms"\nop = "=="\nthreshold = 1\n')
    assert main(["report", str(run_dir), "--criteria", str(bad)]) == 2
    assert "key 'op'" in capsys.readouterr().err


def test_harness_report_as_a_command(run_dir):
    completed = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert str(run_dir / "report.html") in completed.stdout
    if find_chromium() is not None:
        assert str(run_dir / "report.png") in completed.stdout
