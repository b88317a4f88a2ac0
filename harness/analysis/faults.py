"""The figures of a fault run, from the per-request records and the ``/ready`` polls: errors
while the fault was in force, the time to recover after it, whether ``/ready`` said so, and for a
worker crash which messages each kill cut off and how long a claim's lease held them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..records import ABANDONED

__all__ = [
    "CUT_TOLERANCE_S",
    "READY_GRACE_S",
    "CrashFigures",
    "crash_figures",
    "cut_messages",
    "errors_between",
    "ready_behaviour",
    "recovery_seconds",
    "statuses_between",
]

READY_GRACE_S = 5.0  # a /ready 503 this long after the fault's end still belongs to it
# An attempt a kill cut off was sent before the kill (or in the instant the process took to die)
# and ended, unanswered, at it or after it.
CUT_TOLERANCE_S = 0.05


def _failed(records: pd.DataFrame) -> pd.Series:
    """5xx or no answer: what Meta would retry."""
    return (records["status"] == 0) | (records["status"] >= 500)


def _during(records: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    finished = records["t_start"] + records["latency_ms"] / 1000.0
    return records[(records["t_start"] < end) & (finished >= start)]


def errors_between(records: pd.DataFrame, start: float, end: float) -> tuple[int, int]:
    """(failed requests, requests) among those in flight at some time in [start, end): a request
    sent before the fault that waited it out (a thread blocked on the database) belongs to it."""
    if records.empty:
        return 0, 0
    during = _during(records, start, end)
    return int(_failed(during).sum()), len(during)


def statuses_between(records: pd.DataFrame, start: float, end: float) -> dict[str, int]:
    """HTTP status -> requests in flight during [start, end) (0: no answer): how the service
    answered Meta while the fault was in force (a 503 asks for a retry, a 500 is a failure)."""
    if records.empty:
        return {}
    counts = _during(records, start, end)["status"].value_counts()
    return {str(int(status)): int(n) for status, n in sorted(counts.items())}


def cut_messages(records: pd.DataFrame, kills: Sequence[float]) -> dict[str, float]:
    """wamid -> the kill that cut off one of its attempts, for messages that oblige a reply: an
    attempt left unanswered (status 0, not abandoned by the generator) that was in flight at a
    kill. Its worker may have claimed, even delivered, the reply before it died."""
    if records.empty or not kills:
        return {}
    obliging = records[
        records["expects_reply"].fillna(False).astype(bool)
        & (records["wamid"].fillna("").astype(str) != "")
        & (records["status"] == 0)
        & (records["error"].fillna("").astype(str) != ABANDONED)
    ]
    if obliging.empty:
        return {}
    start = obliging["t_start"].to_numpy()
    end = start + obliging["latency_ms"].to_numpy() / 1000.0
    wamids = obliging["wamid"].astype(str).to_numpy()
    cut: dict[str, float] = {}
    for kill in sorted(kills):
        hit = (start <= kill + CUT_TOLERANCE_S) & (end >= kill - CUT_TOLERANCE_S)
        for wamid in wamids[hit]:
            cut.setdefault(str(wamid), kill)
    return cut


@dataclass(frozen=True)
class CrashFigures:
    """What the kills did to the messages they cut off."""

    messages_cut: int
    unacknowledged: int  # cut, and never answered 2xx afterwards in the window
    cut_to_ack_max_s: float | None  # the longest from a kill to the 2xx of a message it cut


def crash_figures(records: pd.DataFrame, cut: dict[str, float]) -> CrashFigures:
    """How long the messages ``cut`` (wamid -> kill) waited for a 2xx after their kill: a claim a
    dead worker left behind answers every retry 503 until its lease runs out."""
    if not cut or records.empty:
        return CrashFigures(len(cut), len(cut), None)
    acked = records[records["wamid"].astype(str).isin(cut.keys()) & records["status"].between(200, 299)]
    first_ack: dict[str, float] = {}  # wamid -> seconds from its kill to its first 2xx after it
    for wamid, sent, latency_ms in zip(acked["wamid"].astype(str), acked["t_start"], acked["latency_ms"], strict=True):
        wait = sent + latency_ms / 1000.0 - cut[wamid]
        if wait >= 0:
            first_ack[wamid] = min(first_ack.get(wamid, wait), wait)
    return CrashFigures(
        messages_cut=len(cut),
        unacknowledged=len(cut) - len(first_ack),
        cut_to_ack_max_s=round(max(first_ack.values()), 3) if first_ack else None,
    )


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
