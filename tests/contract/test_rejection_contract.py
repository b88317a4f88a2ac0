"""POST /whatsapp_response: what is refused as a whole, and that a refused request had no effect."""

import json

import httpx
import pytest

from contract import sign_body
from harness.load.payloads import encode


def _assert_untouched(service, wamid):
    assert service.deliveries(wamid) == 0
    assert service.processed(wamid) is None


def _text(service):
    payload = service.factory.text_webhook(service.plan.active_phone_ids()[0])
    return payload, payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]


def test_unsigned_body_is_401(service):
    payload, wamid = _text(service)
    answer = service.post(payload, secret=None)
    assert answer.status_code == 401
    assert "X-Hub-Signature-256" in answer.json()["error"]
    _assert_untouched(service, wamid)


@pytest.mark.parametrize("forgery", ["other-secret", "other-body", "sha1", "garbage"])
def test_forged_signature_is_401(service, forgery):
    payload, wamid = _text(service)
    body = encode(payload)
    header = {
        "other-secret": sign_body(body, "not-the-app-secret"),
        "other-body": sign_body(body + b" ", service.bench.app_secret),
        "sha1": "sha1=" + sign_body(body, service.bench.app_secret)[7:47],
        "garbage": "sha256=zz",
    }[forgery]
    answer = httpx.post(
        f"{service.url}/whatsapp_response",
        content=body,
        headers={"X-Hub-Signature-256": header, "Content-Type": "application/json"},
    )
    assert answer.status_code == 401
    _assert_untouched(service, wamid)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b'{"object": "whatsapp_business_account", "entry": [', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid UTF-8"),
        (b"[]", "not a WhatsApp webhook"),
        (b'"just a string"', "not a WhatsApp webhook"),
        (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
        (b'{"object": "whatsapp_business_account", "entry": [{"id": 1, "changes": "x"}]}', "entry.0"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
    ids=["empty", "not-json", "truncated", "not-utf8", "array", "string", "other-object", "wrong-types", "deep"],
)
def test_malformed_body_is_400_with_a_short_reason(service, body, reason):
    answer = service.post(body)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert len(answer.json()["error"]) < 200


def test_a_bad_message_anywhere_rejects_the_whole_batch(service):
    good = service.factory.message("text")
    payload = service.factory.envelope(
        service.factory.change(service.plan.active_phone_ids()[0], messages=[good]),
        service.factory.change(service.plan.active_phone_ids()[1], messages=[{"id": "wamid.broken", "type": "text"}]),
    )
    answer = service.post(payload)
    assert answer.status_code == 400
    _assert_untouched(service, good["id"])  # nothing half-processed


def test_body_over_4_mib_is_413(service):
    payload, wamid = _text(service)
    payload["padding"] = "x" * (4 * 1024 * 1024)
    answer = service.post(payload)
    assert answer.status_code == 413
    _assert_untouched(service, wamid)


def test_body_over_4_mib_without_content_length_is_413(service):
    chunk = b"x" * 65536

    def stream():
        for _ in range(70):  # 4.375 MiB, sent chunked
            yield chunk

    answer = httpx.post(
        f"{service.url}/whatsapp_response", content=stream(), headers={"X-Hub-Signature-256": "sha256=00"}, timeout=30
    )
    assert answer.status_code == 413


def test_errors_are_json_and_never_echo_the_body(service):
    secret_text = "customer-secret-" + "z" * 10
    answer = service.post(json.dumps({"object": "whatsapp_business_account", "entry": secret_text}).encode())
    assert answer.status_code == 400
    assert secret_text not in answer.text
