"""`harness attribute`: the design of an attribution (which configurations price which change),
the minimal migration on constructed runs (no server), and a short real run that records every
change's effect with its interval."""

from __future__ import annotations

import pytest

from contract import VariantError
from harness.analysis import conclude
from harness.analysis.attribution import Confirmation, DesignedChange, minimal_migration, ratio_text, verdicts
from harness.analysis.criteria import load_criteria
from harness.cli import main
from harness.results import Attribution, Estimate, Ratio, load_results
from harness.runs.attribute import confirmation_label, design
from harness.terms import CriterionReason, Outcome, Verdict
from tests.harness.test_figures import make_run


def test_every_change_is_priced_added_alone_and_removed_alone():
    attribution = design("checklist", "optimized")
    assert {c.token for c in attribution.changes} == {
        "pymongo",
        "shared-client",
        "aiohttp",
        "concurrent-batch",
        "fail-fast",
    }
    shared = next(c for c in attribution.changes if c.token == "shared-client")
    assert (shared.added, shared.removed, shared.setting) == (
        "checklist+shared-client",
        "optimized+per-call-client",
        "HTTP_CLIENT",
    )
    assert attribution.configurations[:2] == ("checklist", "optimized") and len(attribution.configurations) == 12


def test_a_change_no_handler_makes_alone_says_why_and_coinciding_configurations_run_once():
    attribution = design("original", "optimized")
    aiohttp = next(c for c in attribution.changes if c.token == "aiohttp")
    assert aiohttp.added is None and "needs the async handler" in aiohttp.not_added
    assert aiohttp.removed == "optimized+httpx"
    two = design("original", "original+shared-client+cache")
    assert set(two.configurations) == {
        "original",
        "original+shared-client+cache",
        "original+shared-client",
        "original+cache",
    }  # B+c of one is T-c of the other


@pytest.mark.parametrize(
    ("source", "target", "only"),
    [("original", "original", ()), ("original", "legacy", ()), ("checklist", "optimized", ("cache",))],
)
def test_nothing_to_attribute_or_an_unknown_name_is_refused(source, target, only):
    with pytest.raises(VariantError):
        design(source, target, only)


# -- the minimal migration, on constructed runs -------------------------------------------------
# The 2-core case: the run measures 50 and 100 users, and the criteria ask for 500 rps at 500 users,
# which it cannot judge. That criterion is the target-load answer's; the verdict still decides.
CRITERIA = """
[[criterion]]
name = "success rate above 99 %"
metric = "success_rate"
op = ">"
threshold = 0.99

[[criterion]]
name = "500 rps at 500 users"
metric = "throughput_rps"
op = ">="
threshold = 500
at_users = 500
"""
SLOW, FAST = 400.0, 100.0  # median latency (ms) of a configuration without / with what earns MIGRATE
B, T = "original", "optimized"
SHARED = DesignedChange(
    "shared-client", "HTTP_CLIENT", "per-call", "shared", "client", f"{B}+shared-client", f"{T}+per-call-client"
)
CACHE = DesignedChange("cache", "BUSINESS_CACHE", "none", "memory", "cache", f"{B}+cache", f"{T}+no-cache")
CHANGES = (SHARED, CACHE)


@pytest.fixture(scope="module")
def criteria(tmp_path_factory):
    path = tmp_path_factory.mktemp("criteria") / "criteria.toml"
    path.write_text(CRITERIA)
    return load_criteria(path)


def judged(criteria, medians: dict[str, float], **kwargs) -> dict:
    """Every configuration's verdict against the baseline, on a run with these median latencies."""
    run, records = make_run({name: {50: ms, 100: ms} for name, ms in medians.items()}, **kwargs)
    results = conclude(run, records, criteria)
    return verdicts(results, records, B)


def configurations(base: float = SLOW, target: float = FAST) -> dict[str, float]:
    """B and T, each change added alone (no benefit) and taken out alone (T's benefit kept)."""
    return {B: base, T: target, SHARED.added: SLOW, CACHE.added: SLOW, SHARED.removed: FAST, CACHE.removed: FAST}


