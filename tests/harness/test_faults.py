"""Fault scenarios: the figures they compute, their guards, and one short real run per fault kind.

The runs break a real database process, a real TCP proxy in front of it, a real service process
or the real fake upstream under Locust load against two services, then read the delivery audit:
0 replies lost, 0 sent with a wrong token, doubles only where the fault explains them (a kill's
crash window, the Graph API timeout's edge) and counted there, errors really seen during the
fault (so the test can fail), and recovery after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from pathlib import Path
from unittest import mock

import aiohttp
import httpx
import pandas as pd
import pytest
from aiohttp import web

from harness.analysis import CriteriaError, conclude, load_criteria, rejudge
from harness.analysis.audit import audit_figures
from harness.analysis.faults import (
    crash_figures,
    cut_messages,
    errors_between,
    ready_behaviour,
    recovery_seconds,
    statuses_between,
)
from harness.bench import BenchConfig
from harness.bench.dbproxy import ProxyError, proxied_uri, proxy_target
from harness.bench.services import BenchSecrets, ServiceProcess
from harness.cli import main
from harness.commands.chaos import FAULT_CRITERIA_FILE
from harness.processes import base_environment, free_port
from harness.results import FaultResult, Results, load_results
from harness.runs import RunControl, run_comparison
from harness.runs.faults import FAULTS, FaultUnavailable, Timeline, fault_plan, retry_policy
from harness.terms import Outcome, ReasonCode, Verdict
from harness.upstream import Behaviour, BehaviourControl, BehaviourError, Ledger, create_app
from tests.harness.test_figures import clean_audit, make_run
from tests.plans import short_plan
from tests.shared_runs import made_once


def FaultSpec(kind, *, start_s=10.0, duration_s=10.0, graph_timeout_s=2.0, **values):
    return FAULTS[kind](Timeline(start_s, duration_s, graph_timeout_s), values)


SHORT = dict(users=(8,), step_duration_s=8, warmup_s=1, trials=1)
TIMELINE = dict(start_s=2.0, duration_s=3.0)
# A 1 s database timeout: the original's threads give up within the 3 s outage instead of
# waiting it out (with the default 5 s they would wait, and show no error at all).
SERVICE_ENV = {"MONGODB_TIMEOUT_MS": "1000"}
# Each kind's short form: its timeline and values, and a longer window where the fault needs one.
# The database faults' windows are 10 s: the services' reconnect after them takes seconds when the
# fault runs share the machine (`make test`), and the tests ask for a clean second in the window.
SHORT_FORMS: dict[str, dict] = {
    "db-outage": dict(step_duration_s=10),
    "upstream-errors": {},
    "upstream-slow": {},
    # Two kills in 4 s; a 2 s lease, so a claim a dead worker left is taken over within a 10 s window.
    "worker-crash": dict(duration_s=4.0, kills=2, lease_s=2.0, step_duration_s=10),
    "db-slow": dict(db_latency_ms=1500.0, step_duration_s=10),  # beyond the 1 s MONGODB_TIMEOUT_MS
    "db-cut": dict(step_duration_s=10),
    "graph-throttled": dict(throttle_rate=0.3),
    "upstream-timeout-edge": dict(graph_timeout_s=1.0, edge_rate=0.5, edge_spread_ms=100.0),
}


def fault_run(kind: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BenchSecrets]:
    """One short run of ``kind`` against two services, made once per session (the secrets test
    reads its logs and reports too); the run's secrets are returned so they can be searched for.
    Unpinned (the bench's default): it shares the machine with other fault runs."""
    base = made_once(f"fault-{kind}", tmp_path_factory, lambda base: _run_fault(kind, base))
    return base / "run", BenchSecrets(**json.loads((base / "secrets.json").read_text()))


def _run_fault(kind: str, base: Path) -> None:
    secrets = BenchSecrets()
    # Test secrets, beside the run (not in it): another test process reading the run searches it for them.
    (base / "secrets.json").touch(mode=0o600)
    (base / "secrets.json").write_text(json.dumps(asdict(secrets)))
    form = {**TIMELINE, **SHORT_FORMS[kind]}
    load = {**SHORT, "step_duration_s": form.pop("step_duration_s", SHORT["step_duration_s"])}
    plan = short_plan(
        ("original", "optimized"),
        **load,
        bench=BenchConfig(businesses=10, phones_per_business=2, service_env=SERVICE_ENV),
        criteria_file=FAULT_CRITERIA_FILE,
    )
    with mock.patch("harness.bench.testbed.BenchSecrets", lambda: secrets):
        run_comparison(fault_plan(plan, FaultSpec(kind, **form), base / "db"), RunControl(base / "run"))


# -- figures ---------------------------------------------------------------------------------------
def _records(rows: list[tuple[float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["t_start", "latency_ms", "status"])


def test_errors_during_count_every_request_in_flight_during_the_fault():
    records = _records(
        [
            (95.0, 1000, 200),  # finished before the fault
            (99.0, 3000, 503),  # sent before, failed during: the fault's
            (101.0, 10, 0),  # no answer
            (104.0, 10, 200),
            (110.0, 10, 503),  # after the fault
        ]
    )
    assert errors_between(records, 100.0, 105.0) == (2, 3)
    assert errors_between(_records([]), 100.0, 105.0) == (0, 0)


def test_recovery_is_the_first_full_second_without_errors_after_the_fault():
    end = 100.0
    records = _records(
        [(100.2, 5, 503), (100.9, 5, 200), (101.5, 5, 0), (102.1, 5, 200), (102.7, 5, 200), (103.3, 5, 503)]
    )
    assert recovery_seconds(records, end) == 2.0  # seconds 0 and 1 had errors; second 2 is clean
    assert recovery_seconds(_records([(100.5, 5, 200)]), end) == 0.0
    assert recovery_seconds(_records([(100.5, 5, 500), (101.5, 5, 0)]), end) is None
    assert recovery_seconds(_records([(99.0, 5, 200)]), end) is None  # nothing after the fault


def test_ready_turning_503_is_seen_within_the_fault_or_just_after_it():
    polls = [(99.0, 200), (101.0, 503), (106.0, 503), (107.0, 200)]
    assert ready_behaviour(polls, 100.0, 105.0) == (True, True)
    assert ready_behaviour([(99.0, 200), (112.0, 503)], 100.0, 105.0) == (False, False)
    assert ready_behaviour([], 100.0, 105.0) == (False, False)


def test_statuses_during_say_how_the_service_answered_meta():
    records = _records([(99.0, 3000, 503), (101.0, 10, 0), (102.0, 10, 503), (103.0, 10, 200), (110.0, 5, 500)])
    assert statuses_between(records, 100.0, 105.0) == {"0": 1, "200": 1, "503": 2}
    assert statuses_between(_records([]), 100.0, 105.0) == {}


def _attempts(rows: list[tuple[str, float, float, int]]) -> pd.DataFrame:
    """(wamid, t_start, latency_ms, status) attempts of messages that oblige a reply."""
    frame = pd.DataFrame(rows, columns=["wamid", "t_start", "latency_ms", "status"])
    return frame.assign(expects_reply=True, error="", attempt=1)


def test_a_kill_cuts_the_messages_in_flight_at_it_and_the_lease_holds_them():
    kill = 100.0
    records = _attempts(
        [
            ("w.cut", 99.8, 205, 0),  # in flight at the kill, reset by it
            ("w.cut", 100.5, 3, 503),  # retry: "in flight" under the dead worker's claim
            ("w.cut", 102.5, 300, 200),  # after the lease: taken over and answered
            ("w.refused", 100.6, 1, 0),  # sent while the service restarted: refused, not cut
            ("w.done", 99.0, 300, 200),  # answered before the kill
            ("w.held", 99.9, 101, 0),  # cut, and never answered in the window
        ]
    )
    cut = cut_messages(records, [kill])
    assert cut == {"w.cut": kill, "w.held": kill}
    figures = crash_figures(records, cut)
    assert (figures.messages_cut, figures.unacknowledged, figures.cut_to_ack_max_s) == (2, 1, 2.8)
    abandoned = records.assign(error="Abandoned")  # cut off by the generator at the step's end
    assert cut_messages(abandoned, [kill]) == {} and cut_messages(records, []) == {}


def test_the_audit_counts_doubles_a_fault_explains_apart_from_the_others():
    records = _attempts([(w, 1.0, 10, 200) for w in ("w.crash", "w.edge", "w.both", "w.broken", "w.once")])
    upstream = {
        "deliveries": {"w.crash": 2, "w.edge": 2, "w.both": 3, "w.broken": 2, "w.once": 1},
        "edge_deliveries": {"w.edge": 1, "w.both": 1, "w.once": 1},
    }
    audit = audit_figures(records, upstream, cut_wamids={"w.crash", "w.both"})
    assert (audit.doubled, audit.doubled_in_crash_window, audit.doubled_at_timeout_edge) == (4, 2, 1)
    assert audit.doubled_unexplained == 1 and not audit.passed  # w.broken: a broken claim
    explained = audit_figures(
        records[records.wamid != "w.broken"],
        {**upstream, "deliveries": {k: v for k, v in upstream["deliveries"].items() if k != "w.broken"}},
        cut_wamids={"w.crash", "w.both"},
    )
    assert explained.doubled == 3 and explained.doubled_unexplained == 0 and explained.passed
    plain = audit_figures(records, {"deliveries": upstream["deliveries"]})
    assert (plain.doubled, plain.doubled_unexplained) == (4, 4)  # no fault: every double is a failure


# -- the fake upstream's fault fates ------------------------------------------------------------------
def test_throttles_and_edge_answers_follow_their_shares_and_draw_once():
    edge = dict(edge_rate=0.3, edge_s=2.0, edge_spread_s=0.1)
    control = BehaviourControl(
        Behaviour(latency_ms=40, error_rate=0.1, throttle_rate=0.2, **edge), Behaviour(latency_ms=0), seed=5
    )
    draws = [control.draw("graph") for _ in range(5000)]
    fates = [draw.fate for draw in draws]
    assert math.isclose(fates.count("throttle") / 5000, 0.2, abs_tol=0.03)
    assert math.isclose(fates.count("edge") / 5000, 0.3, abs_tol=0.03)
    at_edge = [draw.delay_s for draw in draws if draw.fate == "edge"]
    assert min(at_edge) >= 1.9 and max(at_edge) <= 2.1  # just before, at and just after the timeout
    assert math.isclose(sum(d > 2.0 for d in at_edge) / len(at_edge), 0.5, abs_tol=0.06)
    assert {draw.delay_s for draw in draws if draw.fate != "edge"} == {0.040}
    # One draw per request: the same seed gives the same fates with or without the new knobs in force.
    plain = BehaviourControl(Behaviour(latency_ms=40, error_rate=0.1), Behaviour(latency_ms=0), seed=5)
    assert [d.fate == "error" for d in draws[:200]] == [plain.draw("graph").fate == "error" for _ in range(200)]
    with pytest.raises(BehaviourError, match="must not exceed 1"):
        control.apply({"graph": {"throttle_rate": 0.5, "edge_rate": 0.5}})


class _Directory:
    """The token directory, without a database: one phone id, one token."""

    def __len__(self) -> int:
        return 1

    async def tokens_for(self, phone_number_id: str) -> frozenset[str] | None:
        return frozenset({"token"}) if phone_number_id == "1001" else None


def _send(to: str = "15550001111", wamid: str = "wamid.A") -> dict:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": {"body": "hi"},
        "context": {"message_id": wamid},
    }


@contextlib.asynccontextmanager
async def _upstream(graph: Behaviour) -> AsyncIterator[tuple[aiohttp.ClientSession, Ledger]]:
    """The fake upstream's app served as ``harness upstream`` serves it (a handler runs to its end
    when its caller goes away), and a session bound to it."""
    ledger = Ledger()
    app = create_app(_Directory(), BehaviourControl(graph, Behaviour(latency_ms=0), seed=1), ledger)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            yield session, ledger
    finally:
        await runner.cleanup()


def test_the_fake_graph_api_throttles_as_meta_does():
    async def scenario():
        async with _upstream(Behaviour(latency_ms=0, throttle_rate=1.0, retry_after_s=3)) as (client, ledger):
            headers = {"Authorization": "Bearer token"}
            throttled = await client.post("/v21.0/1001/messages", json=_send(), headers=headers)
            body = await throttled.json()
            assert throttled.status == 429 and throttled.headers["Retry-After"] == "3"
            assert body["error"]["code"] == 130429 and body["error"]["type"] == "OAuthException"
            assert body["error"]["fbtrace_id"] and body["error"]["error_data"]["details"]
            await client.post("/control", json={"graph": {"throttle_rate": 0.0, "pair_limited_to": "15550009999"}})
            paired = await client.post("/v21.0/1001/messages", json=_send("15550009999"), headers=headers)
            assert paired.status == 429 and (await paired.json())["error"]["code"] == 131056
            assert (await client.post("/v21.0/1001/messages", json=_send(), headers=headers)).status == 200
        snapshot = ledger.snapshot()
        assert (snapshot["throttled"], snapshot["pair_limited"], snapshot["deliveries"]) == (1, 1, {"wamid.A": 1})

    asyncio.run(scenario())


def test_an_edge_answer_is_delivered_even_when_the_caller_gave_up_on_it():
    async def scenario():
        async with _upstream(Behaviour(latency_ms=0, edge_rate=1.0, edge_s=0.3, edge_spread_s=0.0)) as (client, ledger):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    client.post("/v21.0/1001/messages", json=_send(), headers={"Authorization": "Bearer token"}), 0.1
                )
            await asyncio.sleep(0.4)  # Meta sent it at 0.3 s, the caller having given up at 0.1 s
        snapshot = ledger.snapshot()
        assert snapshot["deliveries"] == {"wamid.A": 1} and snapshot["edge_deliveries"] == {"wamid.A": 1}
        assert (snapshot["edge_sends"], snapshot["abandoned"]) == (1, 0)
        ledger.reset()
        assert "edge_deliveries" not in ledger.snapshot()

    asyncio.run(scenario())


# -- the fault criteria and the verdict ---------------------------------------------------------------
def _crash_finding(service: str, *, in_window: int, cut: int, unexplained: int = 0) -> FaultResult:
    return FaultResult(
        service=service,
        fault="worker-crash",
        users=100,
        started_s=5,
        ended_s=15,
        errors_during=40,
        requests_during=100,
        recovery_s=2.0,
        ready_503_seen=None,
        ready_recovered=None,
        audit=clean_audit(60, doubled=in_window + unexplained, doubled_in_crash_window=in_window),
        kills=3,
        lease_s=5.0,
        messages_cut=cut,
    )


@pytest.fixture(scope="module")
def clear_win() -> Results:
    results, records = make_run({"original": {100: 400.0}, "optimized": {100: 100.0}}, requests={100: 400})
    return conclude(results, records, load_criteria(FAULT_CRITERIA_FILE))


def test_doubles_in_a_crash_window_are_judged_by_the_fault_criteria_not_refused_outright(clear_win):
    criteria = load_criteria(FAULT_CRITERIA_FILE)
    assert {c.metric for c in criteria.absolute} >= set(FaultResult.METRICS)
    limit = next(c.threshold for c in criteria.absolute if c.metric == "doubled_in_crash_window_share")
    findings = [_crash_finding("original", in_window=0, cut=20)]

    def judged(finding: FaultResult):
        results = rejudge(clear_win.model_copy(update={"faults": [*findings, finding]}), criteria)
        return results.decision, [c for c in results.criteria if c.metric == "doubled_in_crash_window_share"]

    within = math.floor(limit * 20)
    decision, crash = judged(_crash_finding("optimized", in_window=within, cut=20))
    assert decision.verdict is Verdict.MIGRATE and not decision.with_code(ReasonCode.AUDIT_FAILED)
    assert {c.outcome for c in crash} == {Outcome.PASS}
    decision, crash = judged(_crash_finding("optimized", in_window=within + 2, cut=20))
    assert decision.verdict is Verdict.DO_NOT_MIGRATE and decision.with_code(ReasonCode.CRITERION_FAILED)
    assert not decision.with_code(ReasonCode.AUDIT_FAILED)
    assert Outcome.FAIL in {c.outcome for c in crash if c.service == "optimized"}
    decision, _ = judged(_crash_finding("optimized", in_window=0, cut=20, unexplained=1))
    assert decision.verdict is Verdict.DO_NOT_MIGRATE and decision.with_code(ReasonCode.AUDIT_FAILED)


def test_a_fault_metric_without_a_fault_run_is_skipped(clear_win, tmp_path):
    results = rejudge(clear_win, load_criteria(FAULT_CRITERIA_FILE))
    assert all(c.outcome is Outcome.NOT_APPLICABLE for c in results.criteria if c.metric in FaultResult.METRICS)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[criterion]]\nname = "x"\nmetric = "doubled_somewhere"\nop = "<"\nthreshold = 1\n')
    with pytest.raises(CriteriaError, match="doubled_in_crash_window_share"):
        load_criteria(bad)


