"""The business cache both handlers share (``BUSINESS_CACHE=ttl``): hits, misses, expiry, bounds,
warm-up, and its safety under threads (the sync handler's pool)."""

from concurrent.futures import ThreadPoolExecutor

from contract import Business, BusinessCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counts:
    def __init__(self) -> None:
        self.hits = self.misses = 0

    def hit(self) -> None:
        self.hits += 1

    def miss(self) -> None:
        self.misses += 1


def business(pid: str) -> Business:
    return Business(id=f"b-{pid}", name="B", sub_domain="b", phone_number_ids=(pid,), access_token="t")


def test_a_miss_then_hits_and_the_counters():
    counts = Counts()
    cache = BusinessCache(10, 300, on_hit=counts.hit, on_miss=counts.miss)
    assert cache.get("1") is None
    cache.put("1", business("1"))
    assert cache.get("1").id == cache.get("1").id == "b-1"
    assert (counts.hits, counts.misses) == (2, 1)


def test_an_unknown_phone_id_is_not_remembered():
    # As the checklist's cache: a phone id no business has is looked up again every time.
    counts = Counts()
    cache = BusinessCache(10, 300, on_hit=counts.hit, on_miss=counts.miss)
    assert cache.get("nobody") is None and cache.get("nobody") is None
    assert (counts.hits, counts.misses, len(cache)) == (0, 2, 0)


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = BusinessCache(10, 300, timer=clock)
    cache.put("1", business("1"))
    clock.now = 299
    assert cache.get("1") is not None
    clock.now = 301
    assert cache.get("1") is None


def test_size_is_bounded():
    cache = BusinessCache(3, 300)
    for i in range(10):
        cache.put(str(i), business(str(i)))
    assert len(cache) == 3


def test_warm_up_fills_every_phone_id_up_to_the_bound_and_clear_empties():
    cache = BusinessCache(3, 300)
    two_phones = Business(id="b", name="B", sub_domain="b", phone_number_ids=("1", "2"), access_token="t")
    assert cache.put_all([two_phones, business("3"), business("4")]) == 3
    assert len(cache) == 3 and cache.get("2").id == "b"
    cache.clear()
    assert len(cache) == 0


def test_threads_share_it_safely():
    counts = Counts()
    cache = BusinessCache(50, 300, on_hit=counts.hit, on_miss=counts.miss)

    def work(i: int) -> None:
        pid = str(i % 40)
        if cache.get(pid) is None:
            cache.put(pid, business(pid))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(4000)))
    assert len(cache) == 40 and counts.hits + counts.misses == 4000 and counts.misses >= 40


def test_a_cached_token_never_shows_in_a_repr():
    cache = BusinessCache(2, 300)
    cache.put("1", Business(id="b", name="B", sub_domain="b", phone_number_ids=("1",), access_token="EAAGsecret"))
    assert "EAAGsecret" not in repr(cache.get("1"))