def test_the_smallest_single_change_that_earns_migrate_is_named_with_its_interval(criteria):
    decisions = judged(criteria, configurations() | {SHARED.added: FAST, CACHE.added: 300.0})
    own = decisions[SHARED.added].criteria
    assert any(r.outcome is Outcome.NOT_JUDGED and r.reason is CriterionReason.TARGET_NOT_RUN for r in own)
    minimal = minimal_migration(decisions, B, T, CHANGES)
    assert (minimal.status, minimal.changes, minimal.label) == ("single_change", ["shared-client"], SHARED.added)
    assert minimal.verdict is Verdict.MIGRATE and decisions[CACHE.added].verdict is Verdict.MIGRATE
    evidence = minimal.evidence
    assert evidence.metric == "p95_ms" and evidence.value.ci_high < 0.9 and evidence.significant
    assert f"{SHARED.added}: MIGRATE, p95 latency 0." in minimal.detail
    # Both earn MIGRATE: the one with the larger effect is named.
    swapped = minimal_migration(
        judged(criteria, configurations() | {SHARED.added: 300.0, CACHE.added: FAST}), B, T, CHANGES
    )
    assert swapped.changes == ["cache"]


def test_the_changes_the_target_cannot_lose_are_confirmed_by_a_run_of_them_alone(criteria):
    # Neither change earns MIGRATE alone; the target without either one is no migration.
    decisions = judged(criteria, configurations() | {SHARED.removed: SLOW, CACHE.removed: SLOW})
    assert decisions[T].verdict is Verdict.MIGRATE
    first = minimal_migration(decisions, B, T, CHANGES)
    assert (first.status, first.changes, first.evidence) == ("undetermined", ["shared-client", "cache"], None)
    both = f"{B}+cache+shared-client"
    confirmed = judged(criteria, {B: SLOW, T: FAST, both: FAST})[both]
    minimal = minimal_migration(decisions, B, T, CHANGES, Confirmation(("shared-client", "cache"), confirmed))
    assert (minimal.status, minimal.label, minimal.verdict) == ("confirmed", both, Verdict.MIGRATE)
    assert minimal.evidence is not None and minimal.evidence.value.value < 0.9
    interacting = judged(criteria, {B: SLOW, T: FAST, both: SLOW})[both]
    refuted = minimal_migration(decisions, B, T, CHANGES, Confirmation(("shared-client", "cache"), interacting))
    assert (refuted.status, refuted.verdict) == ("not_confirmed", Verdict.DO_NOT_MIGRATE)


def test_a_change_the_target_can_lose_is_not_part_of_the_minimal_migration(criteria):
    decisions = judged(criteria, configurations() | {SHARED.removed: SLOW})  # T-cache still migrates
    minimal = minimal_migration(decisions, B, T, CHANGES)
    assert minimal.changes == ["shared-client"] and minimal.status == "undetermined"
    # Each change alone is enough among the others: no smallest set found by taking one out.
    redundant = minimal_migration(judged(criteria, configurations()), B, T, CHANGES)
    assert (redundant.status, redundant.changes) == ("undetermined", [])


def test_a_target_that_does_not_earn_migrate_leaves_no_migration(criteria):
    decisions = judged(criteria, configurations(target=SLOW))
    minimal = minimal_migration(decisions, B, T, CHANGES)
    assert (minimal.status, minimal.label, minimal.verdict) == ("target_fails", T, Verdict.DO_NOT_MIGRATE)
    worse = minimal_migration(judged(criteria, configurations(target=600.0)), B, T, CHANGES)
    assert worse.status == "target_fails" and worse.evidence.metric == "p95_ms" and worse.evidence.value.value > 1.1


