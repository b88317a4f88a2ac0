"""GET /whatsapp_response: Meta's verification handshake, identical in both designs."""

import httpx
import pytest


def _get(service, **params):
    return httpx.get(f"{service.url}/whatsapp_response", params=params, timeout=10)


def test_matching_token_echoes_the_challenge_as_plain_text(service):
    answer = _get(
        service,
        **{"hub.mode": "subscribe", "hub.verify_token": service.bench.verify_token, "hub.challenge": "1158201444"},
    )
    assert answer.status_code == 200
    assert answer.text == "1158201444"
    assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "<token>", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "<token>"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "no-token", "no-challenge", "nothing"],
)
def test_anything_else_is_403(service, params):
    params = {k: service.bench.verify_token if v == "<token>" else v for k, v in params.items()}
    answer = _get(service, **params)
    assert answer.status_code == 403
    assert answer.json() == {"error": "verification failed"}
