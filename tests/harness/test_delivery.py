"""The delivery audit on constructed records: every category, its edge cases, and 200k rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis.audit import audit_figures
from harness.load.payloads import PayloadFactory, other_step_wamids
from harness.load.profile import LoadProfile
from harness.results import RECORD_COLUMNS, AuditFigures

ZERO = dict(expected=0, delivered=0, lost=0, doubled=0, wrong_token=0, unexpected=0, unacknowledged=0)


def record(
    wamid: str, status: int = 200, *, kind: str = "text", expects_reply: bool | None = None, attempt: int = 1
) -> dict:
    expects = kind in ("text", "media") if expects_reply is None else expects_reply
    row = {column: 0 for column in RECORD_COLUMNS}
    row.update(
        service="optimized",
        users=50,
        kind=kind,
        wamid=wamid,
        status=status,
        expects_reply=expects,
        attempt=attempt,
        error="" if status else "ReadTimeout",
    )
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(RECORD_COLUMNS))


def audit(deliveries: dict[str, int] | None = None, wrong_token: int = 0) -> dict:
    deliveries = deliveries or {}
    return {
        "deliveries": deliveries,
        "wrong_token": wrong_token,
        "replies": sum(deliveries.values()),
    }


def figures(**changes: int) -> AuditFigures:
    return AuditFigures(**(ZERO | changes))


def test_one_acknowledged_message_answered_once_passes():
    result = audit_figures(frame(record("w1")), audit({"w1": 1}))
    assert result == figures(expected=1, delivered=1)
    assert result.passed


def test_an_acknowledged_message_without_a_reply_is_lost():
    result = audit_figures(frame(record("w1"), record("w2")), audit({"w1": 1}))
    assert result == figures(expected=2, delivered=1, lost=1)
    assert not result.passed


def test_a_message_answered_twice_is_doubled_and_still_delivered():
    result = audit_figures(frame(record("w1")), audit({"w1": 2}))
    assert result == figures(expected=1, delivered=1, doubled=1)
    assert not result.passed


def test_a_retry_acknowledged_on_its_second_attempt_is_expected_once():
    records = frame(record("w1", 0, attempt=1), record("w1", 503, attempt=2), record("w1", 200, attempt=3))
    assert audit_figures(records, audit({"w1": 1})) == figures(expected=1, delivered=1)


def test_a_message_never_acknowledged_is_neither_lost_nor_unexpected():
    records = frame(record("w1", 0), record("w1", 503, attempt=2), record("w2", 503))
    result = audit_figures(records, audit({"w1": 1}))  # w1 was answered before its 503, w2 was not
    assert result == figures(unacknowledged=2)
    assert result.passed


def test_a_duplicate_resend_adds_no_obligation_and_no_excuse():
    records = frame(record("w1"), record("w1", kind="duplicate"), record("w2"), record("w2", kind="duplicate"))
    assert audit_figures(records, audit({"w1": 1, "w2": 1})) == figures(expected=2, delivered=2)
    # The duplicate must not be answered again: that second reply is a doubling.
    assert audit_figures(records, audit({"w1": 2, "w2": 1})) == figures(expected=2, delivered=2, doubled=1)


def test_a_2xx_on_a_resend_alone_does_not_oblige_a_reply():
    # The original attempt failed; only a duplicate re-send (expects no reply) was acknowledged.
    records = frame(record("w1", 0), record("w1", 200, kind="duplicate"))
    assert audit_figures(records, audit({"w1": 1})) == figures(unacknowledged=1)


@pytest.mark.parametrize("kind", ["unknown_phone", "disabled", "duplicate"])
def test_a_reply_to_a_message_that_obliges_none_is_unexpected(kind):
    result = audit_figures(frame(record("w1", kind=kind)), audit({"w1": 1}))
    assert result == figures(unexpected=1)
    assert not result.passed


def test_replies_to_messages_never_sent_and_to_no_message_are_unexpected():
    records = frame(record("w1"), record("", kind="status"))
    result = audit_figures(records, audit({"w1": 1, "ghost": 2, "": 3}))
    assert result == figures(expected=1, delivered=1, unexpected=5, doubled=1)  # ghost twice; "" is no message


def test_wrong_token_comes_from_the_upstream():
    result = audit_figures(frame(record("w1")), audit({"w1": 1}, wrong_token=4))
    assert result == figures(expected=1, delivered=1, wrong_token=4)
    assert not result.passed


def test_statuses_and_handshakes_oblige_nothing_even_if_flagged():
    records = frame(record("", kind="status", expects_reply=True), record("", kind="handshake"))
    assert audit_figures(records, audit()) == figures()


def test_nothing_in_nothing_out():
    assert audit_figures(frame(), audit()) == figures()
    assert audit_figures(frame(), {}) == figures()


def test_zero_counts_in_the_ledger_are_no_deliveries():
    assert audit_figures(frame(record("w1")), audit({"w1": 0})) == figures(expected=1, lost=1)


def test_records_without_the_needed_columns_are_refused():
    with pytest.raises(ValueError, match="expects_reply"):
        audit_figures(pd.DataFrame({"wamid": ["w1"], "status": [200]}), audit())


def test_two_hundred_thousand_records():
    rng = np.random.default_rng(11)
    n = 200_000
    wamids = np.array([f"wamid.{i:07d}" for i in range(n // 2)])
    # Every message is sent twice: the first attempt fails a tenth of the time, the second is a retry.
    first_ok = rng.random(n // 2) > 0.1
    second_ok = rng.random(n // 2) > 0.5
    expects = rng.random(n // 2) > 0.2  # a fifth are statuses-like kinds that oblige nothing
    records = pd.DataFrame(
        {
            "wamid": np.concatenate([wamids, wamids]),
            "status": np.concatenate([np.where(first_ok, 200, 0), np.where(second_ok, 200, 503)]),
            "expects_reply": np.concatenate([expects, expects]),
            "attempt": np.repeat([1, 2], n // 2),
        }
    )
    acked = expects & (first_ok | second_ok)
    answered = acked.copy()
    answered[np.flatnonzero(acked)[:100]] = False  # 100 lost
    counts = answered.astype(int)
    counts[np.flatnonzero(acked)[100:130]] = 2  # 30 doubled
    counts[np.flatnonzero(~expects)[:7]] = 1  # 7 unexpected
    deliveries = {w: int(c) for w, c in zip(wamids, counts, strict=True) if c}
    result = audit_figures(records, audit(deliveries))
    assert result == figures(
        expected=int(acked.sum()),
        delivered=int(acked.sum()) - 100,
        lost=100,
        doubled=30,
        unexpected=7,
        unacknowledged=int((expects & ~acked).sum()),
    )


# -- replies that belong to another step ------------------------------------------------------------
def _step_wamids(service: str, n: int) -> list[str]:
    profile = LoadProfile(service=service, users=250, seed=7)  # the same seed for both services
    factory = PayloadFactory(7, salt=profile.wamid_salt)
    return [factory.wamid() for _ in range(n)]


def test_each_step_marks_its_wamids_so_the_same_seed_never_repeats_them():
    mine, previous = _step_wamids("optimized", 3), _step_wamids("original", 3)
    assert not set(mine) & set(previous)
    assert _step_wamids("optimized", 3) == mine  # still reproducible
    assert other_step_wamids(previous + mine, mine) == previous


def test_a_reply_to_another_steps_message_is_counted_apart_not_as_a_double():
    # The previous service of the level works off its queue after its step: its late replies
    # land while this step runs. They are that step's, not this one's, whatever the seeds.
    mine, previous = _step_wamids("optimized", 2), _step_wamids("original", 2)
    deliveries = {mine[0]: 1, mine[1]: 1, previous[0]: 1, previous[1]: 1}
    records = frame(record(mine[0]), record(mine[1]))
    result = audit_figures(records, audit(deliveries), other_steps=other_step_wamids(deliveries, mine))
    assert result == figures(expected=2, delivered=2, other_steps=2)
    assert result.passed
    # A reply quoting a wamid no step sent stays unexpected.
    stranger = {**deliveries, "wamid.not-ours": 1}
    result = audit_figures(records, audit(stranger), other_steps=other_step_wamids(stranger, mine))
    assert (result.unexpected, result.other_steps) == (1, 2)
