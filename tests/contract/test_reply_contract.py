"""POST /whatsapp_response: exactly one reply per message, with that business's own token."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from contract import ClientScope, parse_variant
from harness.bench.seeding import disabled_phone_number_id
from tests.samples import require_samples


def _message_ids(payload):
    return [m["id"] for e in payload["entry"] for c in e["changes"] for m in c["value"].get("messages", [])]


def test_a_text_message_gets_exactly_one_reply(service):
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[3])
    (wamid,) = _message_ids(payload)
    answer = service.post(payload)
    assert answer.status_code == 200
    assert answer.json() | {} == {
        "status": "ok",
        "messages": 1,
        "replied": 1,
        "duplicates": 0,
        "ignored": 0,
        "statuses": 0,
        "failed": 0,
        "in_flight": 0,
    }
    assert service.deliveries(wamid) == 1
    assert service.upstream.audit()["wrong_token"] == 0
    assert service.processed(wamid)["state"] == "done"


def test_every_shared_sample(service):
    for path in require_samples():
        body = path.read_bytes()
        answer = service.post(body)
        if path.name == "not_whatsapp.json":
            assert answer.status_code == 400, path.name
            continue
        assert answer.status_code == 200, (path.name, answer.text)
        payload = json.loads(body)
        wanted = {
            m["id"]: m["type"] not in ("unsupported", "reaction")
            for m in (m for e in payload["entry"] for c in e["changes"] for m in c["value"].get("messages", []))
        }
        for wamid, answerable in wanted.items():
            assert service.deliveries(wamid) == (1 if answerable else 0), (path.name, wamid)
    assert service.upstream.audit()["wrong_token"] == 0


def test_a_batch_across_businesses_answers_each_with_its_own_token(service):
    f, pids = service.factory, service.plan.active_phone_ids()
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "waba-a",
                "changes": [
                    f.change(pids[0], messages=[f.message("text"), f.message("image")]),
                    f.change(pids[2], statuses=[f.status("read")]),
                ],
            },
            {
                "id": "waba-b",
                "changes": [
                    f.change(pids[5], messages=[f.message("text")]),
                    f.change(pids[8], messages=[f.message("location")], statuses=[f.status("delivered")]),
                ],
            },
        ],
    }
    answer = service.post(payload)
    assert answer.status_code == 200
    assert answer.json()["replied"] == 4 and answer.json()["statuses"] == 2
    assert [service.deliveries(w) for w in _message_ids(payload)] == [1, 1, 1, 1]
    assert service.upstream.audit()["wrong_token"] == 0


@pytest.mark.parametrize(
    "kind",
    ["text", "image", "audio", "video", "document", "sticker", "location", "interactive", "interactive_list", "button"],
)
def test_every_answerable_type_is_answered(service, kind):
    f = service.factory
    payload = f.envelope(f.change(service.plan.active_phone_ids()[1], messages=[f.message(kind)]))
    assert service.post(payload).json()["replied"] == 1
    assert service.deliveries(_message_ids(payload)[0]) == 1


@pytest.mark.parametrize("kind", ["reaction", "unsupported", "system", "hologram"])
def test_types_that_get_no_reply_are_acknowledged_and_counted(service, kind):
    f = service.factory
    payload = f.envelope(f.change(service.plan.active_phone_ids()[1], messages=[f.message(kind)]))
    answer = service.post(payload)
    assert answer.status_code == 200 and answer.json()["ignored"] == 1
    assert service.deliveries(_message_ids(payload)[0]) == 0


def test_statuses_are_accepted_and_never_answered(service):
    f = service.factory
    payload = f.envelope(
        f.change(
            service.plan.active_phone_ids()[0],
            statuses=[f.status(s) for s in ("sent", "delivered", "read", "failed", "played")],
        )
    )
    answer = service.post(payload)
    assert answer.status_code == 200 and answer.json()["statuses"] == 5
    assert service.upstream.audit()["replies"] == 0


@pytest.mark.parametrize("phone", ["unknown", "disabled", "inactive"])
def test_unknown_or_disabled_business_is_acknowledged_never_answered(service, phone):
    pid = "100000000099999" if phone == "unknown" else disabled_phone_number_id(phone)
    payload = service.factory.text_webhook(pid)
    answer = service.post(payload)
    assert answer.status_code == 200 and answer.json()["ignored"] == 1
    assert service.deliveries(_message_ids(payload)[0]) == 0
    assert service.processed(_message_ids(payload)[0]) is None


def test_a_repeated_delivery_is_not_answered_again(service):
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[2])
    first, again = service.post(payload), service.post(payload)
    assert first.json()["replied"] == 1
    assert again.status_code == 200 and again.json()["duplicates"] == 1 and again.json()["replied"] == 0
    assert service.deliveries(_message_ids(payload)[0]) == 1


def test_concurrent_duplicates_get_one_reply(service):
    service.upstream.configure(graph={"latency_ms": 200})  # keep the first one in flight
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[4])
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: service.post(payload), range(8)))
    assert {a.status_code for a in answers} <= {200, 503}
    assert sum(a.json().get("replied", 0) for a in answers) == 1
    # Those told 503 (still in flight) are answered "duplicate" on Meta's retry.
    retry = service.post(payload)
    assert retry.status_code == 200 and retry.json()["duplicates"] == 1
    assert service.deliveries(_message_ids(payload)[0]) == 1


def test_a_thousand_updates_in_one_post(service):
    # Meta's largest batch. A variant with a new client per call pays ~50 ms of client
    # construction per reply (two clients), 40 s for 750 replies on one core: it gets a quarter
    # of the batch, through the same code path, so the suite stays within its time.
    updates = 250 if parse_variant(service.name).http_client is ClientScope.PER_CALL else 1000
    service.upstream.configure(graph={"latency_ms": 0}, llm={"latency_ms": 0})
    payload = service.factory.batch(service.plan.active_phone_ids(), updates)
    answer = service.post(payload)
    messages = updates - updates // 4  # every fourth update of the factory's batch is a status
    assert answer.status_code == 200
    assert answer.json()["replied"] == messages and answer.json()["statuses"] == updates - messages
    audit = service.upstream.audit()
    assert audit["delivered_messages"] == messages and audit["duplicates"] == 0 and audit["wrong_token"] == 0
