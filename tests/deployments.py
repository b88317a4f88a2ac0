"""Running services for tests: seed a database, start a service process, talk to it.

Shared by the contract suite and the service-specific tests; every process started here is a
real server on loopback, stopped by PID by the fixture that started it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from pymongo.database import Database

from contract import PROCESSED_MESSAGES, TokenCipher, new_business_document
from harness.database import DatabaseServer
from harness.payloads import PayloadFactory, encode, signed_headers
from harness.seeding import SeedPlan, access_token_for, seed_businesses
from harness.services import BenchSecrets, ServiceProcess, service_environment
from harness.upstream import UpstreamProcess
from tests.samples import SAMPLE_PHONE_IDS

SERVICES = {
    "original": ("original", {}),
    "optimized": ("optimized", {}),
    "optimized-motor": ("optimized", {"MONGO_DRIVER": "motor"}),
}
PLAN_SIZE = (6, 2)  # businesses, phones each
# Short upstream timeouts keep the timeout tests quick; the lease is long enough to never expire
# by itself during a test.
CONTRACT_ENV = {"GRAPH_API_TIMEOUT": "1.5", "LLM_TIMEOUT": "1.5", "PROCESSING_LEASE_SECONDS": "120"}


def seed_contract_db(db: Database[Any], bench: BenchSecrets, *, indexes: bool) -> SeedPlan:
    """The seeded plan plus one business per shared-sample phone id."""
    plan = SeedPlan(*PLAN_SIZE, token_seed=bench.token_seed)
    cipher = TokenCipher(bench.encryption_secret)
    seed_businesses(db, plan, cipher, indexes=indexes)
    for index, phone_id in enumerate(SAMPLE_PHONE_IDS):
        document = new_business_document(
            business_id=f"sample-{index}", name=f"Sample {index}", sub_domain=f"sample-{index}",
            waba_id="102290129340398", phone_number_ids=[phone_id],
            access_token=access_token_for(plan, f"sample-{index}"),
            refresh_token="unused", cipher=cipher, token_expires_at=datetime.datetime(2030, 1, 1),
        )  # fmt: skip
        db["businesses"].update_one({"_id": document["_id"]}, {"$setOnInsert": document}, upsert=True)
    return plan


@dataclass
class Deployment:
    """One running service and what a test needs to talk to it and to check what it did."""

    name: str
    process: ServiceProcess
    db: Database[Any]
    plan: SeedPlan
    bench: BenchSecrets
    upstream: UpstreamProcess
    factory: PayloadFactory

    @property
    def url(self) -> str:
        return self.process.url

    def post(self, payload: dict[str, Any] | bytes, *, secret: str | None = "", **kwargs: Any) -> httpx.Response:
        """POST a payload signed with the app secret (``secret=None``: unsigned)."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        key = self.bench.app_secret if secret == "" else secret
        return httpx.post(f"{self.url}/whatsapp_response", content=body, headers=signed_headers(body, key),
                          timeout=60, **kwargs)  # fmt: skip

    def deliveries(self, wamid: str) -> int:
        return int(self.upstream.audit()["deliveries"].get(wamid, 0))

    def processed(self, wamid: str) -> dict[str, Any] | None:
        return self.db[PROCESSED_MESSAGES].find_one({"_id": wamid})


def start_deployment(
    name: str, *, database: DatabaseServer, mongo: MongoClient[Any], bench: BenchSecrets,
    upstream: UpstreamProcess, logs_dir: Path, workers: int = 1, db_suffix: str = "",
) -> tuple[ServiceProcess, Database[Any], SeedPlan]:  # fmt: skip
    service, overrides = SERVICES[name]
    db_name = f"contract_{name.replace('-', '_')}{db_suffix}"
    mongo.drop_database(db_name)
    db = mongo[db_name]
    plan = seed_contract_db(db, bench, indexes=service == "optimized")
    env = service_environment(
        bench, mongodb_uri=database.uri, db_name=db_name,
        graph_api_base_url=upstream.graph_base_url, llm_base_url=upstream.llm_base_url,
        overrides={**CONTRACT_ENV, **overrides},
    )  # fmt: skip
    process = ServiceProcess(service, env=env, workers=workers, log_path=logs_dir / f"{name}{db_suffix}.log")
    return process.start(), db, plan
