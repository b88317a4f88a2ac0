"""Running services for tests: seed a database, start a service process, talk to it.

Shared by the contract suite and the service-specific tests; every process started here is a
real server on loopback, stopped by PID by the fixture that started it.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from pymongo.database import Database

from contract import PROCESSED_MESSAGES, VARIANTS, TokenCipher, new_business_document
from contract.http import WEBHOOK_PATH
from harness.bench.database import DatabaseServer
from harness.bench.seeding import SeedPlan, access_token_for, seed_businesses
from harness.bench.services import BenchSecrets, ServiceProcess, service_environment
from harness.load.payloads import PayloadFactory, encode, signed_headers
from harness.runs import variant_target
from harness.upstream import UpstreamProcess
from tests.samples import SAMPLE_PHONE_IDS

# Every shipped variant runs the one contract suite (the checklist's is the motor one).
SERVICES = tuple(VARIANTS)
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
            business_id=f"sample-{index}",
            name=f"Sample {index}",
            sub_domain=f"sample-{index}",
            waba_id="102290129340398",
            phone_number_ids=[phone_id],
            access_token=access_token_for(plan, f"sample-{index}"),
            refresh_token="unused",
            cipher=cipher,
            token_expires_at=datetime.datetime(2030, 1, 1),
        )
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
        return httpx.post(
            f"{self.url}{WEBHOOK_PATH}", content=body, headers=signed_headers(body, key), timeout=60, **kwargs
        )

    def deliveries(self, wamid: str) -> int:
        return int(self.upstream.audit()["deliveries"].get(wamid, 0))

    def processed(self, wamid: str) -> dict[str, Any] | None:
        return self.db[PROCESSED_MESSAGES].find_one({"_id": wamid})


def start_deployment(
    name: str,
    *,
    database: DatabaseServer,
    mongo: MongoClient[Any],
    bench: BenchSecrets,
    upstream: UpstreamProcess,
    logs_dir: Path,
    workers: int = 1,
    db_suffix: str = "",
    env: dict[str, str] | None = None,
) -> tuple[ServiceProcess, Database[Any], SeedPlan]:
    target = variant_target(name)
    db_name = "contract_" + re.sub(r"[^a-z0-9_]", "_", name.lower()) + db_suffix
    mongo.drop_database(db_name)
    db = mongo[db_name]
    # Seeded without the migration's indexes: a variant that has them creates them itself.
    plan = seed_contract_db(db, bench, indexes=False)
    env = service_environment(
        bench,
        mongodb_uri=database.uri,
        db_name=db_name,
        graph_api_base_url=upstream.graph_base_url,
        llm_base_url=upstream.llm_base_url,
        overrides={**target.env, **CONTRACT_ENV, **(env or {})},
    )
    process = ServiceProcess(name, target.app, env=env, workers=workers, log_path=logs_dir / f"{db_name}.log")
    return process.start(), db, plan
