"""The delivery audit: what the services were obliged to answer, against what the upstream received.

An obligation arises from a request with ``expects_reply`` that was answered 2xx: the service
told Meta "done", so exactly one reply must have reached the Graph API for that wamid. A
message that obliged a reply but was never acknowledged (every attempt failed or was cut off)
may fairly have 0 or 1 reply: Meta would retry it, so it is counted apart, neither lost nor
unexpected. Set operations on unique wamids keep this fast at hundreds of thousands of records.

Two faults double replies by their nature, and each such double is counted apart from the
others, so a broken claim cannot hide among them: a worker killed after delivering a reply and
before marking it done (its claim is taken over once the lease runs out, and the retry answers
again: *in a crash window*, given the messages the kills cut off), and a Graph API send answered
as the service gave up on it (the fake upstream files it under ``edge_deliveries``: *at the
timeout's edge*; the Graph API has no idempotency key). A double both could explain counts once,
in the crash window.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from ..results import AuditFigures

__all__ = ["audit_figures"]

_NEEDED = ("wamid", "expects_reply", "status")


def audit_figures(
    records: pd.DataFrame,
    upstream_audit: Mapping[str, Any],
    *,
    cut_wamids: Collection[str] = (),
    other_steps: Collection[str] = (),
) -> AuditFigures:
    """Match per-request ``records`` (columns of :data:`~harness.records.RECORD_COLUMNS`) with the
    fake upstream's ``/audit`` answer; ``cut_wamids``: the messages a worker kill cut off;
    ``other_steps``: wamids of other steps' messages, whose replies landed during this step (a
    service working off its queue after its own step): counted apart, never as doubled."""
    missing = [column for column in _NEEDED if column not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s) {missing}")
    wamid = records["wamid"].fillna("").astype(str)
    # Statuses and handshakes carry no wamid: they never oblige a reply.
    obliging = records["expects_reply"].fillna(False).astype(bool) & (wamid != "")
    acknowledged = obliging & records["status"].between(200, 299)

    obliged = pd.Index(wamid[obliging].unique())
    expected = pd.Index(wamid[acknowledged].unique())
    unacknowledged = obliged.difference(expected)

    deliveries = _deliveries(upstream_audit)
    elsewhere = deliveries.index.intersection(pd.Index(list(other_steps), dtype=object))
    from_other_steps = int(deliveries[elsewhere].sum())
    deliveries = deliveries.drop(elsewhere)
    delivered = int((deliveries.reindex(expected, fill_value=0) > 0).sum())
    # A reply quoting no message is filed under "": it answers nothing, so it is unexpected,
    # but it is not one message answered twice.
    unexpected = int(deliveries[~deliveries.index.isin(obliged)].sum())
    doubled = deliveries.index[(deliveries > 1) & (deliveries.index != "")]
    in_crash_window = doubled.intersection(pd.Index(list(cut_wamids), dtype=object))
    at_edge = doubled.difference(in_crash_window).intersection(_deliveries(upstream_audit, "edge_deliveries").index)
    return AuditFigures(
        expected=len(expected),
        delivered=delivered,
        lost=len(expected) - delivered,
        doubled=len(doubled),
        doubled_in_crash_window=len(in_crash_window),
        doubled_at_timeout_edge=len(at_edge),
        wrong_token=int(upstream_audit.get("wrong_token", 0)),
        unexpected=unexpected,
        unacknowledged=len(unacknowledged),
        other_steps=from_other_steps,
    )


def _deliveries(upstream_audit: Mapping[str, Any], key: str = "deliveries") -> pd.Series:
    counts = upstream_audit.get(key) or {}
    series = pd.Series(counts, dtype="int64")
    series.index = series.index.astype(str)
    return series[series > 0]
