"""The figures of a fault run, from the per-request records and the ``/ready`` polls: errors
while the fault was in force, the time to recover after it, and whether ``/ready`` said so."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["READY_GRACE_S", "errors_between", "ready_behaviour", "recovery_seconds"]

READY_GRACE_S = 5.0  # a /ready 503 this long after the fault's end still belongs to it


def _failed(records: pd.DataFrame) -> pd.Series:
    """5xx or no answer: what Meta would retry."""
    return (records["status"] == 0) | (records["status"] >= 500)


def errors_between(records: pd.DataFrame, start: float, end: float) -> tuple[int, int]:
    """(failed requests, requests) among those in flight at some time in [start, end): a request
    sent before the fault that waited it out (a thread blocked on the database) belongs to it."""
    if records.empty:
        return 0, 0
    finished = records["t_start"] + records["latency_ms"] / 1000.0
    during = records[(records["t_start"] < end) & (finished >= start)]
    return int(_failed(during).sum()), len(during)


def recovery_seconds(records: pd.DataFrame, fault_end: float) -> float | None:
    """Seconds from the fault's end to the first full second (with requests) in which every
    request sent succeeded: 0 when the first second after it is clean, None when none is."""
    if records.empty:
        return None
    after = records[records["t_start"] >= fault_end]
    if after.empty:
        return None
    second = np.floor(after["t_start"].to_numpy() - fault_end).astype(int)
    failed = pd.Series(_failed(after).to_numpy(), index=second).groupby(level=0).any()
    clean = failed[~failed]
    return None if clean.empty else float(clean.index[0])


def ready_behaviour(polls: list[tuple[float, int]], fault_start: float, fault_end: float) -> tuple[bool, bool]:
    """(``/ready`` answered 503 during the fault or just after it, and its last answer was 200)."""
    if not polls:
        return False, False
    seen = any(status == 503 for at, status in polls if fault_start <= at < fault_end + READY_GRACE_S)
    return seen, polls[-1][1] == 200