# -- the bench's part: a restart on the same port, a proxy URI -------------------------------------------
def test_a_killed_service_is_restarted_on_the_same_port(tmp_path):
    env = {
        **base_environment(),
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }
    service = ServiceProcess("echo", "harness.bench.echo_app:app", env=env, log_path=tmp_path / "echo.log")
    service.start()
    try:
        port, first = service.port, service.pid
        os.killpg(first, signal.SIGKILL)
        assert service.restart().port == port and service.pid != first and service.alive
        assert httpx.get(f"{service.url}/health", timeout=5).status_code in (200, 404)
    finally:
        service.stop()


def test_the_database_proxy_stands_in_front_of_one_plain_server_only():
    assert proxy_target("mongodb://127.0.0.1:27019/?directConnection=true") == ("127.0.0.1", 27019)
    assert proxy_target("mongodb://user:p%40ss@db.example/app?authSource=admin") == ("db.example", 27017)
    uri = proxied_uri("mongodb://user:p%40ss@db.example:27018/app?authSource=admin&directConnection=false", 4242)
    assert uri == "mongodb://user:p%40ss@127.0.0.1:4242/app?authSource=admin&directConnection=true"
    for refused in ("mongodb+srv://db.example/app", "mongodb://a:1,b:2/", "mongodb://db.example/?tls=true"):
        with pytest.raises(ProxyError):
            proxy_target(refused)


