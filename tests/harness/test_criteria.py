from __future__ import annotations

from pathlib import Path

import pytest

from contract.architecture import parse_variant
from harness.analysis import summarize
from harness.analysis.criteria import (
    SUMMARY_METRICS,
    Criteria,
    CriteriaError,
    Criterion,
    RelativeCriterion,
    evaluate,
    load_criteria,
)
from harness.analysis.projection import cpu_need
from harness.results import LevelSummary, SoakResult, UsabilityIssue
from harness.runs.variants import variant_info
from harness.terms import Component, CriterionReason, Outcome, Unusable
from tests.harness.test_figures import make_run

VALID = """
[[criterion]]
name = "p95 under 2 s"
metric = "p95_ms"
op = "<"
threshold = 2000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "criteria.toml"
    path.write_text(text)
    return path


def test_packaged_default_has_the_seed_criteria():
    criteria = load_criteria()
    by_metric = {c.metric: c for c in criteria.absolute}
    assert by_metric["success_rate"].op == ">" and by_metric["success_rate"].threshold == 0.99
    assert by_metric["p95_ms"].threshold == 2000 and by_metric["p99_ms"].threshold == 5000
    assert by_metric["throughput_rps"].op == ">=" and by_metric["throughput_rps"].at_users == 500
    assert by_metric["error_rate"].threshold == 0.001
    assert by_metric["cache_hit_rate"].threshold == 0.90
    assert by_metric["database_connections_max"].threshold == 100
    assert by_metric["rss_slope_mb_per_min"].when_missing == "skip"
    assert "default" in criteria.source


def test_a_valid_file_loads(tmp_path):
    criteria = load_criteria(write(tmp_path, VALID))
    assert criteria.absolute == [Criterion(name="p95 under 2 s", metric="p95_ms", op="<", threshold=2000)]
    assert criteria.source == str(tmp_path / "criteria.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace('"<"', '"=<"'), "[[criterion]] #1 ('p95 under 2 s'), key 'op'"),
        (VALID.replace('"p95_ms"', '"p95"'), "key 'metric': unknown metric"),
        (
            VALID.replace("threshold = 2000", 'threshold = "2000"'),
            "key 'threshold': Input should be a valid number",
        ),
        (VALID.replace("threshold = 2000", ""), "key 'threshold': Field required"),
        (VALID + "colour = 1\n", "key 'colour': unknown key"),
        (VALID + 'when_missing = "maybe"\n', "key 'when_missing'"),
        (VALID + "[[crtierion]]\nname = 'typo'\n", "unknown table or key 'crtierion'"),
        (
            "[[relative]]\nname = 'r'\nmetric = 'p95_ms'\nop = '<='\nfactor = 0.5\n",
            "[[relative]] #1 ('r'), key 'service'",
        ),
        ("[[criterion]\n", "not valid TOML"),
        ("# nothing\n", "no [[criterion]] or [[relative]] table"),
    ],
)
def test_bad_files_name_the_table_and_key(tmp_path, text, message):
    with pytest.raises(CriteriaError) as error:
        load_criteria(write(tmp_path, text))
    assert message in str(error.value)
    assert str(tmp_path / "criteria.toml") in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CriteriaError, match="cannot read"):
        load_criteria(tmp_path / "absent.toml")


def test_every_summary_figure_is_a_metric():
    assert {
        "p95_ms",
        "throughput_rps",
        "success_rate",
        "error_rate",
        "cache_hit_rate",
        "database_connections_max",
    } <= set(SUMMARY_METRICS)
    assert "users" not in SUMMARY_METRICS and "audit_passed" not in SUMMARY_METRICS


# -- evaluate -----------------------------------------------------------------------------------
def judged_run(medians, **kwargs):
    results, records = make_run(medians, **kwargs)
    return results.model_copy(update={"summaries": summarize(results.steps, records)})


def test_evaluate_judges_each_service_and_level():
    results = judged_run({"original": {50: 3000.0, 100: 100.0}, "optimized": {50: 100.0}})
    judged = evaluate(load_criteria(), results)
    p95 = {(r.service, r.users): r for r in judged if r.metric == "p95_ms"}
    assert p95[("original", 50)].outcome is Outcome.FAIL and p95[("original", 50)].value > 2000
    assert p95[("original", 100)].passed is True and p95[("optimized", 50)].passed is True
    assert p95[("original", 50)].value == results.summaries[0].p95_ms.value


def test_cache_criterion_is_not_applicable_to_a_service_without_cache():
    judged = evaluate(load_criteria(), judged_run({"original": {50: 100.0}, "optimized": {50: 100.0}}))
    cache = {r.service: r for r in judged if r.metric == "cache_hit_rate"}
    assert (cache["original"].outcome, cache["original"].reason) == (Outcome.NOT_APPLICABLE, CriterionReason.NO_CACHE)
    assert cache["optimized"].passed is True and cache["optimized"].value == pytest.approx(0.95)


def test_a_cache_whose_metrics_did_not_answer_is_not_judged_rather_than_absent():
    results = judged_run({"optimized": {50: 100.0}})
    variants = {"optimized": variant_info("optimized", parse_variant("optimized"))}
    unread = [s.model_copy(update={"has_cache": False, "cache_hit_rate": None}) for s in results.summaries]
    results = results.model_copy(
        update={"summaries": unread, "settings": results.settings.model_copy(update={"variants": variants})}
    )
    judged = evaluate(load_criteria(), results)
    cache = next(r for r in judged if r.metric == "cache_hit_rate")
    # The variant has a cache and serves /metrics: a saturated service that did not answer it in
    # time holds the verdict, where a service without a cache would not.
    assert (cache.outcome, cache.reason) == (Outcome.NOT_JUDGED, CriterionReason.METRICS_UNANSWERED)


def test_a_level_the_run_left_out_is_the_target_answers_and_an_unusable_level_is_not_judged():
    results = judged_run({"optimized": {50: 100.0, 100: 100.0}}, generator_cores={("optimized", 100): 0.97})
    judged = evaluate(load_criteria(), results)
    # The run measured optimized, only not at 500 users: the target-load answer projects it.
    at_500 = next(r for r in judged if r.metric == "throughput_rps")
    assert (at_500.outcome, at_500.reason, at_500.users) == (Outcome.NOT_JUDGED, CriterionReason.TARGET_NOT_RUN, 500)
    # A saturated load generator is this machine's to fix (--locust-workers): the level holds its criteria.
    unusable = next(r for r in judged if r.metric == "p95_ms" and r.users == 100)
    assert (unusable.outcome, unusable.reason) == (Outcome.NOT_JUDGED, CriterionReason.LEVEL_UNUSABLE)


def test_a_service_the_run_never_measured_has_no_step_not_a_target():
    results = judged_run({"optimized": {50: 100.0}})
    results = results.model_copy(
        update={"settings": results.settings.model_copy(update={"services": ["original", "optimized"]})}
    )
    judged = [r for r in evaluate(load_criteria(), results) if r.service == "original"]
    measured = {r.reason for r in judged if r.outcome is Outcome.NOT_JUDGED}
    assert measured == {CriterionReason.NO_STEP}  # at 500 users too: nothing of it was measured


def test_memory_growth_is_skipped_without_soak_and_judged_with_it():
    results = judged_run({"optimized": {50: 100.0}})
    memory = next(r for r in evaluate(load_criteria(), results) if r.metric == "rss_slope_mb_per_min")
    assert (memory.outcome, memory.reason) == (Outcome.NOT_APPLICABLE, CriterionReason.NO_SOAK)

    soak = SoakResult(
        service="optimized",
        users=50,
        duration_s=1800,
        rss_samples=[],
        rss_slope_mb_per_min=1.5,
        rss_slope_ci=(1.1, 1.9),
        growing=True,
    )
    memory = next(
        r
        for r in evaluate(load_criteria(), results.model_copy(update={"soak": [soak]}))
        if r.metric == "rss_slope_mb_per_min"
    )
    assert memory.outcome is Outcome.FAIL and memory.value == 1.1  # judged on the interval's low end


def test_echo_is_not_judged_by_default_and_absent_services_are_not_applicable():
    results = judged_run({"echo": {50: 1.0}, "optimized": {50: 100.0}})
    criteria = Criteria(
        criterion=[
            Criterion(name="p95", metric="p95_ms", op="<", threshold=2000),
            Criterion(name="orig p95", metric="p95_ms", op="<", threshold=2000, services=["original"]),
        ]
    )
    judged = evaluate(criteria, results)
    assert {r.service for r in judged if r.criterion == "p95"} == {"optimized"}
    absent = next(r for r in judged if r.criterion == "orig p95")
    assert (absent.outcome, absent.reason) == (Outcome.NOT_APPLICABLE, CriterionReason.SERVICE_ABSENT)


def test_relative_criterion_per_common_level():
    results = judged_run({"original": {50: 400.0, 100: 400.0}, "optimized": {50: 100.0, 100: 300.0}})
    criteria = Criteria(
        relative=[
            RelativeCriterion(
                name="half",
                metric="p95_ms",
                service="optimized",
                baseline="original",
                op="<=",
                factor=0.5,
            )
        ]
    )
    judged = {r.users: r for r in evaluate(criteria, results)}
    assert judged[50].passed is True and judged[50].value == pytest.approx(0.25, rel=0.2)
    assert judged[100].passed is False and judged[100].threshold == 0.5
    one_service = evaluate(criteria, judged_run({"optimized": {50: 100.0}}))
    assert [r.applicable for r in one_service] == [False]


def test_a_level_slowed_by_the_bench_keeps_its_passes_and_leaves_failures_unjudged(tmp_path):
    results = judged_run({"optimized": {50: 100.0}})
    machine = UsabilityIssue(code=Unusable.BENCH_BOUND, component=Component.MACHINE, detail="bench-bound")
    slowed = results.summaries[0].model_copy(update={"bound_by": ["machine"], "unusable": [machine]})
    assert slowed.slowed_by_bench
    results = results.model_copy(update={"summaries": [slowed]})
    criteria = load_criteria(
        write(
            tmp_path,
            """
