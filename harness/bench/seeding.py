"""Seed businesses the way the seed's database has them: encrypted tokens, the named indexes.

Seeding is deterministic for a given ``token_seed``: the same phone ids and the same tokens every
time, so two databases (one per service) hold identical businesses and the fake upstream can
check every bearer token. Re-running writes nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from contract import (
    BUSINESS_INDEXES,
    BUSINESSES,
    PROCESSED_MESSAGE_INDEXES,
    PROCESSED_MESSAGES,
    TokenCipher,
    new_business_document,
)

from ..load.payloads import disabled_phone_number_id, phone_number_id

__all__ = [
    "DEFAULT_TOKEN_SEED",
    "SeedPlan",
    "SeedReport",
    "access_token_for",
    "refresh_token_for",
    "disabled_phone_number_id",
    "ensure_indexes",
    "phone_number_id",
    "seed_businesses",
]

DEFAULT_TOKEN_SEED = "whatsapp-migration-bench"


@dataclass(frozen=True, slots=True)
class SeedPlan:
    businesses: int = 50
    phones_per_business: int = 2
    token_seed: str = DEFAULT_TOKEN_SEED

    def active_phone_ids(self) -> list[str]:
        return [phone_number_id(b, p) for b in range(self.businesses) for p in range(self.phones_per_business)]


@dataclass(frozen=True, slots=True)
class SeedReport:
    database: str
    inserted: int
    already_present: int
    indexes: tuple[str, ...]

    def __str__(self) -> str:
        made = ", ".join(self.indexes)
        return (
            f"{self.database}: {self.inserted} businesses inserted, {self.already_present} already "
            f"present; indexes: {made}"
        )


def access_token_for(plan: SeedPlan, business: int | str) -> str:
    digest = hmac.new(plan.token_seed.encode(), f"access:{business}".encode(), hashlib.sha256)
    return "EAAG" + digest.hexdigest() + digest.hexdigest()[:40].upper()


def refresh_token_for(plan: SeedPlan, business: int | str) -> str:
    return "RT" + hmac.new(plan.token_seed.encode(), f"refresh:{business}".encode(), hashlib.sha256).hexdigest()


def _documents(plan: SeedPlan, cipher: TokenCipher) -> list[dict[str, Any]]:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    expires = datetime.now(UTC) + timedelta(days=60)
    documents = []
    for index in range(plan.businesses):
        documents.append(
            new_business_document(
                business_id=f"biz-{index:05d}",
                name=f"Business {index}",
                sub_domain=f"business-{index}",
                waba_id=f"20{index:013d}",
                phone_number_ids=[phone_number_id(index, p) for p in range(plan.phones_per_business)],
                access_token=access_token_for(plan, index),
                refresh_token=refresh_token_for(plan, index),
                cipher=cipher,
                token_expires_at=expires,
                created_at=created,
            )
        )
    # One disabled and one inactive business: their messages are acknowledged, never answered.
    for kind, enabled, active in (("disabled", False, True), ("inactive", True, False)):
        documents.append(
            new_business_document(
                business_id=f"biz-{kind}",
                name=f"Business ({kind})",
                sub_domain=f"business-{kind}",
                waba_id="209999999999999",
                phone_number_ids=[disabled_phone_number_id(kind)],
                access_token=access_token_for(plan, kind),
                refresh_token=refresh_token_for(plan, kind),
                cipher=cipher,
                token_expires_at=expires,
                enabled=enabled,
                active=active,
                created_at=created,
            )
        )
    return documents


def ensure_indexes(db: Database[Any], *, migration: bool = True) -> tuple[str, ...]:
    """The processed-message expiry index every deployment needs (Meta retries for 7 days; ids
    are kept 8), and, with ``migration``, the migration's two business indexes (the checklist's
    step 3). Idempotent: creating an existing index is a no-op."""
    names = db[PROCESSED_MESSAGES].create_indexes(PROCESSED_MESSAGE_INDEXES)
    if migration:
        names += db[BUSINESSES].create_indexes(BUSINESS_INDEXES)
    return tuple(names)


def seed_businesses(db: Database[Any], plan: SeedPlan, cipher: TokenCipher, *, indexes: bool = True) -> SeedReport:
    operations = [
        UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True) for doc in _documents(plan, cipher)
    ]
    result = db[BUSINESSES].bulk_write(operations, ordered=False)
    made = ensure_indexes(db, migration=indexes)
    return SeedReport(
        database=db.name,
        inserted=result.upserted_count,
        already_present=len(operations) - result.upserted_count,
        indexes=made,
    )