def test_a_target_the_run_could_not_compare_leaves_it_undetermined(criteria):
    run, records = make_run({name: {50: ms, 100: ms} for name, ms in configurations().items()})
    unaudited = [s.model_copy(update={"audit": None}) if s.service == T else s for s in run.steps]
    results = conclude(run.model_copy(update={"steps": unaudited}), records, criteria)
    decisions = verdicts(results, records, B)
    assert decisions == {d.candidate: d for d in results.decisions}  # the run's own verdicts, recomputed
    assert decisions[T].verdict is Verdict.INCONCLUSIVE
    minimal = minimal_migration(decisions, B, T, CHANGES)
    assert (minimal.status, minimal.changes, minimal.verdict) == ("undetermined", [], Verdict.INCONCLUSIVE)


def test_the_deciding_ratio_reads_with_its_interval_rounded_against_the_candidate():
    throughput = Ratio(users=50, metric="throughput_rps", value=Estimate(value=3.94, ci_low=3.31, ci_high=4.62))
    assert ratio_text(throughput) == "throughput 3.9x [3.3, 4.7] at 50 users"
    p95 = Ratio(users=100, metric="p95_ms", value=Estimate(value=0.0671, ci_low=0.0625, ci_high=0.0744))
    assert ratio_text(p95) == "p95 latency 0.068x [0.062, 0.075] at 100 users"


def test_the_confirmation_run_takes_what_the_changes_need():
    attribution = design(B, T)
    assert confirmation_label(attribution, ["cache", "shared-client"]) == (
        f"{B}+cache+shared-client",
        ("cache", "shared-client"),
    )
    # aiohttp needs the async handler, which the target cannot lose alone: the run takes both.
    assert confirmation_label(attribution, ["aiohttp"]) == (f"{B}+async+aiohttp", ("async", "aiohttp"))


@pytest.mark.load
def test_a_short_attribution_records_every_change_s_effect_with_its_interval(tmp_path):
    out = tmp_path / "attribution"
    code = main(
        [
            "attribute",
            "--from",
            "original",
            "--to",
            "original+shared-client+cache",
            "--users",
            "6",  # one level: the effects per level are the unit tests' (make_run)
            "--step-duration",
            "4",
            "--warmup",
            "1",
            "--businesses",
            "5",
            "--no-echo",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    results = load_results(out)
    attribution = results.attribution
    assert results.settings.command == "attribute" and attribution is not None
    assert {c.token for c in attribution.changes} == {"shared-client", "cache"}
    for change in attribution.changes:
        for effects in (change.added_effects, change.removed_effects):
            assert {(e.metric, e.users) for e in effects} == {
                (metric, users)
                for metric in ("throughput_rps", "p95_ms", "service_cpu_ms_per_request")
                for users in (6,)
            }
            assert all(
                e.difference.value is not None
                and e.difference.ci_low is not None
                and e.difference.ci_low <= e.difference.ci_high
                for e in effects
            )
    shared = next(c for c in attribution.changes if c.token == "shared-client")
    # A shared client saves the sync handler most of its CPU per reply (two client constructions).
    cpu = [e for e in shared.added_effects if e.metric == "service_cpu_ms_per_request"]
    assert all(e.difference.value < 0 and e.significant for e in cpu)
    assert attribution.minimal is not None and attribution.minimal.detail
    assert (out / "report.html").is_file()


def test_the_command_ends_on_the_minimal_migration_with_its_interval(criteria, monkeypatch, tmp_path, capsys):
    run, records = make_run({B: {50: SLOW}, T: {50: FAST}, SHARED.added: {50: FAST}})
    results = conclude(run, records, criteria)
    minimal = minimal_migration(verdicts(results, records, B), B, T, CHANGES)
    attribution = Attribution(baseline=B, target=T, minimal=minimal)
    finished = results.model_copy(update={"attribution": attribution})
    monkeypatch.setattr("harness.commands.attribute.run_attribution", lambda *args: finished)
    assert main(["attribute", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"smallest migration: shared-client ({SHARED.added}: MIGRATE, {ratio_text(minimal.evidence)})"
    assert len(last) <= 120