# -- guards ----------------------------------------------------------------------------------------
def test_retries_outlast_the_fault():
    for duration in (1, 3, 10, 60):
        retries, backoff = retry_policy(FaultSpec("upstream-errors", duration_s=duration))
        assert backoff * (2**retries - 1) >= duration + 10


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "db-outage", "duration_s": 0}, "more than 0"),
        ({"kind": "upstream-errors", "error_rate": 0.8, "timeout_rate": 0.5}, "must not exceed 1"),
        ({"kind": "upstream-errors", "error_rate": 1.5}, "a share between 0 and 1"),
        ({"kind": "upstream-slow", "slow_ms": 5000, "graph_timeout_s": 2}, "under the Graph API timeout"),
        ({"kind": "worker-crash", "kills": 0}, "at least 1"),
        ({"kind": "worker-crash", "kills": 2.5}, "whole number"),
        ({"kind": "worker-crash", "lease_s": 0}, "lease must be more than 0"),
        ({"kind": "db-slow", "db_latency_ms": 0}, "more than 0"),
        ({"kind": "graph-throttled", "throttle_rate": 1.2}, "a share between 0 and 1"),
        ({"kind": "upstream-timeout-edge", "edge_rate": 0}, "more than 0"),
        ({"kind": "upstream-timeout-edge", "edge_spread_ms": 2500, "graph_timeout_s": 2}, "less than the Graph"),
    ],
)
def test_a_fault_that_cannot_be_honest_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        FaultSpec(fields.pop("kind"), **fields)


