"""Micro-benchmarks of the webhook's hot path (pytest-benchmark).

Run with `make bench`; `make test` skips them (--benchmark-skip), so their timings never decide
a test's pass or fail. They answer "where does a message's CPU go" between harness runs, and
price the checklist's outbound client (a new one per call) against a shared one, for httpx and
aiohttp, against a real server on loopback (the bench's echo app, its own process).
"""

import asyncio

import aiohttp
import httpx
import pytest

from contract import Business, BusinessCache, TokenCipher, parse_webhook, sign_body, verify_signature
from contract.http import WEBHOOK_PATH
from harness.bench.services import ServiceProcess
from harness.load.payloads import PayloadFactory, encode
from harness.processes import base_environment

FACTORY = PayloadFactory(seed=42)
TEXT = encode(FACTORY.text_webhook("100000000100000"))
BATCH = encode(FACTORY.batch([f"1000000001{i:05d}" for i in range(10)], 100))
SECRET = "app-secret-for-benchmarks"
SIGNATURE = sign_body(TEXT, SECRET)
CIPHER = TokenCipher("encryption-secret-for-benchmarks")
STORED_TOKEN = CIPHER.encrypt("EAAG" + "x" * 180)
REPLY = {"messaging_product": "whatsapp", "to": "15551234567", "type": "text", "text": {"body": "Thanks!"}}


def test_signature_check(benchmark):
    assert benchmark(verify_signature, TEXT, SIGNATURE, SECRET)


def test_parse_one_message(benchmark):
    envelope = benchmark(parse_webhook, TEXT)
    assert len(list(envelope.messages())) == 1


def test_parse_a_hundred_update_batch(benchmark):
    envelope = benchmark(parse_webhook, BATCH)
    assert len(list(envelope.messages())) + len(list(envelope.statuses())) == 100


def test_token_decrypt(benchmark):
    # What a variant without the cache pays for every message; one with it, once per fill.
    assert benchmark(CIPHER.decrypt, STORED_TOKEN).startswith("EAAG")


def test_a_thousand_cache_hits(benchmark):
    cache = BusinessCache(1000, 300)
    cache.put_all([Business(id="b", name="B", sub_domain="b", phone_number_ids=("1",), access_token="t")])

    def thousand() -> Business | None:
        for _ in range(1000):
            business = cache.get("1")
        return business

    assert benchmark(thousand).id == "b"


# -- the outbound client: a new one per call (the checklist's handler) against a shared one ----
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("bench") / "echo.log"
    with ServiceProcess("echo", "harness.bench.echo_app:app", env=base_environment(), log_path=log) as echo:
        yield f"{echo.url}{WEBHOOK_PATH}"


def _ok(status: int) -> bool:
    return status == 200


def test_httpx_sync_new_client_per_call(benchmark, server):
    def call() -> int:
        with httpx.Client(timeout=5) as client:
            return client.post(server, json=REPLY).status_code

    assert _ok(benchmark(call))


def test_httpx_sync_shared_client(benchmark, server):
    with httpx.Client(timeout=5) as client:
        assert _ok(benchmark(lambda: client.post(server, json=REPLY).status_code))


def _run(loop: asyncio.AbstractEventLoop, make):  # the loop's own cost stays out of a call's
    return lambda: loop.run_until_complete(make())


def test_httpx_async_new_client_per_call(benchmark, server):
    async def call() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.post(server, json=REPLY)).status_code

    loop = asyncio.new_event_loop()
    try:
        assert _ok(benchmark(_run(loop, call)))
    finally:
        loop.close()


def test_httpx_async_shared_client(benchmark, server):
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(timeout=5)

    async def call() -> int:
        return (await client.post(server, json=REPLY)).status_code

    try:
        assert _ok(benchmark(_run(loop, call)))
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


def test_aiohttp_new_session_per_call(benchmark, server):
    async def call() -> int:
        async with aiohttp.ClientSession() as session, session.post(server, json=REPLY) as answer:
            await answer.read()
            return answer.status

    loop = asyncio.new_event_loop()
    try:
        assert _ok(benchmark(_run(loop, call)))
    finally:
        loop.close()


def test_aiohttp_shared_session(benchmark, server):
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(_session())

    async def call() -> int:
        async with session.post(server, json=REPLY) as answer:
            await answer.read()
            return answer.status

    try:
        assert _ok(benchmark(_run(loop, call)))
    finally:
        loop.run_until_complete(session.close())
        loop.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()
