"""The fake upstream as a child process, and the small client the harness drives it with.

Secrets and the database URI reach the child through its environment, never its argv (which
``ps`` shows to every user of the machine).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from ..processes import ManagedProcess, ProcessFailed, base_environment, free_port

__all__ = ["UpstreamProcess"]

_CLIENT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)


class UpstreamProcess(ManagedProcess):
    """``python -m harness upstream`` on a free loopback port, ready once ``/health`` answers."""

    def __init__(
        self,
        *,
        mongodb_uri: str,
        encryption_secret: str,
        db_names: Sequence[str] = ("whatsapp_bot",),
        port: int | None = None,
        host: str = "127.0.0.1",
        graph_latency_ms: float = 50.0,
        llm_latency_ms: float = 200.0,
        distribution: str = "fixed",
        graph_error_rate: float = 0.0,
        graph_timeout_rate: float = 0.0,
        llm_error_rate: float = 0.0,
        seed: int | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        argv = [
            sys.executable,
            "-m",
            "harness",
            "upstream",
            "--host",
            host,
            "--port",
            str(self.port),
            "--graph-latency-ms",
            str(graph_latency_ms),
            "--llm-latency-ms",
            str(llm_latency_ms),
            "--distribution",
            distribution,
            "--graph-error-rate",
            str(graph_error_rate),
            "--graph-timeout-rate",
            str(graph_timeout_rate),
            "--llm-error-rate",
            str(llm_error_rate),
        ]
        for name in db_names:
            argv += ["--db-name", name]
        if seed is not None:
            argv += ["--seed", str(seed)]
        child_env = {**base_environment(), **(env or {})}
        child_env.update(MONGODB_URI=mongodb_uri, ENCRYPTION_SECRET=encryption_secret)
        super().__init__("fake-upstream", argv, env=child_env, log_path=log_path)
        self._client: httpx.Client | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> UpstreamProcess:  # type: ignore[override]
        super().start()
        try:
            self.wait_ready(self._healthy, self.startup_timeout)
        except BaseException:
            self.stop()  # never leave a half-started child behind a failed start
            raise
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        if self._client is not None:
            self._client.close()
            self._client = None
        return super().stop(timeout)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    # -- where services point ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def graph_base_url(self) -> str:
        """A service's ``GRAPH_API_BASE_URL`` (it appends ``/{version}`` itself)."""
        return self.url

    @property
    def llm_base_url(self) -> str:
        """A service's ``LLM_BASE_URL`` (it appends ``/chat/completions``)."""
        return f"{self.url}/v1"

    # -- the harness's view ----------------------------------------------------------------------
    def audit(self) -> dict[str, Any]:
        return self._call("GET", "/audit")

    def reset_audit(self) -> dict[str, Any]:
        return self._call("POST", "/audit/reset")

    def control(self) -> dict[str, Any]:
        return self._call("GET", "/control")

    def configure(
        self, *, graph: Mapping[str, Any] | None = None, llm: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Change knobs at runtime (partial: only what is given); returns all knobs now in force."""
        patch = {name: dict(knobs) for name, knobs in (("graph", graph), ("llm", llm)) if knobs}
        return self._call("POST", "/control", json=patch)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if not self.alive:
            raise ProcessFailed(f"{self.name} is not running:\n{self.log_tail()}")
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=_CLIENT_TIMEOUT)
        answer = self._client.request(method, path, **kwargs)
        if answer.status_code == 400:
            raise ValueError(f"fake upstream refused {method} {path}: {answer.json().get('error')}")
        answer.raise_for_status()
        return answer.json()