[[criterion]]
name = "p95"
metric = "p95_ms"
op = "<"
threshold = 2000

[[criterion]]
name = "rps"
metric = "throughput_rps"
op = ">="
threshold = 100000
""",
        )
    )
    judged = {r.criterion: r for r in evaluate(criteria, results)}
    assert (judged["p95"].outcome, judged["p95"].reason) == (Outcome.PASS, CriterionReason.SLOWED_BY_BENCH)
    # A failure under a slowed bench is not the service's. The shared machine ran out: a bigger
    # one judges it, so it is the target-load answer's, not a gap in the verdict.
    assert (judged["rps"].outcome, judged["rps"].reason) == (Outcome.NOT_JUDGED, CriterionReason.NEEDS_MORE_CPU)
    upstream = UsabilityIssue(code=Unusable.BENCH_BOUND, component=Component.UPSTREAM, detail="bench-bound")
    slow_upstream = slowed.model_copy(update={"bound_by": ["upstream"], "unusable": [upstream]})
    assert slow_upstream.slowed_by_bench
    judged = {r.criterion: r for r in evaluate(criteria, results.model_copy(update={"summaries": [slow_upstream]}))}
    assert judged["p95"].outcome is Outcome.PASS
    # A slow fake upstream is no machine's size: the failure stays unjudged and holds the verdict.
    assert (judged["rps"].outcome, judged["rps"].reason) == (Outcome.NOT_JUDGED, CriterionReason.LEVEL_UNUSABLE)
    generator = UsabilityIssue(code=Unusable.BENCH_BOUND, component=Component.LOAD_GENERATOR, detail="bench-bound")
    generator_bound = slowed.model_copy(update={"bound_by": ["load_generator"], "unusable": [generator]})
    judged = {r.criterion: r for r in evaluate(criteria, results.model_copy(update={"summaries": [generator_bound]}))}
    assert judged["p95"].passed is None  # an under-driven service may look better than it is


def test_a_connection_count_taken_while_the_database_queued_is_not_judged():
    results = judged_run({"optimized": {500: 300.0}})
    queued = UsabilityIssue(code=Unusable.BENCH_BOUND, component=Component.DATABASE, detail="bench-bound")
    summary = results.summaries[0].model_copy(
        update={"bound_by": ["database"], "unusable": [queued], "database_connections_max": 105}
    )
    results = results.model_copy(update={"summaries": [summary]})
    judged = evaluate(load_criteria(), results)
    pool = next(r for r in judged if r.metric == "database_connections_max")
    assert (pool.outcome, pool.reason, pool.value) == (Outcome.NOT_JUDGED, CriterionReason.DATABASE_BOUND, 105)
    p95 = next(r for r in judged if r.metric == "p95_ms")
    assert p95.reason is not CriterionReason.DATABASE_BOUND  # only what the database's latency drives


@pytest.mark.parametrize(
    ("embedded", "probe_p90_ms", "connections", "expected"),
    [
        # measured by make compare (55d7765): optimized at 250 users, idle read 0.39 ms
        (True, 12.3, 105, (Outcome.NOT_JUDGED, CriterionReason.DATABASE_BOUND)),
        (True, 1.5, 105, (Outcome.FAIL, CriterionReason.MEASURED)),  # it did not queue
        (False, 12.3, 105, (Outcome.FAIL, CriterionReason.MEASURED)),  # a real one's
        (True, 12.3, 40, (Outcome.PASS, CriterionReason.MEASURED)),  # a pass stands
    ],
    ids=["embedded-queued", "embedded-quiet", "external", "passes"],
)
def test_a_connection_count_failed_while_the_embedded_database_queued_is_the_target_loads(
    embedded, probe_p90_ms, connections, expected
):
    # A usable level (the step guard's 15 ms floor not reached): the pool still grew with the
    # embedded database's latency, which the verdict must not read as the design's.
    results = judged_run({"optimized": {250: 300.0}})
    steps = [
        step.model_copy(
            update={"database": step.database.model_copy(update={"probe_idle_ms": 0.39, "probe_p90_ms": probe_p90_ms})}
        )
        for step in results.steps
    ]
    summary = results.summaries[0].model_copy(
        update={"database_connections_max": connections, "database_probe_p90_ms": probe_p90_ms}
    )
    bench = results.settings.bench.model_copy(update={"embedded_database": embedded})
    results = results.model_copy(
        update={
            "steps": steps,
            "summaries": [summary],
            "settings": results.settings.model_copy(update={"bench": bench}),
        }
    )
    assert summary.usable
    pool = next(r for r in evaluate(load_criteria(), results) if r.metric == "database_connections_max")
    assert (pool.outcome, pool.reason) == expected


# -- a machine too small for the load -----------------------------------------------------------
def _saturated_run(service_ms: float):
    """optimized at 500 users failing p95 with its one CPU full, at ``service_ms`` CPU per request."""
    results = judged_run({"optimized": {500: 2500.0}})
    summary = results.summaries[0].model_copy(
        update={"service_saturated": True, "service_cpu_ms_per_request": service_ms}
    )
    bench = results.settings.bench.model_copy(update={"service_cpus": [1], "bench_cpus": [0]})
    settings = results.settings.model_copy(update={"bench": bench})
    return results.model_copy(update={"summaries": [summary], "settings": settings})


def test_a_failure_with_the_service_s_cpus_full_needs_more_cpu_when_the_projection_says_so():
    results = _saturated_run(service_ms=4.0)  # 500 users offer ~455 req/s here: 1.8 CPUs of work
    p95 = next(r for r in evaluate(load_criteria(), results) if r.metric == "p95_ms")
    assert (p95.outcome, p95.reason) == (Outcome.NOT_JUDGED, CriterionReason.NEEDS_MORE_CPU)
    assert cpu_need(results, results.summaries[0]).service_cpus == 2  # the projection it rests on
    cache = next(r for r in evaluate(load_criteria(), results) if r.metric == "cache_hit_rate")
    assert cache.reason is not CriterionReason.NEEDS_MORE_CPU  # CPU does not decide a hit rate


def test_a_failure_the_service_had_enough_cpu_for_is_a_failure():
    results = _saturated_run(service_ms=1.0)  # ~0.5 CPUs of work: it had its CPU, and failed
    p95 = next(r for r in evaluate(load_criteria(), results) if r.metric == "p95_ms")
    assert (p95.outcome, p95.reason) == (Outcome.FAIL, CriterionReason.MEASURED)


def _unusable_500(*issues: UsabilityIssue, saturated: bool = False):
    """optimized at 500 users, unusable for ``issues``, its service's CPUs full or not."""
    results = judged_run({"optimized": {500: 300.0}})
    summary = results.summaries[0].model_copy(
        update={
            "unusable": list(issues),
            "bound_by": [i.component for i in issues if i.component],
            "service_saturated": saturated,
        }
    )
    return {r.metric: r for r in evaluate(load_criteria(), results.model_copy(update={"summaries": [summary]}))}


