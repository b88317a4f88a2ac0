"""The locustfile run by hand, as a user runs it: plain ``locust -f harness/load/locustfile.py``.

Configured by environment only; against the capture server of test_loadgen (a real process
that verifies signatures and logs each body).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.bench.seeding import phone_number_id
from harness.load import LOCUSTFILE
from harness.processes import ManagedProcess, base_environment, wait_until
from harness.records import read_record_files as read_records
from harness.results import ABANDONED
from tests.harness.test_loadgen import APP_SECRET, VERIFY_TOKEN, capture_server

pytestmark = [pytest.mark.load, pytest.mark.timeout(90)]

BUSINESSES = 20


def locust(name: str, url: str, directory: Path, *, users: int, seconds: int, **env: str) -> ManagedProcess:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--only-summary",
        "--csv",
        str(directory / name),
    ]
    environment = base_environment() | env
    return ManagedProcess(name, argv, env=environment, cwd=directory, log_path=directory / f"{name}.log")


def run_all(*processes: ManagedProcess, timeout: float = 40) -> list[int | None]:
    for process in processes:
        process.start()
    try:
        assert wait_until(lambda: not any(p.alive for p in processes), timeout), "locust did not finish"
        return [p.returncode for p in processes]
    finally:
        for process in processes:
            process.stop()


def test_by_hand_it_signs_every_post_names_requests_by_kind_and_favours_hot_businesses(tmp_path):
    with capture_server(tmp_path) as (url, captured):
        process = locust(
            "hand",
            url,
            tmp_path,
            users=6,
            seconds=4,
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
            LOAD_BUSINESSES=str(BUSINESSES),
            LOAD_WAIT_MIN="0.02",
            LOAD_WAIT_MAX="0.06",
        )
        [code] = run_all(process)
    assert code == 0, process.log_tail()
    assert not list(tmp_path.rglob("records-*.csv")), "records written without LOAD_RECORDS_DIR"

    with open(tmp_path / "hand_stats.csv") as stats:
        names = {row["Name"] for row in csv.DictReader(stats)} - {"Aggregated"}
    assert names == {"text", "status", "duplicate", "unknown_phone", "handshake"}

    lines = [json.loads(line) for line in captured.read_text().splitlines()]
    assert len(lines) > 150 and all(line["signed"] and line["status"] == 200 for line in lines)
    known = {phone_number_id(b, p): b for b in range(BUSINESSES) for p in range(2)}
    businesses: Counter[int] = Counter()
    for line in lines:
        for entry in json.loads(line["body"])["entry"]:
            for change in entry["changes"]:
                phone = change["value"]["metadata"]["phone_number_id"]
                if "messages" in change["value"] and phone in known:
                    businesses[known[phone]] += 1
                elif phone not in known:
                    assert phone.startswith("18") and len(phone) == 15  # never seeded
    total = sum(businesses.values())
    # Zipf(1.1) over 20 businesses puts ~53% on the top three; uniform would put 15%.
    assert businesses.most_common(1)[0][0] == 0
    assert sum(businesses[b] for b in (0, 1, 2)) / total > 0.4


def test_a_seed_reproduces_the_mix_and_a_wrong_verify_token_fails_the_handshake(tmp_path):
    def seeded(name: str, seed: str, **overrides: str) -> ManagedProcess:
        (tmp_path / name).mkdir()
        env = {
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "LOAD_SEED": seed,
            "LOAD_WAIT_MIN": "0.02",
            "LOAD_WAIT_MAX": "0.04",
            "LOAD_RECORDS_DIR": str(tmp_path / name / "records"),
        } | overrides
        return locust(name, url, tmp_path / name, users=1, seconds=3, **env)

    with capture_server(tmp_path) as (url, _):
        runs = [
            seeded("a", "11"),
            seeded("b", "11"),
            seeded("c", "12"),
            seeded("refused", "11", LOAD_MIX="handshake=1", WHATSAPP_VERIFY_TOKEN="wrong"),
        ]
        codes = run_all(*runs)
    assert codes == [0, 0, 0, 1], [run.log_tail() for run in runs]

    first = {name: read_records(tmp_path / name / "records").head(15) for name in ("a", "b", "c")}
    assert all(len(frame) == 15 for frame in first.values())
    assert set(first["a"].users) == {1}  # the label defaults to -u when LOAD_USERS is unset
    sequence = {name: list(zip(frame.kind, frame.wamid, strict=True)) for name, frame in first.items()}
    assert sequence["a"] == sequence["b"] and sequence["a"] != sequence["c"]

    refused = read_records(tmp_path / "refused" / "records")
    refused = refused[refused.error != ABANDONED]  # the last one, cut off as Locust stopped
    assert len(refused) > 0 and set(refused.kind) == {"handshake"} and set(refused.status) == {403}
