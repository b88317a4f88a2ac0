"""When a reply cannot be delivered: 503, the message stays unprocessed, Meta's retry answers it once."""

from datetime import UTC, datetime, timedelta

import pytest

from contract import PROCESSED_MESSAGES


def _wamid(payload):
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]


@pytest.mark.parametrize(
    "fault",
    [
        {"graph": {"error_rate": 1.0}},
        {"graph": {"timeout_rate": 1.0, "hang_s": 5}},
        {"graph": {"latency_ms": 4000}},
        {"llm": {"error_rate": 1.0}},
    ],
    ids=["graph-500", "graph-hangs", "graph-slower-than-timeout", "llm-500"],
)
def test_undeliverable_reply_is_503_then_delivered_once_on_retry(service, fault):
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[5])
    wamid = _wamid(payload)
    service.upstream.configure(**fault)
    failed = service.post(payload)
    assert failed.status_code == 503
    assert failed.json()["failed"] == 1 and failed.headers.get("retry-after")
    assert service.processed(wamid) is None  # not marked processed: the retry must answer it
    assert service.deliveries(wamid) == 0

    service.upstream.configure(graph={"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 5}, llm={"error_rate": 0.0})
    retried = service.post(payload)
    assert retried.status_code == 200 and retried.json()["replied"] == 1
    assert service.deliveries(wamid) == 1
    assert service.post(payload).json()["duplicates"] == 1


def test_a_claim_in_flight_elsewhere_is_503_and_a_stale_one_is_taken_over(service):
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[6])
    wamid = _wamid(payload)
    store = service.db[PROCESSED_MESSAGES]
    store.insert_one({"_id": wamid, "state": "pending", "claim": "other-worker", "claimedAt": datetime.now(UTC)})
    busy = service.post(payload)
    assert busy.status_code == 503 and busy.json()["in_flight"] == 1
    assert service.deliveries(wamid) == 0

    # The other worker died: after the lease its claim may be taken over.
    store.update_one({"_id": wamid}, {"$set": {"claimedAt": datetime.now(UTC) - timedelta(hours=1)}})
    taken = service.post(payload)
    assert taken.status_code == 200 and taken.json()["replied"] == 1
    assert service.deliveries(wamid) == 1