def test_fault_plan_refuses_what_it_cannot_inject(tmp_path, monkeypatch):
    plan = short_plan(step_duration_s=30)
    with pytest.raises(ValueError, match="must end inside it"):
        fault_plan(plan, FaultSpec("upstream-slow", start_s=20, duration_s=10), tmp_path)
    outage = fault_plan(plan, FaultSpec("db-outage"), tmp_path)
    assert outage.bench.db_storage_path == str(tmp_path)  # restarted with its data
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    with pytest.raises(FaultUnavailable, match="Unset MONGODB_URI"):
        fault_plan(plan, FaultSpec("db-outage"), tmp_path)
    broken = fault_plan(replace(plan, echo=True), FaultSpec("upstream-errors", graph_timeout_s=1.5), tmp_path)
    assert broken.echo is False and broken.command == "chaos" and broken.load.retries >= 5
    assert broken.bench.service_env["GRAPH_API_TIMEOUT"] == "1.5" and broken.scenario.spec.kind == "upstream-errors"
    # The proxy faults proxy a plain single-host MONGODB_URI, and refuse what they cannot.
    assert fault_plan(plan, FaultSpec("db-cut"), tmp_path).bench.db_proxy is True
    monkeypatch.setenv("MONGODB_URI", "mongodb+srv://cluster.example/app")
    with pytest.raises(FaultUnavailable, match="mongodb\\+srv"):
        fault_plan(plan, FaultSpec("db-slow"), tmp_path)
    monkeypatch.delenv("MONGODB_URI")
    crash = fault_plan(plan, FaultSpec("worker-crash", lease_s=3), tmp_path)
    assert crash.bench.service_env["PROCESSING_LEASE_SECONDS"] == "3" and not crash.bench.db_proxy
    slow = fault_plan(replace(plan, bench=replace(plan.bench, service_env=SERVICE_ENV)), FaultSpec("db-slow"), tmp_path)
    assert slow.bench.db_proxy and "within the services' 1000 ms timeout" in slow.scenario.spec.description()


