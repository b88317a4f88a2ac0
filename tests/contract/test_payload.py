import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import MESSAGE_TYPES, WebhookPayloadError, parse_webhook
from harness.load.payloads import PayloadFactory, encode
from tests.samples import require_samples

factory = PayloadFactory(seed=1)


def test_every_shared_sample_parses_or_is_rejected_as_not_whatsapp():
    for path in require_samples():
        if path.name == "not_whatsapp.json":
            with pytest.raises(WebhookPayloadError, match="whatsapp_business_account"):
                parse_webhook(path.read_bytes())
        else:
            parse_webhook(path.read_bytes())


def test_batch_sample_walks_every_entry_and_message():
    paths = {p.name: p for p in require_samples()}
    envelope = parse_webhook(paths["batch_two_businesses.json"].read_bytes())
    assert [(m.phone_number_id, m.message.id[-4:]) for m in envelope.messages()] == [
        ("106540352242922", "007A"),
        ("106540352242922", "008A"),
        ("106540352242933", "009A"),
    ]


def test_statuses_are_read_not_messages():
    paths = {p.name: p for p in require_samples()}
    envelope = parse_webhook(paths["statuses_delivered_read.json"].read_bytes())
    assert list(envelope.messages()) == []
    assert [s.status.status for s in envelope.statuses()] == ["delivered", "read"]


@pytest.mark.parametrize(
    "kind",
    [
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "reaction",
        "interactive",
        "interactive_list",
        "button",
        "unsupported",
    ],
)
def test_every_message_type_from_the_factory_parses(kind):
    envelope = parse_webhook(encode(factory.text_webhook("1") | {}))
    body = factory.envelope(factory.change("123", messages=[factory.message(kind)]))
    (inbound,) = parse_webhook(encode(body)).messages()
    assert inbound.message.type in MESSAGE_TYPES
    assert envelope.entry


def test_answerable_types():
    answer = {
        k: parse_webhook(encode(factory.envelope(factory.change("1", messages=[factory.message(k)]))))
        for k in ("text", "reaction", "unsupported", "image")
    }
    flags = {k: next(v.messages()).message.answerable for k, v in answer.items()}
    assert flags == {"text": True, "reaction": False, "unsupported": False, "image": True}


def test_unknown_types_fields_and_change_kinds_are_tolerated():
    body = factory.envelope(factory.change("1", messages=[factory.message("text")]))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["brand_new_field"] = {"x": 1}
    body["entry"][0]["changes"][0]["value"]["messages"].append(
        {"from": "1", "id": "wamid.new", "timestamp": "1", "type": "hologram", "hologram": {}}
    )
    body["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "X"}})
    body["entry"][0]["future"] = True
    envelope = parse_webhook(encode(body))
    assert [m.message.type for m in envelope.messages()] == ["text", "hologram"]


def test_a_thousand_updates_in_one_post():
    pids = [f"10{i:013d}" for i in range(7)]
    envelope = parse_webhook(encode(factory.batch(pids, 1000)))
    assert len(list(envelope.messages())) + len(list(envelope.statuses())) == 1000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b'{"object": "whatsapp_business_account", "entry": [', "not valid JSON"),
        (b"[]", "not a WhatsApp webhook object"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"object": "page", "entry": []}', "'object' must be"),
        (b'{"object": "whatsapp_business_account"}', "entry: Field required"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", '
            b'"value": {"metadata": {"phone_number_id": 5}}}]}]}',
            "phone_number_id",
        ),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", '
            b'"value": {"metadata": {"phone_number_id": "1"}, "messages": [{"from": "1", "id": "w", '
            b'"timestamp": "1", "type": "text"}]}}]}]}',
            "has no 'text' object",
        ),
    ],
)
def test_malformed_bodies_raise_one_typed_error_with_a_short_reason(body, reason):
    with pytest.raises(WebhookPayloadError) as caught:
        parse_webhook(body)
    assert reason in caught.value.reason
    assert len(caught.value.reason) < 200


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_any_json_value_either_parses_or_raises_the_typed_error(value):
    with contextlib.suppress(WebhookPayloadError):  # any other exception fails the test
        parse_webhook(json.dumps(value).encode())


@given(st.binary(max_size=512))
def test_any_bytes_either_parse_or_raise_the_typed_error(raw):
    with contextlib.suppress(WebhookPayloadError):  # any other exception fails the test
        parse_webhook(raw)
