"""Run the embedded MongoDB-wire server (SecantusDB) in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time

from ..bench import EmbeddedDatabase

HELP = "run the embedded database in the foreground"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=27017, help="port on 127.0.0.1")
    parser.add_argument("--storage-path", default=":memory:", help="WiredTiger directory; :memory: forgets all on exit")


def run(args: argparse.Namespace) -> int:
    database = EmbeddedDatabase(port=args.port, storage_path=args.storage_path)
    with database:
        database.wait_ready(lambda: True)
        print(f"embedded MongoDB (SecantusDB) pid {database.pid} listening; Ctrl-C stops it")
        print(f"export MONGODB_URI='{database.uri}'", flush=True)
        while database.alive:
            time.sleep(0.5)
    return 0 if database.returncode in (0, None, -15) else 1