def test_every_fault_kind_is_registered_with_its_options():
    assert set(SHORT_FORMS) == set(FAULTS)  # and each has a short form in the suite
    for kind, fault in FAULTS.items():
        assert fault.kind == kind and fault.summary
        assert FaultSpec(kind).description().startswith(kind)
    flags = {option.flag for fault in FAULTS.values() for option in fault.options}
    assert {"--kills", "--lease", "--db-latency-ms", "--throttle-rate", "--edge-rate", "--edge-spread-ms"} <= flags


def test_chaos_command_explains_a_fault_it_cannot_inject(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    assert main(["chaos", "--fault", "db-outage", "--out", str(tmp_path / "run")]) == 2
    assert "Unset MONGODB_URI" in capsys.readouterr().out
    assert main(["chaos", "--fault", "upstream-slow", "--slow-ms", "5000", "--out", str(tmp_path / "run")]) == 2
    assert "under the Graph API timeout" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()  # refused before anything started


# -- one real run per fault kind ----------------------------------------------------------------------
def _faults(results: Results) -> dict[str, FaultResult]:
    return {fault.service: fault for fault in results.faults}


def _fault_results(kind: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, dict[str, FaultResult]]:
    """The short run of ``kind``, with what holds under every fault: a complete run of both
    services, messages acknowledged, no reply lost, sent with a wrong token or unexpected, no
    double the fault does not explain, and no verdict refused for an audit."""
    run_dir, _ = fault_run(kind, tmp_path_factory)
    results = load_results(run_dir)
    assert results.complete, results.incomplete_reason
    assert results.settings.command == "chaos" and results.settings.fault.startswith(kind)
    faults = _faults(results)
    assert set(faults) == {"original", "optimized"}
    for service, fault in faults.items():
        audit = fault.audit
        assert audit.expected > 0, service
        assert (audit.lost, audit.wrong_token, audit.unexpected, audit.doubled_unexplained) == (0, 0, 0, 0), (
            service,
            audit,
        )
        assert fault.ended_s - fault.started_s >= TIMELINE["duration_s"]
        step = next(s for s in results.steps if s.service == service)
        assert step.audit == audit  # the step carries the attributed audit too
    assert faults["original"].ready_503_seen is None  # the original has no /ready
    assert faults["optimized"].ready_recovered is True
    assert results.decision is not None and not results.decision.with_code(ReasonCode.AUDIT_FAILED)
    return results, faults


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["db-outage", "upstream-errors", "upstream-slow"])
def test_a_fault_loses_and_doubles_nothing_and_both_services_recover(kind, tmp_path_factory):
    _, faults = _fault_results(kind, tmp_path_factory)
    for service, fault in faults.items():
        assert fault.audit.doubled == 0, (service, fault.audit)
        assert fault.errors_during > 0, f"{service}: no error seen during {kind}: the fault did not bite"
        assert fault.recovery_s is not None, f"{service} never had a clean second after {kind}"
    # Only the database takes the optimized service out of readiness.
    assert faults["optimized"].ready_503_seen is (kind == "db-outage")


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["worker-crash"])
def test_a_worker_crash_doubles_only_in_its_crash_windows_and_the_lease_frees_what_it_held(kind, tmp_path_factory):
    results, faults = _fault_results(kind, tmp_path_factory)
    for service, fault in faults.items():
        audit = fault.audit
        assert fault.kills and fault.kills >= 1 and fault.lease_s == 2.0, service
        assert fault.messages_cut and fault.messages_cut > 0, f"{service}: no kill cut a message off"
        assert audit.doubled == audit.doubled_in_crash_window <= fault.messages_cut, (service, audit)
        assert fault.statuses_during.get("0", 0) > 0, f"{service}: no request was cut or refused"
        # A 2 s lease: every message a kill cut off was answered again within the window.
        assert fault.cut_unacknowledged == 0 and fault.cut_to_ack_max_s is not None, (service, fault)
        assert fault.recovery_s is not None, service
    judged = [c for c in results.criteria if c.metric == "doubled_in_crash_window_share"]
    assert {c.service for c in judged} == {"original", "optimized"}
    assert all(c.outcome in (Outcome.PASS, Outcome.FAIL) for c in judged)


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["db-slow", "db-cut"])
def test_a_slow_or_cut_database_loses_and_doubles_nothing(kind, tmp_path_factory):
    _, faults = _fault_results(kind, tmp_path_factory)
    for service, fault in faults.items():
        assert fault.audit.doubled == 0, (service, fault.audit)
        assert fault.errors_during > 0, f"{service}: no error seen during {kind}: the fault did not bite"
    assert faults["optimized"].recovery_s is not None


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["graph-throttled"])
def test_throttled_sends_are_answered_503_with_retry_after_and_retried(kind, tmp_path_factory):
    _, faults = _fault_results(kind, tmp_path_factory)
    for service, fault in faults.items():
        assert fault.audit.doubled == 0, (service, fault.audit)
        assert fault.statuses_during.get("503", 0) > 0, f"{service}: no throttled send during the fault"
        assert "500" not in fault.statuses_during, (service, fault.statuses_during)
        assert fault.probe_status == 503 and fault.probe_retry_after, (service, fault.probe_status)
        assert fault.recovery_s is not None, service


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["upstream-timeout-edge"])
def test_sends_answered_at_the_timeout_edge_double_only_there(kind, tmp_path_factory):
    results, faults = _fault_results(kind, tmp_path_factory)
    for service, fault in faults.items():
        audit = fault.audit
        assert fault.edge_sends and fault.edge_sends > 0, service
        assert audit.doubled == audit.doubled_at_timeout_edge <= fault.edge_sends, (service, audit)
    assert sum(fault.audit.doubled_at_timeout_edge for fault in faults.values()) > 0, "no reply landed at the edge"
    judged = [c for c in results.criteria if c.metric == "doubled_at_timeout_edge_share"]
    assert {c.service for c in judged} == {"original", "optimized"}


@pytest.mark.load
@pytest.mark.shares_machine
@pytest.mark.parametrize("kind", ["upstream-errors"])
def test_fault_reports_show_the_fault_section(kind, tmp_path_factory):
    run_dir, _ = fault_run(kind, tmp_path_factory)
    summary = (run_dir / "summary.md").read_text()
    assert "## Faults" in summary and "upstream-errors" in summary and "recovery" in summary
    html = (run_dir / "report.html").read_text()
    assert "<h2>Faults</h2>" in html and "n/a (no /ready)" in html
    assert "Fault injected: upstream-errors" in summary


def test_the_chaos_command_prints_where_the_doubles_came_from(capsys):
    from harness.commands.chaos import print_fault_details
    from harness.report.console import report_console

    finding = _crash_finding("optimized", in_window=2, cut=9)
    results, _ = make_run({"original": {100: 400.0}, "optimized": {100: 100.0}}, requests={100: 40})
    print_fault_details(report_console(), results.model_copy(update={"faults": [finding]}))
    out = capsys.readouterr().out
    assert "where the doubles came from" in out and "in crash windows" in out and "lease 5 s" in out
