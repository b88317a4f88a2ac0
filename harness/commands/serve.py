"""Bring up one service the way the benchmark runs it: embedded database (or MONGODB_URI),
seeded businesses, the fake upstream, and the service itself; print curl lines that work;
stop everything on Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from pathlib import Path

from ..bench import Bench, BenchConfig
from ..payloads import PayloadFactory, encode, signed_headers
from ..services import APPS

HELP = "run one service with database, seed and fake upstream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=[name for name in APPS if name != "echo"])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help=">1 runs gunicorn with uvicorn workers")
    parser.add_argument("--businesses", type=int, default=50)
    parser.add_argument("--phones-per-business", type=int, default=2)
    parser.add_argument("--graph-latency-ms", type=float, default=50.0)
    parser.add_argument("--llm-latency-ms", type=float, default=200.0, help="0: no LLM call")
    parser.add_argument("--driver", choices=["pymongo", "motor"], default="pymongo", help="optimized only")


def run(args: argparse.Namespace) -> int:
    logs = Path(tempfile.mkdtemp(prefix=f"harness-serve-{args.service}-"))
    config = BenchConfig(args.businesses, args.phones_per_business, args.graph_latency_ms, args.llm_latency_ms)
    with Bench(config, logs) as bench:
        overrides = {"MONGO_DRIVER": args.driver} if args.service == "optimized" else {}
        service = bench.deploy(args.service, workers=args.workers, port=args.port, overrides=overrides)
        body_path = logs / "text-message.json"
        body = encode(PayloadFactory().text_webhook(bench.plan.active_phone_ids()[0]))
        body_path.write_bytes(body)
        header = signed_headers(body, bench.secrets.app_secret)["X-Hub-Signature-256"]
        print(f"{args.service} listening on {service.url} (pid {service.pid}); logs in {logs}")
        print(f"database {bench.database_description}; fake upstream {bench.upstream.url}")
        print("\nSend a signed text message (a second send is answered as a duplicate):")
        print(f"  curl -s -X POST {service.url}/whatsapp_response -H 'Content-Type: application/json' "
              f"-H {shlex.quote('X-Hub-Signature-256: ' + header)} --data-binary @{body_path}")  # fmt: skip
        print("Meta's verification handshake:")
        print(f"  curl -s '{service.url}/whatsapp_response?hub.mode=subscribe&hub.challenge=42"
              f"&hub.verify_token={bench.secrets.verify_token}'")  # fmt: skip
        print(f"What the fake Graph API received:\n  curl -s {bench.upstream.url}/audit")
        if args.service == "optimized":
            print(f"Metrics:\n  curl -s {service.url}/metrics")
        print("\nCtrl-C stops everything.", flush=True)
        while service.alive and bench.upstream.alive:
            time.sleep(0.5)
        print(f"a process exited unexpectedly; see the logs in {logs}")
        return 1
