"""The bare FastAPI app: the machine's own ceiling for a run.

It answers the webhook's routes and does nothing else: no signature check, no database, no
upstream. Run with the services' own server flags (:mod:`harness.bench.services`), its CPU per request
is the floor the framework and server cost on this machine, against which the services' CPU
per request is read.
"""

from __future__ import annotations

from fastapi import FastAPI, Query, Request
from fastapi.responses import PlainTextResponse

from contract.http import WEBHOOK_PATH

__all__ = ["app"]

app = FastAPI(title="echo", docs_url=None, redoc_url=None, openapi_url=None)


@app.post(WEBHOOK_PATH)
async def receive(request: Request) -> dict[str, str]:
    await request.body()  # read it, as every service must
    return {"status": "ok"}


@app.get(WEBHOOK_PATH, response_class=PlainTextResponse)
async def handshake(challenge: str = Query("", alias="hub.challenge")) -> str:
    return challenge


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
