"""No secret leaves the processes that need it: not in a log, a report or a command line.

The fault runs of ``tests/harness/test_faults.py`` (made once per session, so this costs nothing
when they already ran) exercise the error paths where a token is most likely to slip into a
message: a database outage, a failing, a throttling and a timing-out Graph API, a cut database
connection and a killed worker. Every file of those runs (service, upstream,
database and Locust logs; results.json, summary.md, report.html, the per-request records) is
searched for every seeded access and refresh token and every secret of the run. And the harness
always runs the services with signatures on.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from contract import VARIANTS
from contract.http import WEBHOOK_PATH
from harness.bench import Bench, BenchConfig
from harness.bench.seeding import SeedPlan, access_token_for, refresh_token_for
from harness.bench.services import BenchSecrets
from harness.load.payloads import PayloadFactory, encode, signed_headers
from harness.results import load_results
from harness.runs import variant_target
from tests.harness.test_faults import fault_run

pytestmark = [pytest.mark.load, pytest.mark.shares_machine]  # secrets are found under any load

_BINARY = {".png", ".parquet"}


def _needles(secrets: BenchSecrets, plan: SeedPlan) -> dict[str, str]:
    """Every secret of a run by name, with a distinctive slice of each (a truncated leak is a leak)."""
    businesses = [*range(plan.businesses), "disabled", "inactive"]
    whole = {
        "encryption secret": secrets.encryption_secret,
        "app secret": secrets.app_secret,
        "admin token": secrets.admin_token,
        "verify token": secrets.verify_token,
        "token seed": secrets.token_seed,
        **{f"access token {b}": access_token_for(plan, b) for b in businesses},
        **{f"refresh token {b}": refresh_token_for(plan, b) for b in businesses},
    }
    needles = dict(whole)
    for name, value in whole.items():
        needles[f"{name} (a slice)"] = value[4:20]  # past the fixed "EAAG"/"RT" prefixes
    return needles


def _texts(run_dir: Path) -> dict[Path, str]:
    """Every file of the run as text; Parquet records through pandas (their bytes are compressed)."""
    texts = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            texts[path] = pd.read_parquet(path).to_csv(index=False)
        elif path.suffix not in _BINARY:
            texts[path] = path.read_bytes().decode("utf-8", "replace")
    return texts


@pytest.mark.parametrize(
    "kind", ["db-outage", "upstream-errors", "graph-throttled", "upstream-timeout-edge", "db-cut", "worker-crash"]
)
def test_no_token_or_secret_in_any_log_or_report_of_a_fault_run(kind, tmp_path_factory):
    run_dir, secrets = fault_run(kind, tmp_path_factory)
    texts = _texts(run_dir)
    names = {path.name for path in texts}
    assert {
        "results.json",
        "summary.md",
        "report.html",
        "requests.parquet",
        "original.log",
        "optimized.log",
        "upstream.log",
        "mongodb.log",
        "locust.log",
    } <= names
    assert any(path.parent.name == "records" for path in texts)
    settings = load_results(run_dir).settings
    plan = SeedPlan(settings.bench.businesses, settings.bench.phones_per_business, secrets.token_seed)
    leaks = [
        f"{name} in {path.relative_to(run_dir)}"
        for name, needle in _needles(secrets, plan).items()
        for path, text in texts.items()
        if needle in text
    ]
    assert not leaks, "\n".join(leaks)


def test_the_harness_runs_services_with_signatures_on_and_secrets_off_the_command_line(tmp_path):
    with Bench(BenchConfig(businesses=2, phones_per_business=1, llm_latency_ms=0), tmp_path / "logs") as bench:
        targets = [variant_target(name) for name in VARIANTS]
        services = [bench.deploy(t.label, t.app, env=t.env, indexes=t.indexes) for t in targets]
        processes = [bench.upstream.pid, *(s.pid for s in services)]
        if bench.database.pid is not None:
            processes.append(bench.database.pid)
        for pid in processes:
            command_line = " ".join(psutil.Process(pid).cmdline())
            assert not [s for s in bench.secrets.values() if s in command_line], command_line
        factory = PayloadFactory(9)
        for service in services:
            assert service.env["WHATSAPP_APP_SECRET"] == bench.secrets.app_secret != ""
            body = encode(factory.text_webhook(bench.plan.active_phone_ids()[0]))
            unsigned = httpx.post(
                f"{service.url}{WEBHOOK_PATH}", content=body, headers={"Content-Type": "application/json"}, timeout=30
            )
            assert unsigned.status_code == 401, service.service
            signed = httpx.post(
                f"{service.url}{WEBHOOK_PATH}",
                content=body,
                headers=signed_headers(body, bench.secrets.app_secret),
                timeout=30,
            )
            assert signed.status_code == 200 and signed.json()["replied"] == 1, service.service
