"""Run the fake upstream (Meta's Graph API and an OpenAI-compatible LLM) in the foreground.

Every Graph API send must carry the access token of the business owning the phone id, read from
the businesses in MongoDB (--mongodb-uri, else MONGODB_URI) and decrypted with ENCRYPTION_SECRET.
Knobs can be changed while it runs: GET/POST /control. What it received: GET /audit.
SIGTERM or Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os

from pydantic import ValidationError

from ..bench import BenchConfig
from ..upstream import (
    DISTRIBUTIONS,
    Behaviour,
    BehaviourControl,
    TokenDirectoryError,
    UpstreamConfig,
    serve,
)

HELP = "run the fake Graph API / LLM upstream in the foreground"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8090, help="port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (keep loopback)")
    # Read from the environment in run(), not as a default: --help would print the URI otherwise.
    parser.add_argument("--mongodb-uri", default=None, help="where the businesses are; when not given, $MONGODB_URI")
    parser.add_argument(
        "--db-name",
        action="append",
        dest="db_names",
        metavar="NAME",
        help="database whose businesses are read (repeatable); when not given, $MONGODB_DB_NAME or whatsapp_bot",
    )
    parser.add_argument(
        "--graph-latency-ms", type=float, default=BenchConfig.graph_latency_ms, help="Graph API send latency (mean)"
    )
    parser.add_argument(
        "--llm-latency-ms", type=float, default=BenchConfig.llm_latency_ms, help="chat completion latency (mean)"
    )
    parser.add_argument("--distribution", choices=DISTRIBUTIONS, default="fixed", help="latency distribution")
    parser.add_argument("--sigma", type=float, default=0.5, help="lognormal sigma")
    parser.add_argument("--graph-error-rate", type=float, default=0.0, help="share of sends answered 500")
    parser.add_argument("--graph-timeout-rate", type=float, default=0.0, help="share of sends that hang, then 504")
    parser.add_argument("--llm-error-rate", type=float, default=0.0, help="share of completions answered 500")
    parser.add_argument(
        "--llm-timeout-rate",
        type=float,
        default=0.0,
        help="share of completions that hang, then 504",
    )
    parser.add_argument("--hang-s", type=float, default=30.0, help="how long an injected timeout hangs")
    parser.add_argument("--seed", type=int, default=None, help="seeds the latency and fault draws")


def run(args: argparse.Namespace) -> int:
    secret = os.environ.get("ENCRYPTION_SECRET")
    if not secret:
        raise SystemExit("harness upstream: ENCRYPTION_SECRET is required but not set")
    mongodb_uri = args.mongodb_uri or os.environ.get("MONGODB_URI")
    if not mongodb_uri:
        raise SystemExit("harness upstream: give --mongodb-uri or set MONGODB_URI (see `harness db`)")
    db_names = args.db_names or [os.environ.get("MONGODB_DB_NAME") or "whatsapp_bot"]
    shared = {"distribution": args.distribution, "sigma": args.sigma, "hang_s": args.hang_s}
    try:
        behaviour = BehaviourControl(
            Behaviour(
                latency_ms=args.graph_latency_ms,
                error_rate=args.graph_error_rate,
                timeout_rate=args.graph_timeout_rate,
                **shared,
            ),
            Behaviour(
                latency_ms=args.llm_latency_ms,
                error_rate=args.llm_error_rate,
                timeout_rate=args.llm_timeout_rate,
                **shared,
            ),
            seed=args.seed,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise SystemExit(f"harness upstream: invalid knob: {problems}") from None
    config = UpstreamConfig(
        mongodb_uri=mongodb_uri,
        encryption_secret=secret,
        db_names=db_names,
        behaviour=behaviour,
        host=args.host,
        port=args.port,
    )

    def announce(url: str, known: int) -> None:
        print(
            f"fake upstream listening on {url} ({known} phone ids from {', '.join(db_names)}); "
            "SIGTERM or Ctrl-C stops it",
            flush=True,
        )

    try:
        serve(config, on_ready=announce)
    except TokenDirectoryError as error:
        raise SystemExit(f"harness upstream: {error}") from None
    except OSError as error:
        raise SystemExit(f"harness upstream: cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    return 0
