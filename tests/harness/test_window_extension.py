"""A closed-loop window too short for the requests a level needs is extended, within a bound; the
load outlasts the window by a tail sized to its slowest requests."""

import pytest

from harness.runs import step


class _CountingRun:
    """Locust's running count of answers: ``counts`` read one after another."""

    def __init__(self, *counts: int) -> None:
        self._counts = list(counts)

    def requests_so_far(self) -> int:
        return self._counts.pop(0) if len(self._counts) > 1 else self._counts[0]


@pytest.fixture
def slept(monkeypatch):
    seconds: list[float] = []
    monkeypatch.setattr(step, "_sleep_reporting", lambda s, *_a, **_k: seconds.append(s) or False)
    return seconds


def test_a_window_short_of_the_minimum_is_extended_by_what_the_rate_needs(slept):
    # 192 answers in 12 s (16 a second): 28 more for 220 take 1.75 s; then 220 are there
    added = step._extend_window(_CountingRun(1192, 1220), lambda _: None, 1000, 220, 12.0, 6.0)
    assert added == pytest.approx(1.75) and slept == [pytest.approx(1.75)]


def test_a_rate_that_fell_during_the_extension_is_read_again_for_a_few_rounds(slept):
    # 192 in 12 s: 1.75 s more; 206 by 13.75 s: 14 more take 0.93 s; 212 by 14.68 s: 8 more take
    # 0.55 s; three rounds at most.
    added = step._extend_window(_CountingRun(1192, 1206, 1212, 1240), lambda _: None, 1000, 220, 12.0, 6.0)
    expected = [1.75, 14 * 13.75 / 206, 8 * (13.75 + 14 * 13.75 / 206) / 212]
    assert slept == [pytest.approx(s) for s in expected] and added == pytest.approx(sum(expected))


def test_a_later_round_never_takes_the_window_past_its_bound(slept):
    # 1.75 s fit the 2 s bound; the second round would want 1.92 s and gets the 0.25 s left.
    added = step._extend_window(_CountingRun(1192, 1193), lambda _: None, 1000, 220, 12.0, 2.0)
    assert added == pytest.approx(2.0) and slept == [pytest.approx(1.75), pytest.approx(0.25)]


def test_a_window_with_enough_requests_or_none_is_not_extended(slept):
    assert step._extend_window(_CountingRun(1300), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert step._extend_window(_CountingRun(1000), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert slept == []


def test_a_service_too_slow_to_reach_the_minimum_within_the_bound_is_not_extended(slept):
    # 72 answers in 12 s (6 a second): 148 more take 24.7 s, past the 6 s bound
    assert step._extend_window(_CountingRun(1072), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert slept == []


@pytest.mark.parametrize(
    ("p99_ms", "tail_s"),
    [(None, 2.0), (40.0, 0.5), (600.0, 1.2), (5000.0, 2.0)],
)
def test_the_load_outlasts_the_window_by_twice_its_slowest_latency_within_half_a_second_to_two(p99_ms, tail_s):
    assert step.tail_s(p99_ms) == pytest.approx(tail_s)
