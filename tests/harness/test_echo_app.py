"""The bare echo app, served exactly as the services are (harness.services), on loopback."""

from __future__ import annotations

import httpx

from harness.bench.services import ServiceProcess
from harness.processes import base_environment


def test_the_echo_app_answers_the_webhook_routes_and_nothing_else(tmp_path):
    with ServiceProcess(
        "echo", "harness.bench.echo_app:app", env=base_environment(), log_path=tmp_path / "echo.log"
    ) as echo:
        with httpx.Client(base_url=echo.url, timeout=5) as client:
            posted = client.post("/whatsapp_response", content=b'{"object": "anything"}' * 1000)
            assert posted.status_code == 200 and posted.json() == {"status": "ok"}
            challenge = client.get("/whatsapp_response", params={"hub.mode": "subscribe", "hub.challenge": "8812"})
            assert challenge.status_code == 200 and challenge.text == "8812"
            assert client.get("/health").json() == {"status": "ok"}
            for path in ("/docs", "/openapi.json", "/metrics", "/ready"):
                assert client.get(path).status_code == 404
        pid = echo.pid
    assert not echo.alive and pid > 0
