"""Micro-benchmarks of the webhook's hot path (pytest-benchmark).

Run with `make bench`; `make test` skips them (--benchmark-skip), so their timings never decide
a test's pass or fail. They answer "where does a message's CPU go" between harness runs.
"""

import asyncio

import pytest

from contract import Business, TokenCipher, parse_webhook, sign_body, verify_signature
from harness.payloads import PayloadFactory, encode
from optimized.cache import BusinessCache

FACTORY = PayloadFactory(seed=42)
TEXT = encode(FACTORY.text_webhook("100000000100000"))
BATCH = encode(FACTORY.batch([f"1000000001{i:05d}" for i in range(10)], 100))
SECRET = "app-secret-for-benchmarks"
SIGNATURE = sign_body(TEXT, SECRET)
CIPHER = TokenCipher("encryption-secret-for-benchmarks")
STORED_TOKEN = CIPHER.encrypt("EAAG" + "x" * 180)


def test_signature_check(benchmark):
    assert benchmark(verify_signature, TEXT, SIGNATURE, SECRET)


def test_parse_one_message(benchmark):
    envelope = benchmark(parse_webhook, TEXT)
    assert len(list(envelope.messages())) == 1


def test_parse_a_hundred_update_batch(benchmark):
    envelope = benchmark(parse_webhook, BATCH)
    assert len(list(envelope.messages())) + len(list(envelope.statuses())) == 100


def test_token_decrypt(benchmark):
    # What the original pays for every message, and the optimized once per cache fill.
    assert benchmark(CIPHER.decrypt, STORED_TOKEN).startswith("EAAG")


@pytest.fixture
def warm_cache():
    cache = BusinessCache(1000, 300, 30)
    cache.put_all([Business(id="b", name="B", sub_domain="b", phone_number_ids=("1",), access_token="t")])
    return cache


def test_a_thousand_cache_hits(benchmark, warm_cache):
    # A thousand per round, so the event loop's own start-up cost does not swamp one hit.
    loop = asyncio.new_event_loop()

    async def never(_):
        raise AssertionError("a hit must not load")

    async def thousand():
        for _ in range(1000):
            business = await warm_cache.get("1", never)
        return business

    try:
        assert benchmark(lambda: loop.run_until_complete(thousand())).id == "b"
    finally:
        loop.close()
