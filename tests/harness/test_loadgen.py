"""Locust through loadgen, as real processes against real servers on loopback.

The echo app (uvicorn) stands for a service; where a test must see what was sent, a small
aiohttp capture server (a real process too) verifies each signature and logs every body.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from harness.bench.services import ServiceProcess
from harness.load import DEFAULT_MIX, LoadProfile, LoadRun, LoadStep, open_loop_users, parse_mix, run_load_step
from harness.load.profile import REQUEST_FAILURES_EXIT_CODE
from harness.processes import ManagedProcess, base_environment, free_port, wait_until
from harness.records import ABANDONED, RECORD_COLUMNS, RECORD_DTYPES
from harness.records import read_record_files as read_records

# Records, signatures, retries and crashes hold under any load (shares_machine); the open loop's
# schedule is timing, so those tests run alone.
pytestmark = [pytest.mark.load, pytest.mark.timeout(90)]

APP_SECRET = "test-app-secret-0123456789"
VERIFY_TOKEN = "test-verify-token-42"
POSTS = {"text", "status", "duplicate", "unknown_phone", "disabled"}

# Verifies every signature with the contract's own function and logs what it got, one JSON line
# per request. FAIL_FIRST: the first delivery of each body is answered 503. DELAY_S: answer late.
CAPTURE_SERVER = r"""
import asyncio, hashlib, json, os, sys
from aiohttp import web
from contract import SIGNATURE_HEADER, verify_signature

secret = os.environ["WHATSAPP_APP_SECRET"]
fail_first = os.environ.get("FAIL_FIRST") == "1"
delay = float(os.environ.get("DELAY_S", "0"))
log = open(os.environ["CAPTURE_FILE"], "a", buffering=1)
seen = set()

async def post(request):
    body = await request.read()
    signature = request.headers.get(SIGNATURE_HEADER)
    signed = verify_signature(body, signature, secret)
    digest = hashlib.sha256(body).digest()
    status = 401 if not signed else 503 if fail_first and digest not in seen else 200
    seen.add(digest)
    if delay:
        await asyncio.sleep(delay)
    log.write(json.dumps({"body": body.decode(), "signature": signature, "signed": signed, "status": status}) + "\n")
    return web.json_response({"status": "ok" if status == 200 else "no"}, status=status)

async def get(request):
    if request.query.get("hub.verify_token") != os.environ["WHATSAPP_VERIFY_TOKEN"]:
        return web.Response(status=403)
    return web.Response(text=request.query.get("hub.challenge", ""))

app = web.Application()
app.add_routes([web.post("/whatsapp_response", post), web.get("/whatsapp_response", get),
                web.get("/health", lambda request: web.json_response({}))])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("echo") / "echo.log"
    with ServiceProcess("echo", "harness.bench.echo_app:app", env=base_environment(), log_path=log) as service:
        yield service


