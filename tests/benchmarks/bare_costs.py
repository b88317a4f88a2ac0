"""The floor under the bench's own CPU per request: a bare Locust user and a bare aiohttp server.

Not a test (pytest does not collect it): a measurement, run by hand, whose figures are in
docs/measurements.md. It answers one question: how much of the load generator's and the fake
upstream's CPU per request is the libraries' own, below anything the harness could remove?

* **bare generator**: a ``FastHttpUser`` that POSTs a fixed 412-byte body with no pause, no
  signing, no records, against the bench's echo app;
* **bare server**: an aiohttp server (uvloop, no access log, as the fake upstream runs) that reads
  the body and answers a small JSON, driven by the same bare user.

Each runs for ``--seconds`` at ``--users`` users; the server on CPU 1, Locust on CPU 0 (as a
pinned run places them). CPU is read from each process's own counters; requests from Locust's
JSON statistics. Every process started is stopped by its PID, also on failure and Ctrl-C.

    .venv/bin/python tests/benchmarks/bare_costs.py --users 50 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from contract.http import WEBHOOK_PATH
from harness.processes import free_port, port_in_use, wait_until

_BARE_USER = textwrap.dedent(
    """
    from locust import FastHttpUser, constant, task

    BODY = b'{"object":"whatsapp_business_account","entry":[' + b'"x",' * 90 + b'"x"]}'

    class Bare(FastHttpUser):
        wait_time = constant(0)

        @task
        def post(self):
            self.client.post("{path}", data=BODY, headers={"Content-Type": "application/json"})
    """
)

_BARE_SERVER = textwrap.dedent(
    """
    import sys
    import uvloop
    from aiohttp import web

    async def answer(request):
        await request.read()
        return web.json_response({"messages": [{"id": "wamid.x"}]})

    app = web.Application()
    app.router.add_post("{path}", answer)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
    """
)


def _wait_ready(port: int, timeout: float = 20.0) -> None:
    if not wait_until(lambda: port_in_use(port), timeout, interval=0.2):
        raise RuntimeError(f"nothing answered on port {port} within {timeout:g} s")


def _cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(server_cmd: list[str], port: int, users: int, seconds: int, workdir: Path) -> dict[str, float]:
    """Run the bare user against one server; CPU ms per request of each side."""
    locustfile = workdir / "bare_locustfile.py"
    locustfile.write_text(_BARE_USER.replace("{path}", WEBHOOK_PATH))
    server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    locust = None
    try:
        os.sched_setaffinity(server.pid, {1})
        _wait_ready(port)
        server_proc = psutil.Process(server.pid)
        server_before = _cpu_seconds(server_proc)
        stats = workdir / "stats.json"
        locust = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(locustfile),
                "--headless",
                "--only-summary",
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{seconds}s",
                "-H",
                f"http://127.0.0.1:{port}",
                "--json-file",
                str(stats.with_suffix("")),
                "--loglevel",
                "WARNING",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.sched_setaffinity(locust.pid, {0})
        locust_proc = psutil.Process(locust.pid)
        locust_cpu = 0.0
        while locust.poll() is None:
            locust_cpu = max(locust_cpu, _cpu_seconds(locust_proc))
            time.sleep(0.2)
        server_cpu = _cpu_seconds(server_proc) - server_before
        requests = sum(entry["num_requests"] for entry in json.loads(stats.read_text()))
    finally:
        if locust is not None:
            _stop(locust)
        _stop(server)
    return {
        "requests": requests,
        "rps": requests / seconds,
        "generator_ms_per_request": locust_cpu * 1000 / requests,
        "server_ms_per_request": server_cpu * 1000 / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        echo = [
            sys.executable,
            "-m",
            "uvicorn",
            "harness.bench.echo_app:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        results = {"bare user -> echo app": _measure(echo, port, args.users, args.seconds, workdir)}
        port = free_port()
        server_file = workdir / "bare_server.py"
        server_file.write_text(_BARE_SERVER.replace("{path}", WEBHOOK_PATH))
        bare = [sys.executable, str(server_file), str(port)]
        results["bare user -> bare aiohttp"] = _measure(bare, port, args.users, args.seconds, workdir)
    for name, figures in results.items():
        print(
            f"{name}: {figures['requests']:.0f} requests, {figures['rps']:.0f} rps, generator "
            f"{figures['generator_ms_per_request']:.3f} ms/req, server {figures['server_ms_per_request']:.3f} ms/req"
        )


if __name__ == "__main__":
    main()
