"""Bring up one variant the way the benchmark runs it: embedded database (or MONGODB_URI),
seeded businesses, the fake upstream, and the service itself; print curl lines that work;
stop everything on Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from pathlib import Path

from contract.http import WEBHOOK_PATH

from ..bench import Bench, BenchConfig
from ..load.payloads import PayloadFactory, encode, signed_headers
from ..runs import variant_target
from ._runs import variant_name

HELP = "run one variant with database, seed and fake upstream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "variant",
        type=variant_name,
        metavar="VARIANT",
        help="original, checklist, optimized, or NAME+TOKEN+... (see `harness variants`)",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help=">1 runs gunicorn with uvicorn workers")
    parser.add_argument("--businesses", type=int, default=BenchConfig.businesses)
    parser.add_argument("--phones-per-business", type=int, default=BenchConfig.phones_per_business)
    parser.add_argument("--graph-latency-ms", type=float, default=BenchConfig.graph_latency_ms)
    parser.add_argument("--llm-latency-ms", type=float, default=BenchConfig.llm_latency_ms, help="0: no LLM call")


def run(args: argparse.Namespace) -> int:
    logs = Path(tempfile.mkdtemp(prefix="harness-serve-"))
    config = BenchConfig(args.businesses, args.phones_per_business, args.graph_latency_ms, args.llm_latency_ms)
    target = variant_target(args.variant)
    with Bench(config, logs) as bench:
        service = bench.deploy(
            target.label,
            target.app,
            env=target.env,
            indexes=target.indexes,
            workers=args.workers,
            port=args.port,
            source=target.source,
        )
        body_path = logs / "text-message.json"
        body = encode(PayloadFactory().text_webhook(bench.plan.active_phone_ids()[0]))
        body_path.write_bytes(body)
        header = signed_headers(body, bench.secrets.app_secret)["X-Hub-Signature-256"]
        print(f"{args.variant} listening on {service.url} (pid {service.pid}); logs in {logs}")
        print(f"database {bench.database_description}; fake upstream {bench.upstream.url}")
        print("\nSend a signed text message (a second send is answered as a duplicate):")
        print(
            f"  curl -s -X POST {service.url}{WEBHOOK_PATH} -H 'Content-Type: application/json' "
            f"-H {shlex.quote('X-Hub-Signature-256: ' + header)} --data-binary @{body_path}"
        )
        print("Meta's verification handshake:")
        print(
            f"  curl -s '{service.url}{WEBHOOK_PATH}?hub.mode=subscribe&hub.challenge=42"
            f"&hub.verify_token={bench.secrets.verify_token}'"
        )
        print(f"What the fake Graph API received:\n  curl -s {bench.upstream.url}/audit")
        if target.env.get("OPERATIONS_ROUTES") == "on":
            print(f"Metrics:\n  curl -s {service.url}/metrics")
        print("\nCtrl-C stops everything.", flush=True)
        while service.alive and bench.upstream.alive:
            time.sleep(0.5)
        print(f"a process exited unexpectedly; see the logs in {logs}")
        return 1