@contextmanager
def capture_server(directory: Path, **settings: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    captured = directory / "captured.jsonl"
    env = (
        base_environment()
        | {"WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "CAPTURE_FILE": str(captured)}
        | settings
    )
    server = ManagedProcess(
        "capture",
        [sys.executable, "-c", CAPTURE_SERVER, str(port)],
        env=env,
        cwd=Path(__file__).parents[2],
        log_path=directory / "capture.log",
    )
    url = f"http://127.0.0.1:{port}"
    with server:
        server.wait_ready(lambda: _answers(url), timeout=20)
        yield url, captured


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def profile(**overrides: object) -> LoadProfile:
    settings: dict[str, object] = dict(
        service="echo",
        users=12,
        trial=2,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        businesses=8,
        phones_per_business=2,
        wait_min_s=0.05,
        wait_max_s=0.15,
        seed=7,
    )
    settings.update(overrides)
    return LoadProfile(**settings)  # type: ignore[arg-type]


def assert_all_gone(pids: list[int]) -> None:
    assert pids
    assert wait_until(lambda: not any(psutil.pid_exists(pid) for pid in pids), 5), "a Locust process outlived its run"


# -- closed loop --------------------------------------------------------------------------------
@pytest.mark.shares_machine
def test_a_closed_loop_step_records_every_request_with_the_schema_columns(echo, tmp_path):
    step = LoadStep(echo.url, profile(), duration_s=4)
    with LoadRun.start(step, tmp_path) as run:
        pids = run.pids
        for pid in pids:  # secrets travel by environment, never on the command line
            assert not {APP_SECRET, VERIFY_TOKEN} & set(" ".join(psutil.Process(pid).cmdline()).split())
        outcome = run.wait()
    assert_all_gone(pids)

    assert outcome.exit_code == 0 and not outcome.crashed, outcome.log_tail
    assert list(outcome.records.columns) == list(RECORD_COLUMNS)
    assert {name: str(dtype) for name, dtype in outcome.records.dtypes.items()} == RECORD_DTYPES
    records = answered(outcome.records)
    assert len(records) > 150
    assert set(records.status) == {200} and set(records.error) == {""} and set(records.attempt) == {1}
    assert set(records.service) == {"echo"} and set(records.users) == {12} and set(records.trial) == {2}
    assert (records.arrival_rate == 0).all()
    assert (records.intended_start == records.t_start).all()
    assert (records.corrected_latency_ms == records.latency_ms).all() and (records.latency_ms > 0).all()

    shares = records.kind.value_counts(normalize=True)
    assert set(shares.index) == set(DEFAULT_MIX)
    for kind, expected in DEFAULT_MIX.items():
        assert abs(shares[kind] - expected) < 0.08, f"{kind}: {shares[kind]:.3f} vs {expected}"

    by_kind = records.groupby("kind")
    assert by_kind.expects_reply.all().to_dict() == {k: k == "text" for k in DEFAULT_MIX}
    assert by_kind.expects_reply.any().to_dict() == {k: k == "text" for k in DEFAULT_MIX}
    assert (records.wamid == "").groupby(records.kind).all().to_dict() == {
        k: k in ("status", "handshake") for k in DEFAULT_MIX
    }
    texts = records[records.kind == "text"]
    assert texts.wamid.is_unique and texts.wamid.str.startswith("wamid.").all()
    assert set(records[records.kind == "duplicate"].wamid) <= set(texts.wamid)


@pytest.mark.shares_machine
def test_posts_are_signed_retried_with_the_same_bytes_and_duplicates_resend_acknowledged_ones(tmp_path):
    backoff = 0.05
    with capture_server(tmp_path, FAIL_FIRST="1") as (url, captured):
        step = LoadStep(url, profile(service="capture", users=8, retry_backoff_s=backoff), duration_s=4)
        outcome = run_load_step(step, tmp_path / "step")
    records = answered(outcome.records)
    # The 503s are failures in Locust's eyes, not a crash of the generator.
    assert outcome.exit_code == REQUEST_FAILURES_EXIT_CODE and outcome.requests_failed and not outcome.crashed

    lines = [json.loads(line) for line in captured.read_text().splitlines()]
    posts = records[records.kind.isin(POSTS)]
    assert len(lines) >= len(posts) > 50
    assert all(line["signed"] for line in lines), "a POST reached the server badly signed"

    # Every message's first delivery got 503 and was retried once, with the very same bytes.
    first, second = (posts[posts.attempt == n].set_index("wamid") for n in (1, 2))
    texts = first[first.kind == "text"]
    assert (texts.status == 503).all()
    retried = texts.index.intersection(second.index)
    assert len(retried) >= 0.8 * len(texts)  # all but the few cut by the end of the step
    assert (second.loc[retried, "status"] == 200).all()
    gap_ms = (second.loc[retried, "t_start"] - texts.loc[retried, "t_start"]) * 1000
    assert (gap_ms >= backoff * 1000 + texts.loc[retried, "latency_ms"] - 1).all()
    deliveries: dict[str, list[tuple[str, str]]] = {}
    for line in lines:
        for message in _messages(line["body"]):
            deliveries.setdefault(message, []).append((line["body"], line["signature"]))
    for wamid in retried:
        assert len(set(deliveries[wamid])) == 1, "a retry changed the body or its signature"
    assert set(posts.attempt) <= {1, 2}

    # A duplicate re-sends a message already acknowledged (2xx), byte for byte; its first try passes.
    duplicates = posts[posts.kind == "duplicate"]
    acknowledged = set(second[(second.kind == "text") & (second.status == 200)].index)
    assert len(duplicates) > 0 and set(duplicates.wamid) <= acknowledged
    assert (duplicates[duplicates.attempt == 1].status == 200).all()
    for wamid in set(duplicates.wamid):
        assert len(deliveries[wamid]) >= 3 and len(set(deliveries[wamid])) == 1


def answered(records):
    """The attempts that ran to an answer: the few Locust cut off as the step ended are set aside."""
    return records[records.error != ABANDONED]


def _messages(body: str) -> list[str]:
    payload = json.loads(body)
    return [m["id"] for e in payload["entry"] for c in e["changes"] for m in c["value"].get("messages", [])]


@pytest.mark.shares_machine
def test_a_master_and_a_worker_record_from_the_worker(echo, tmp_path):
    step = LoadStep(echo.url, profile(users=6), duration_s=3, locust_workers=1)
    with LoadRun.start(step, tmp_path) as run:
        master, worker = run.pids
        outcome = run.wait()
    assert_all_gone([master, worker])
    assert not outcome.crashed, outcome.log_tail
    assert outcome.worker_exit_codes == [0]
    assert [path.name for path in outcome.record_files] == [f"records-{worker}.csv"]
    assert len(answered(outcome.records)) > 30 and set(answered(outcome.records).status) == {200}
    assert outcome.records.equals(read_records(tmp_path / "records"))


@pytest.mark.shares_machine
def test_a_worker_that_dies_mid_step_ends_the_wait_as_a_crash(echo, tmp_path):
    step = LoadStep(echo.url, profile(users=4), duration_s=30, locust_workers=1)
    with LoadRun.start(step, tmp_path) as run:
        master, worker = run.pids
        assert wait_until(lambda: bool(run.record_files()), 20)  # the step is under way
        os.kill(worker, signal.SIGKILL)
        started = time.monotonic()
        outcome = run.wait()
    assert time.monotonic() - started < 10  # not the 30 s of the step, nor 10 s more for its master
    assert outcome.crashed and outcome.exit_code is None and "locust-master" in outcome.log_tail
    assert_all_gone([master, worker])


# -- open loop ----------------------------------------------------------------------------------
def test_open_loop_holds_the_arrival_rate_on_a_fixed_schedule(echo, tmp_path):
    rate = 30.0
    step = LoadStep(echo.url, profile(arrival_rate=rate, timeout_s=1.0), duration_s=5)
    assert step.users == open_loop_users(rate, 1.0) == 30
    outcome = run_load_step(step, tmp_path)
    assert not outcome.crashed, outcome.log_tail
    records = outcome.records
    assert set(records.users) == {0} and set(records.arrival_rate) == {rate}
    assert (records.corrected_latency_ms >= records.latency_ms).all()
    assert (records.t_start >= records.intended_start - 1e-6).all()
    # Once every user is up, every slot of the 1/R grid is sent: exactly R per second.
    start = records.intended_start.min() + 1.5
    middle = records[(records.intended_start >= start) & (records.intended_start < start + 2.0)]
    assert abs(len(middle) - 2 * rate) <= 2
    assert middle.intended_start.sort_values().diff().dropna().between(1 / rate - 0.002, 1 / rate + 0.002).all()


def test_open_loop_counts_a_stall_from_the_scheduled_time(tmp_path):
    # Two users, each answer 0.25 s late, 20 requests/s asked: the users fall behind at once.
    with capture_server(tmp_path, DELAY_S="0.25") as (url, _):
        step = LoadStep(url, profile(service="capture", arrival_rate=20.0, arrival_users=2), duration_s=4)
        outcome = run_load_step(step, tmp_path / "step")
    records = outcome.records
    assert not outcome.crashed and len(records) >= 10, outcome.log_tail
    assert records.latency_ms.median() < 600
    assert records.corrected_latency_ms.max() > 1500  # the backlog is in the figures, not hidden
    assert records.corrected_latency_ms.median() > 2 * records.latency_ms.median()


# -- profile and failures -----------------------------------------------------------------------
def test_the_profile_round_trips_through_the_environment_and_hides_its_secrets():
    original = profile(mix={"text": 3, "handshake": 1}, arrival_rate=12.5, arrival_users=40, records_dir=Path("/x"))
    assert original.mix == {"text": 0.75, "handshake": 0.25}
    assert LoadProfile.from_env(original.to_env()) == original
    assert APP_SECRET not in repr(original) and VERIFY_TOKEN not in repr(original)
    assert LoadProfile.from_env({}) == LoadProfile()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("text=1,bogus=1", "unknown kind"),
        ("text", "KIND=SHARE"),
        ("text=x", "not a number"),
        ("text=0", "more than 0"),
        ("text=-1,status=2", ">= 0"),
    ],
)
def test_a_bad_mix_is_refused_clearly(text, message):
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


def test_open_loop_users_follow_the_rate_and_the_timeout_and_are_capped():
    assert open_loop_users(10, 2.0) == 20 and open_loop_users(0.1, 1.0) == 1 and open_loop_users(1000, 30) == 500


@pytest.mark.shares_machine
def test_a_locustfile_that_cannot_start_is_a_crash_with_its_log(echo, tmp_path, monkeypatch):
    step = LoadStep(echo.url, profile(), duration_s=2)
    broken = step.environment(tmp_path / "records") | {"LOAD_MIX": "text=nope"}
    monkeypatch.setattr(LoadStep, "environment", lambda self, records_dir: broken)
    outcome = run_load_step(step, tmp_path)
    assert outcome.crashed and not outcome.requests_failed
    assert "LOAD_MIX" in outcome.log_tail and outcome.records.empty
