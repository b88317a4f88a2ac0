"""`harness attribute`: the design of an attribution (which configurations price which change),
and a short real run that records every change's effect with its interval."""

from __future__ import annotations

import pytest

from contract import VariantError
from harness.cli import main
from harness.results import load_results
from harness.runs.attribute import design


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
            "6,12",
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
                for users in (6, 12)
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
