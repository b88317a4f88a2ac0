"""The services under test, run as real server processes exactly as a user would run them.

One worker: ``uvicorn APP``; more: ``gunicorn APP -k uvicorn_worker.UvicornWorker -w N``. Both
services (and the bare echo app) get the same server flags, so the comparison isolates their
designs. Settings reach them through the environment only. A service whose code is another
checkout (``source``, a git worktree of an earlier revision) runs in that directory and imports
its app and ``contract`` from there: it comes first on the path, before this working tree.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contract.http import WEBHOOK_PATH

from ..processes import ManagedProcess, base_environment, free_port, port_in_use, wait_until

__all__ = ["BenchSecrets", "ServiceProcess", "service_environment"]


@dataclass(frozen=True)
class BenchSecrets:
    """Fresh secrets for one run: they exist only in memory and in child environments."""

    encryption_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    verify_token: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    app_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    token_seed: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)

    def values(self) -> tuple[str, ...]:
        return (self.encryption_secret, self.verify_token, self.app_secret, self.admin_token, self.token_seed)


def service_environment(
    bench: BenchSecrets,
    *,
    mongodb_uri: str,
    db_name: str,
    graph_api_base_url: str,
    llm_base_url: str | None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = base_environment()
    env.update(
        MONGODB_URI=mongodb_uri,
        MONGODB_DB_NAME=db_name,
        ENCRYPTION_SECRET=bench.encryption_secret,
        WHATSAPP_VERIFY_TOKEN=bench.verify_token,
        WHATSAPP_APP_SECRET=bench.app_secret,
        ADMIN_TOKEN=bench.admin_token,
        GRAPH_API_BASE_URL=graph_api_base_url,
        LLM_BASE_URL=llm_base_url or "",
    )
    env.update(overrides or {})
    return env


class ServiceProcess(ManagedProcess):
    def __init__(
        self,
        label: str,
        app: str,
        *,
        env: Mapping[str, str],
        workers: int = 1,
        port: int | None = None,
        log_path: Path | None = None,
        cpus: Sequence[int] | None = None,
        source: Path | None = None,
    ) -> None:
        self.service = label
        self.app = app
        self.port = port or free_port()
        self.workers = workers
        self.source = source
        if source is not None:
            env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, (str(source), env.get("PYTHONPATH"))))}
        argv = _server_argv(app, self.port, workers, source)
        super().__init__(label, argv, env=env, cwd=source, log_path=log_path, cpus=cpus)
        self._verify_token = env.get("WHATSAPP_VERIFY_TOKEN", "")
        self._metrics_dir: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, *, wait: bool = True) -> ServiceProcess:  # type: ignore[override]
        """Start, and unless ``wait`` is false, wait until the service answers."""
        if port_in_use(self.port):
            raise OSError(f"port {self.port} is already in use; choose another port")
        if self.workers > 1 and self.env is not None and "PROMETHEUS_MULTIPROC_DIR" not in self.env:
            # Several workers: counters live in shared files so /metrics sums every worker.
            # A fresh directory per start: stale files from an earlier run would be summed too.
            self._metrics_dir = tempfile.mkdtemp(prefix="prometheus-")
            self.env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
        super().start()
        if not wait:
            return self
        try:
            self.wait_ready(self._answers, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        code = super().stop(timeout)
        if self._metrics_dir is not None:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
            self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # type: ignore[union-attr]
            self._metrics_dir = None
        return code

    def restart(self, timeout: float = 60.0) -> ServiceProcess:
        """Start the service again on the same port, as a supervisor (systemd, Kubernetes) brings
        back a crashed process, and wait until it answers; a live process is stopped first."""
        self.stop()
        if not wait_until(lambda: not port_in_use(self.port), 10.0):
            raise OSError(f"port {self.port} is still in use after {self.service} stopped")
        return self.start(timeout)

    def _answers(self) -> bool:
        """Ready when the webhook answers the handshake (and /ready, where the service has it)."""
        params = {"hub.mode": "subscribe", "hub.verify_token": self._verify_token, "hub.challenge": "ready"}
        try:
            with httpx.Client(base_url=self.url, timeout=2.0) as client:
                if client.get(WEBHOOK_PATH, params=params).text != "ready":
                    return False
                ready = client.get("/ready")
                return ready.status_code in (200, 404)
        except httpx.HTTPError:
            return False


def _server_argv(app: str, port: int, workers: int, source: Path | None = None) -> list[str]:
    # uvicorn puts --app-dir, gunicorn --chdir, first on the path (both default to the cwd)
    if workers <= 1:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            *(["--app-dir", str(source)] if source is not None else []),
        ]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "10",
        "--timeout",
        "60",
        *(["--chdir", str(source)] if source is not None else []),
    ]