def _bound(component: Component) -> UsabilityIssue:
    return UsabilityIssue(code=Unusable.BENCH_BOUND, component=component, detail="bench-bound")


DISTURBED = UsabilityIssue(code=Unusable.DISTURBED, detail="the machine was not quiet")
TOO_FEW = UsabilityIssue(code=Unusable.TOO_FEW_REQUESTS, detail="only 150 requests")


@pytest.mark.parametrize("component", [Component.BENCH_CPUS, Component.MACHINE, Component.DATABASE])
def test_a_level_the_machine_is_too_small_for_is_the_target_answers(component):
    judged = _unusable_500(_bound(component))
    assert judged["p95_ms"].reason is CriterionReason.SLOWED_BY_BENCH  # a pass despite the bench stands
    rps = judged["throughput_rps"]  # 40 req/s where 500 are asked
    assert (rps.outcome, rps.reason) == (Outcome.NOT_JUDGED, CriterionReason.NEEDS_MORE_CPU)


@pytest.mark.parametrize(
    "issues",
    [(_bound(Component.LOAD_GENERATOR),), (DISTURBED,), (TOO_FEW,), (_bound(Component.BENCH_CPUS), DISTURBED)],
    ids=["load-generator", "disturbed", "too-few-requests", "bench-cpus-and-disturbed"],
)
@pytest.mark.parametrize("saturated", [False, True], ids=["cpu-to-spare", "service-cpus-full"])
def test_a_level_this_machine_could_fix_holds_its_criteria_even_where_the_service_filled_its_cpus(issues, saturated):
    # A connection count does not depend on the service's CPUs: with its CPUs full or not, a level
    # a quiet machine, longer steps or --locust-workers would make usable is not a bigger machine's.
    judged = _unusable_500(*issues, saturated=saturated)
    pool = judged["database_connections_max"]
    assert (pool.outcome, pool.reason) == (Outcome.NOT_JUDGED, CriterionReason.LEVEL_UNUSABLE)


