"""Micro-benchmarks of what the bench spends per request besides the service (`make bench`).

The load generator's own work per request (build a Meta-shaped message, encode it once, sign
those bytes, record the attempt) is priced here in a plain process; Locust's own machinery
(gevent, its HTTP client, its statistics) is the rest of the generator's CPU per request, which
every run reports beside the service's (docs/measurements.md has both, with the commands).
"""

import random

from harness.load.payloads import PayloadFactory, phone_number_id
from harness.load.recorder import RecordsFile

SECRET = "app-secret-for-benchmarks"


def test_generator_builds_and_signs_one_message(benchmark):
    factory = PayloadFactory(seed=1)
    wamid, body, headers = benchmark(factory.signed_message, phone_number_id(3, 1), "text", SECRET)
    assert wamid.startswith("wamid.") and body.startswith(b"{") and "X-Hub-Signature-256" in headers


def test_generator_records_one_attempt(benchmark, tmp_path):
    records = RecordsFile(tmp_path)
    row = (
        "optimized",
        0,
        200.0,
        0,
        1764590000.123456,
        1764590000.12,
        12.345,
        13.345,
        200,
        "text",
        "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQUM5",
        True,
        1,
        "",
    )
    benchmark(records.write, row)
    records.close()
    assert records.path.stat().st_size > 0


def test_generator_work_per_request(benchmark, tmp_path):
    """Everything the locustfile does for one text message besides Locust's own request."""
    factory, rng, records = PayloadFactory(seed=2), random.Random(2), RecordsFile(tmp_path)

    def one() -> bytes:
        phone = phone_number_id(rng.randrange(50), rng.randrange(2))
        wamid, body, _headers = factory.signed_message(phone, "text", SECRET)
        records.write(("optimized", 0, 200.0, 0, 1.0, 1.0, 12.3, 12.3, 200, "text", wamid, True, 1, ""))
        return body

    assert benchmark(one)
    records.close()
