"""The fake upstream as a real process on a real socket, reading tokens from a real MongoDB server."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import httpx
import psutil
import pytest
from pymongo import MongoClient

from contract import TokenCipher, new_business_document
from harness.bench.database import DatabaseServer
from harness.bench.seeding import (
    SeedPlan,
    access_token_for,
    disabled_phone_number_id,
    phone_number_id,
    seed_businesses,
)
from harness.bench.services import BenchSecrets
from harness.processes import wait_until
from harness.upstream import Behaviour, BehaviourControl, BehaviourError, UpstreamProcess

DIRECTORY_DB = "t_upstream"
PLAN = SeedPlan(3, 2, token_seed="upstream-test")
QUICK = {
    "latency_ms": 5,
    "distribution": "fixed",
    "error_rate": 0.0,
    "timeout_rate": 0.0,
    "hang_s": 30.0,
}


@pytest.fixture(scope="module")
def mongo(database: DatabaseServer) -> Iterator[MongoClient]:
    with MongoClient(database.uri) as client:
        client.drop_database(DIRECTORY_DB)
        yield client


@pytest.fixture(scope="module")
def seeded(mongo: MongoClient, bench: BenchSecrets) -> MongoClient:
    """The directory an upstream reads its tokens from: every test that sends needs it, whichever
    test of the module ran first (on xdist's workers, not necessarily the module's first)."""
    seed_businesses(mongo[DIRECTORY_DB], PLAN, TokenCipher(bench.encryption_secret), indexes=False)
    return mongo


@pytest.fixture(scope="module")
def upstream(
    database: DatabaseServer, seeded: MongoClient, bench: BenchSecrets, logs_dir: Path
) -> Iterator[UpstreamProcess]:
    process = UpstreamProcess(
        mongodb_uri=database.uri,
        encryption_secret=bench.encryption_secret,
        db_names=[DIRECTORY_DB],
        graph_latency_ms=5,
        llm_latency_ms=5,
        seed=7,
        log_path=logs_dir / "test-upstream.log",
    )
    with process:
        yield process


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> None:
    if "upstream" in request.fixturenames:
        upstream = request.getfixturevalue("upstream")
        upstream.configure(graph=QUICK, llm=QUICK)
        upstream.reset_audit()


def send_body(wamid: str | None = None, text: str = "Thanks!") -> dict:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511999990000",
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }
    if wamid is not None:
        body["context"] = {"message_id": wamid}
    return body


def send(upstream: UpstreamProcess, phone_id: str, token: str | None, body: dict | bytes, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    return httpx.post(
        f"{upstream.graph_base_url}/v21.0/{phone_id}/messages",
        json=payload,
        content=content,
        headers=headers,
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def new_wamid() -> str:
    return f"wamid.test-{uuid.uuid4().hex}"


# -- Graph API ---------------------------------------------------------------------------------
def test_the_businesss_own_token_delivers_and_is_counted(upstream):
    wamid = new_wamid()
    answer = send(upstream, phone_number_id(1, 1), access_token_for(PLAN, 1), send_body(wamid))
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["messaging_product"] == "whatsapp"
    assert reply["contacts"] == [{"input": "5511999990000", "wa_id": "5511999990000"}]
    assert reply["messages"][0]["id"].startswith("wamid.")
    audit = upstream.audit()
    assert audit["deliveries"] == {wamid: 1}
    assert (
        audit["delivered_messages"],
        audit["replies"],
        audit["duplicates"],
        audit["graph_calls"],
    ) == (1, 1, 0, 1)


def test_each_send_gets_its_own_message_id(upstream):
    ids = {
        send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid())).json()["messages"][0][
            "id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


@pytest.mark.parametrize("token", ["another-business", "made-up", "missing", "not-bearer"])
def test_a_wrong_token_is_401_counted_and_never_echoed(upstream, logs_dir, token):
    presented = {
        "another-business": access_token_for(PLAN, 2),
        "made-up": "EAAGnotatoken",
        "missing": None,
        "not-bearer": None,
    }[token]
    headers = {"Authorization": f"Basic {access_token_for(PLAN, 0)}"} if token == "not-bearer" else None
    if headers:
        answer = httpx.post(
            f"{upstream.url}/v21.0/{phone_number_id(0, 0)}/messages",
            json=send_body(new_wamid()),
            headers=headers,
            timeout=10,
        )
    else:
        answer = send(upstream, phone_number_id(0, 0), presented, send_body(new_wamid()))
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert (error["message"], error["type"], error["code"]) == (
        "Invalid OAuth access token.",
        "OAuthException",
        190,
    )
    for secret in (access_token_for(PLAN, 0), access_token_for(PLAN, 2), "EAAGnotatoken"):
        assert secret not in answer.text
        assert secret not in (logs_dir / "test-upstream.log").read_text()
    audit = upstream.audit()
    assert audit["wrong_token"] == 1 and audit["replies"] == 0


def test_an_unknown_phone_id_is_400_meta_style(upstream):
    answer = send(upstream, "100000000099999", access_token_for(PLAN, 0), send_body(new_wamid()))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 100
    audit = upstream.audit()
    assert (audit["unknown_phone"], audit["wrong_token"], audit["replies"]) == (1, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        {**send_body("w"), "messaging_product": "sms"},
        {**send_body("w"), "type": "image"},
        {k: v for k, v in send_body("w").items() if k != "to"},
        {**send_body("w"), "text": {"body": ""}},
        {k: v for k, v in send_body("w").items() if k != "type"},
        {**send_body(), "context": "wamid.x"},
    ],
    ids=["not-json", "not-object", "product", "type", "no-to", "empty-text", "no-type", "bad-context"],
)
def test_a_body_that_is_not_metas_text_send_is_400_rejected(upstream, body):
    answer = send(upstream, phone_number_id(0, 1), access_token_for(PLAN, 0), body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 100
    audit = upstream.audit()
    assert (audit["rejected"], audit["replies"]) == (1, 0)


def test_a_second_delivery_for_one_message_is_a_duplicate(upstream):
    wamid, token = new_wamid(), access_token_for(PLAN, 2)
    for _ in range(2):
        assert send(upstream, phone_number_id(2, 0), token, send_body(wamid)).status_code == 200
    assert send(upstream, phone_number_id(2, 1), token, send_body(new_wamid())).status_code == 200
    audit = upstream.audit()
    assert audit["deliveries"][wamid] == 2
    assert (audit["replies"], audit["delivered_messages"], audit["duplicates"]) == (3, 2, 1)


def test_a_send_quoting_no_message_is_filed_under_the_empty_wamid(upstream):
    assert send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(None)).status_code == 200
    assert upstream.audit()["deliveries"] == {"": 1}


def test_disabled_and_inactive_businesses_keep_their_own_tokens(upstream):
    for kind in ("disabled", "inactive"):
        answer = send(
            upstream,
            disabled_phone_number_id(kind),
            access_token_for(PLAN, kind),
            send_body(new_wamid()),
        )
        assert answer.status_code == 200
        wrong = send(
            upstream,
            disabled_phone_number_id(kind),
            access_token_for(PLAN, 0),
            send_body(new_wamid()),
        )
        assert wrong.status_code == 401
    assert upstream.audit()["replies"] == 2


def test_reset_zeroes_the_ledger(upstream):
    send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid()))
    send(upstream, phone_number_id(0, 0), "wrong", send_body(new_wamid()))
    assert upstream.audit()["graph_calls"] == 2
    zeroed = upstream.reset_audit()
    assert zeroed == upstream.audit()
    mappings = ("deliveries", "user_agents", "peak_in_flight")
    assert all(zeroed[k] == {} for k in mappings) and all(v == 0 for k, v in zeroed.items() if k not in mappings)


def test_a_business_seeded_after_start_is_found(upstream, mongo, bench):
    late_phone, late_token = "109999999912345", "EAAGlate-" + uuid.uuid4().hex
    document = new_business_document(
        business_id=f"late-{uuid.uuid4().hex[:6]}",
        name="Late",
        sub_domain="late",
        waba_id="1",
        phone_number_ids=[late_phone],
        access_token=late_token,
        refresh_token="r",
        cipher=TokenCipher(bench.encryption_secret),
        token_expires_at=__import__("datetime").datetime(2030, 1, 1),
    )
    mongo[DIRECTORY_DB]["businesses"].insert_one(document)
    try:
        # The directory re-reads on a miss at most once a second: the first miss may be too soon.
        assert wait_until(
            lambda: send(upstream, late_phone, late_token, send_body(new_wamid())).status_code == 200,
            5,
            0.3,
        )
        assert send(upstream, late_phone, access_token_for(PLAN, 0), send_body(new_wamid())).status_code == 401
    finally:
        mongo[DIRECTORY_DB]["businesses"].delete_one({"_id": document["_id"]})


def test_concurrent_sends_all_land_in_the_ledger(upstream):
    upstream.configure(graph={"latency_ms": 200})
    wamids = [new_wamid() for _ in range(200)]

    async def flood() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=upstream.url, limits=limits, timeout=20) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/v21.0/{phone_number_id(i % 3, 0)}/messages",
                        json=send_body(w),
                        headers={"Authorization": f"Bearer {access_token_for(PLAN, i % 3)}"},
                    )
                    for i, w in enumerate(wamids)
                )
            )
        return [a.status_code for a in answers]

    assert asyncio.run(flood()) == [200] * 200
    audit = upstream.audit()
    assert audit["delivered_messages"] == 200 and audit["duplicates"] == 0
    assert set(audit["deliveries"]) == set(wamids)


# -- knobs -----------------------------------------------------------------------------------------
def test_error_rate_one_answers_500_and_delivers_nothing(upstream):
    upstream.configure(graph={"error_rate": 1.0})
    answer = send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid()))
    assert answer.status_code == 500 and answer.json()["error"]["is_transient"] is True
    audit = upstream.audit()
    assert (audit["errors_injected"], audit["replies"]) == (1, 0)


def test_timeout_rate_one_hangs_then_504_and_delivers_nothing(upstream):
    upstream.configure(graph={"timeout_rate": 1.0, "hang_s": 0.3})
    answer = send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid()))
    assert answer.status_code == 504
    audit = upstream.audit()
    assert (audit["timeouts_injected"], audit["replies"]) == (1, 0)


def test_a_latency_change_takes_effect(upstream):
    upstream.configure(graph={"latency_ms": 400})
    started = time.monotonic()
    assert send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid())).status_code == 200
    assert time.monotonic() - started >= 0.4  # a lower bound only: the sleep happened
    assert upstream.control()["graph"]["latency_ms"] == 400


def test_a_client_that_gives_up_before_the_latency_gets_no_delivery(upstream):
    upstream.configure(graph={"latency_ms": 800})
    wamid = new_wamid()
    with pytest.raises(httpx.ReadTimeout):
        send(
            upstream,
            phone_number_id(0, 0),
            access_token_for(PLAN, 0),
            send_body(wamid),
            timeout=0.2,
        )
    assert wait_until(lambda: upstream.audit()["abandoned"] == 1, 5)
    audit = upstream.audit()
    assert wamid not in audit["deliveries"] and audit["replies"] == 0


def test_control_takes_partial_updates_and_refuses_bad_values(upstream):
    before = upstream.control()
    after = upstream.configure(llm={"error_rate": 0.25})
    assert after["llm"]["error_rate"] == 0.25 and after["graph"] == before["graph"]
    assert after["llm"]["latency_ms"] == before["llm"]["latency_ms"]
    for bad in (
        {"graph": {"error_rate": 1.5}},
        {"graph": {"latency_ms": -1}},
        {"graph": {"distribution": "pareto"}},
        {"graph": {"speed": 3}},
        {"sms": {"latency_ms": 1}},
        {"graph": {"error_rate": 0.6, "timeout_rate": 0.6}},
        {"graph": {"latency_ms": 9}, "llm": {"error_rate": 7}},
        [1],
    ):
        answer = httpx.post(f"{upstream.url}/control", json=bad, timeout=5)
        assert answer.status_code == 400, bad
        assert "error" in answer.json()
    assert upstream.control() == after  # nothing of a refused update was applied
    with pytest.raises(ValueError, match="error_rate"):
        upstream.configure(graph={"error_rate": 2})


# -- LLM -------------------------------------------------------------------------------------------
def completion(upstream: UpstreamProcess, prompt: str, path: str = "/v1/chat/completions") -> httpx.Response:
    body = {
        "model": "llama-3.1-8b-instant",
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You are the assistant of Business 0."},
            {"role": "user", "content": prompt},
        ],
    }
    return httpx.post(f"{upstream.url}{path}", json=body, timeout=10)


def test_a_chat_completion_has_openais_shape_and_is_deterministic(upstream):
    first = completion(upstream, "Do you open on Sunday?")
    assert first.status_code == 200
    reply = first.json()
    assert reply["object"] == "chat.completion" and reply["model"] == "llama-3.1-8b-instant"
    (choice,) = reply["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert set(reply["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    again = completion(upstream, "Do you open on Sunday?", "/openai/v1/chat/completions").json()
    other = completion(upstream, "Where are you?").json()
    content = choice["message"]["content"]
    assert again["choices"][0]["message"]["content"] == content
    assert other["choices"][0]["message"]["content"] != content
    assert upstream.audit()["llm_calls"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m"},
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "system", "content": "x"}]},
        [1],
    ],
)
def test_a_bad_completion_request_is_400(upstream, body):
    answer = httpx.post(f"{upstream.llm_base_url}/chat/completions", json=body, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "invalid_request_error"


def test_llm_knobs_are_their_own(upstream):
    upstream.configure(llm={"error_rate": 1.0})
    assert completion(upstream, "hi").status_code == 500
    assert send(upstream, phone_number_id(0, 0), access_token_for(PLAN, 0), send_body(new_wamid())).status_code == 200


# -- the process -----------------------------------------------------------------------------------
def test_it_stops_by_pid_and_leaves_nothing(database, bench, logs_dir):
    process = UpstreamProcess(
        mongodb_uri=database.uri,
        encryption_secret=bench.encryption_secret,
        db_names=[DIRECTORY_DB],
        log_path=logs_dir / "stopped-upstream.log",
    ).start()
    pid = process.pid
    assert bench.encryption_secret not in " ".join(psutil.Process(pid).cmdline())  # secrets by env only
    assert process.stop() == 0  # SIGTERM: a clean exit
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "listening on http://127.0.0.1:" in (logs_dir / "stopped-upstream.log").read_text()


def test_a_missing_encryption_secret_is_a_clear_error(database):
    env = {k: v for k, v in os.environ.items() if k != "ENCRYPTION_SECRET"} | {"MONGODB_URI": database.uri}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "upstream", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "ENCRYPTION_SECRET is required" in done.stderr


# -- behaviour (pure) --------------------------------------------------------------------------------
def test_draws_are_reproducible_for_a_seed():
    def draws(seed):
        control = BehaviourControl(
            Behaviour(latency_ms=50, distribution="exponential", error_rate=0.3), Behaviour(latency_ms=200), seed=seed
        )
        return [control.draw("graph") for _ in range(50)]

    assert draws(3) == draws(3) and draws(3) != draws(4)


def test_lognormal_has_its_median_at_latency_and_exponential_its_mean():
    control = BehaviourControl(
        Behaviour(latency_ms=100, distribution="lognormal", sigma=0.8),
        Behaviour(latency_ms=40, distribution="exponential"),
        seed=1,
    )
    lognormal = [control.draw("graph").delay_s for _ in range(4000)]
    exponential = [control.draw("llm").delay_s for _ in range(4000)]
    assert math.isclose(median(lognormal), 0.100, rel_tol=0.1)
    assert math.isclose(sum(exponential) / len(exponential), 0.040, rel_tol=0.1)
    fixed = BehaviourControl(Behaviour(latency_ms=30), Behaviour(latency_ms=0), seed=1)
    assert {fixed.draw("graph").delay_s for _ in range(10)} == {0.030}


def test_fates_follow_the_rates():
    control = BehaviourControl(
        Behaviour(latency_ms=0, error_rate=0.2, timeout_rate=0.1), Behaviour(latency_ms=0), seed=5
    )
    fates = [control.draw("graph").fate for _ in range(5000)]
    assert math.isclose(fates.count("error") / 5000, 0.2, abs_tol=0.03)
    assert math.isclose(fates.count("timeout") / 5000, 0.1, abs_tol=0.03)
    assert {control.draw("llm").fate for _ in range(100)} == {"answer"}


def test_a_refused_patch_changes_nothing():
    control = BehaviourControl(Behaviour(latency_ms=50), Behaviour(latency_ms=200))
    before = control.snapshot()
    with pytest.raises(BehaviourError, match="llm"):
        control.apply({"graph": {"latency_ms": 1}, "llm": {"timeout_rate": -0.1}})
    assert control.snapshot() == before


def test_sigterm_mid_hang_still_stops_promptly(database, seeded, bench, logs_dir):
    process = UpstreamProcess(
        mongodb_uri=database.uri,
        encryption_secret=bench.encryption_secret,
        db_names=[DIRECTORY_DB],
        log_path=logs_dir / "hung-upstream.log",
    ).start()
    try:
        process.configure(graph={"timeout_rate": 1.0, "hang_s": 60})
        url = f"{process.url}/v21.0/{phone_number_id(0, 0)}/messages"
        headers = {"Authorization": f"Bearer {access_token_for(PLAN, 0)}"}
        hung = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import httpx; httpx.post({url!r}, json={send_body('w')!r}, headers={headers!r}, timeout=60)",
            ],
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_until(lambda: process.audit()["timeouts_injected"] == 1, 10)
            os.kill(process.pid, signal.SIGTERM)
            # Its own shutdown, well before the 60 s hang and the SIGKILL stop() falls back to.
            assert wait_until(lambda: not process.alive, 8)
            assert process.returncode == 0
        finally:
            hung.kill()
            hung.wait(5)
    finally:
        process.stop()
