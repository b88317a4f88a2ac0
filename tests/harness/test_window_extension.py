"""A closed-loop window too short for the requests a level needs is extended, within a bound."""

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
    # 192 answers in 12 s (16 a second): 28 more for 220 take 1.75 s
    added = step._extend_window(_CountingRun(1192), lambda _: None, 1000, 220, 12.0, 6.0)
    assert added == pytest.approx(1.75) and slept == [pytest.approx(1.75)]


def test_a_window_with_enough_requests_or_none_is_not_extended(slept):
    assert step._extend_window(_CountingRun(1300), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert step._extend_window(_CountingRun(1000), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert slept == []


def test_a_service_too_slow_to_reach_the_minimum_within_the_bound_is_not_extended(slept):
    # 72 answers in 12 s (6 a second): 148 more take 24.7 s, past the 6 s bound
    assert step._extend_window(_CountingRun(1072), lambda _: None, 1000, 220, 12.0, 6.0) == 0.0
    assert slept == []
