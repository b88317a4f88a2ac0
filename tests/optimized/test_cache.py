import asyncio

import pytest

from contract import Business
from optimized.cache import BusinessCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def business(pid: str) -> Business:
    return Business(id=f"b-{pid}", name="B", sub_domain="b", phone_number_ids=(pid,), access_token="t")


class Loader:
    """Counts database queries; ``delay`` keeps a query in flight so concurrent misses overlap."""

    def __init__(self, known: set[str], delay: float = 0.0) -> None:
        self.known, self.delay, self.calls = known, delay, 0

    async def __call__(self, pid: str) -> Business | None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return business(pid) if pid in self.known else None


def run(coro):
    return asyncio.run(coro)


def test_hit_after_miss_and_counters():
    cache, load = BusinessCache(10, 300, 30), Loader({"1"})

    async def scenario():
        assert (await cache.get("1", load)).id == "b-1"
        assert (await cache.get("1", load)).id == "b-1"
        assert (await cache.get("1", load)).id == "b-1"

    run(scenario())
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.loads, load.calls) == (2, 1, 1, 1)
    assert stats.hit_rate == pytest.approx(2 / 3)
    assert (stats.size, stats.max_size, stats.ttl_seconds) == (1, 10, 300)


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache, load = BusinessCache(10, 300, 30, timer=clock), Loader({"1"})

    async def scenario():
        await cache.get("1", load)
        clock.now = 299
        await cache.get("1", load)
        assert load.calls == 1
        clock.now = 301
        await cache.get("1", load)
        assert load.calls == 2

    run(scenario())


def test_size_is_bounded():
    cache, load = BusinessCache(3, 300, 30), Loader({str(i) for i in range(10)})

    async def scenario():
        for i in range(10):
            await cache.get(str(i), load)

    run(scenario())
    assert len(cache) == 3


def test_concurrent_misses_for_one_key_make_one_query():
    cache, load = BusinessCache(10, 300, 30), Loader({"1"}, delay=0.05)

    async def scenario():
        return await asyncio.gather(*(cache.get("1", load) for _ in range(50)))

    results = run(scenario())
    assert load.calls == 1
    assert all(r is not None and r.id == "b-1" for r in results)
    assert cache.stats().misses == 50  # each caller missed; only one of them queried


def test_a_failed_load_reaches_every_waiter_and_is_not_cached():
    cache = BusinessCache(10, 300, 30)
    calls = 0

    async def failing(pid):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("database away")

    async def scenario():
        results = await asyncio.gather(*(cache.get("1", failing) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
        assert await cache.get("1", Loader({"1"})) is not None

    run(scenario())
    assert calls == 1


def test_unknown_ids_are_cached_briefly_as_negative_entries():
    clock = Clock()
    cache, load = BusinessCache(10, 300, 30, timer=clock), Loader(set())

    async def scenario():
        assert await cache.get("404", load) is None
        assert await cache.get("404", load) is None
        assert load.calls == 1
        clock.now = 31
        assert await cache.get("404", load) is None
        assert load.calls == 2

    run(scenario())
    assert cache.stats().hits == 1


def test_negative_caching_can_be_turned_off():
    cache, load = BusinessCache(10, 300, 0), Loader(set())

    async def scenario():
        await cache.get("404", load)
        await cache.get("404", load)

    run(scenario())
    assert load.calls == 2


def test_warm_up_fills_every_phone_id_up_to_the_bound_and_clear_empties():
    cache = BusinessCache(3, 300, 30)
    many = [Business(id=str(i), name="B", sub_domain="b", phone_number_ids=(f"{i}a", f"{i}b"), access_token="t")
            for i in range(5)]  # fmt: skip
    assert cache.put_all(many) == 3
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0


def test_callbacks_feed_external_counters():
    seen = {"hit": 0, "miss": 0, "load": 0}
    cache = BusinessCache(10, 300, 30, on_hit=lambda: seen.__setitem__("hit", seen["hit"] + 1),
                          on_miss=lambda: seen.__setitem__("miss", seen["miss"] + 1),
                          on_load=lambda: seen.__setitem__("load", seen["load"] + 1))  # fmt: skip

    async def scenario():
        await cache.get("1", Loader({"1"}))
        await cache.get("1", Loader({"1"}))

    run(scenario())
    assert seen == {"hit": 1, "miss": 1, "load": 1}


def test_the_token_never_shows_in_a_repr():
    assert "secret-token" not in repr(
        Business(id="1", name="B", sub_domain="b", phone_number_ids=("1",), access_token="secret-token")
    )
