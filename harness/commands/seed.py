"""Write businesses with encrypted tokens into a MongoDB database, with the processed-message
expiry index every deployment needs and (unless --no-indexes) the migration's two indexes.

Idempotent: re-running inserts nothing new. Needs ENCRYPTION_SECRET; the database comes from
--mongodb-uri, else MONGODB_URI.
"""

from __future__ import annotations

import argparse
import os

from pymongo import MongoClient

from contract import TokenCipher

from ..bench import BenchConfig
from ..bench.seeding import DEFAULT_TOKEN_SEED, SeedPlan, seed_businesses

HELP = "seed businesses (encrypted tokens) and indexes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--businesses", type=int, default=BenchConfig.businesses)
    parser.add_argument("--phones-per-business", type=int, default=BenchConfig.phones_per_business)
    parser.add_argument(
        "--no-indexes",
        action="store_true",
        help="leave out the migration's two business indexes (the database before the migration)",
    )
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI"))
    parser.add_argument("--db-name", default=os.environ.get("MONGODB_DB_NAME", "whatsapp_bot"))
    parser.add_argument(
        "--token-seed",
        default=os.environ.get("SEED_TOKEN_SEED", DEFAULT_TOKEN_SEED),
        help="derives the (deterministic) access tokens; keep it private outside a benchmark",
    )


def run(args: argparse.Namespace) -> int:
    secret = os.environ.get("ENCRYPTION_SECRET")
    if not secret:
        raise SystemExit("harness seed: ENCRYPTION_SECRET is required but not set")
    if not args.mongodb_uri:
        raise SystemExit("harness seed: give --mongodb-uri or set MONGODB_URI (see `harness db`)")
    if args.businesses < 1 or args.phones_per_business < 1:
        raise SystemExit("harness seed: --businesses and --phones-per-business must be at least 1")
    plan = SeedPlan(args.businesses, args.phones_per_business, args.token_seed)
    with MongoClient(args.mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        report = seed_businesses(client[args.db_name], plan, TokenCipher(secret), indexes=not args.no_indexes)
    print(report)
    return 0
