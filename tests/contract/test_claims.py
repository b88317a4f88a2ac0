"""The claim protocol's pending writes, which both services' backlogs drain."""

from __future__ import annotations

from contract import Claim, PendingWrites
from contract.claims import DONE, PENDING


class _Recording(PendingWrites):
    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def _added(self) -> None:
        self.wakes += 1


def test_a_delivered_reply_waiting_for_its_mark_counts_as_replied_until_settled():
    writes, claim = _Recording(), Claim("wamid.1")
    writes.mark_done(claim, "reply-1")
    assert writes.replied("wamid.1") and not writes.replied("wamid.2") and writes.wakes == 1
    ((key, write),) = writes.pending()
    assert write.method == "update_one"
    assert write.args[0] == {"_id": "wamid.1"} and write.args[1]["$set"]["state"] == DONE
    writes.settle(key)
    assert not writes.replied("wamid.1") and len(writes) == 0


def test_releases_free_only_their_own_claim_and_never_count_as_replied():
    writes = _Recording()
    first, second = Claim("wamid.1"), Claim("wamid.1")  # a retry claimed the message again
    writes.release(first)
    writes.release(second)
    writes.release(first)  # the same release twice is one write
    assert len(writes) == 2 and not writes.replied("wamid.1") and writes.wakes == 3
    filters = [write.args[0] for _, write in writes.pending()]
    assert all(write.method == "delete_one" for _, write in writes.pending())
    assert filters == [
        {"_id": "wamid.1", "state": PENDING, "claim": first.token},
        {"_id": "wamid.1", "state": PENDING, "claim": second.token},
    ]


def test_a_snapshot_is_not_disturbed_by_writes_added_while_it_is_retried():
    writes = _Recording()
    writes.mark_done(Claim("wamid.1"), "reply-1")
    snapshot = writes.pending()
    writes.mark_done(Claim("wamid.2"), "reply-2")
    assert len(snapshot) == 1 and len(writes) == 2