def test_an_unanswered_metrics_endpoint_is_the_target_answers_only_where_the_service_filled_its_cpus():
    results = judged_run({"optimized": {50: 100.0}})
    variants = {"optimized": variant_info("optimized", parse_variant("optimized"))}
    settings = results.settings.model_copy(update={"variants": variants})

    def cache_reason(saturated: bool) -> CriterionReason:
        unread = [
            s.model_copy(update={"has_cache": False, "cache_hit_rate": None, "service_saturated": saturated})
            for s in results.summaries
        ]
        judged = evaluate(load_criteria(), results.model_copy(update={"summaries": unread, "settings": settings}))
        return next(r for r in judged if r.metric == "cache_hit_rate").reason

    assert cache_reason(saturated=False) is CriterionReason.METRICS_UNANSWERED  # CPU to spare: rerun it here
    assert cache_reason(saturated=True) is CriterionReason.NEEDS_MORE_CPU  # more CPUs would answer it


def test_a_relative_criterion_on_a_level_the_machine_is_too_small_for_is_the_target_s():
    # optimized at 500 users with the database the bound: the relative criterion waits for a
    # bigger machine (the target-load answer); it holds neither a verdict nor a gate. A level the
    # machine could fix (too few requests) still is "not usable".
    results = judged_run({"original": {100: 400.0, 500: 400.0}, "optimized": {100: 100.0, 500: 100.0}})

    def marked(issue: UsabilityIssue) -> list[LevelSummary]:
        return [
            s.model_copy(update={"unusable": [issue]}) if (s.service, s.users) == ("optimized", 500) else s
            for s in results.summaries
        ]

    criteria = Criteria(
        relative=[
            RelativeCriterion(
                name="half", metric="p95_ms", service="optimized", baseline="original", op="<=", factor=0.5
            )
        ]
    )
    bound = {
        r.users: r
        for r in evaluate(criteria, results.model_copy(update={"summaries": marked(_bound(Component.DATABASE))}))
    }
    assert (bound[500].outcome, bound[500].reason) == (Outcome.NOT_JUDGED, CriterionReason.NEEDS_MORE_CPU)
    assert bound[100].reason is CriterionReason.MEASURED
    short = {r.users: r for r in evaluate(criteria, results.model_copy(update={"summaries": marked(TOO_FEW)}))}
    assert short[500].reason is CriterionReason.LEVEL_UNUSABLE
