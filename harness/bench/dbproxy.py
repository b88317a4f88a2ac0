"""A TCP proxy between the services and the database, that slows or cuts what passes through it.

``python -m harness.bench.dbproxy --listen-port P --target HOST:PORT --control-port C`` runs it in
the foreground on loopback (what :class:`DbProxyProcess` starts, and stops by PID). The services'
``MONGODB_URI`` points at it during a ``db-slow`` or ``db-cut`` fault; the bench's own client, the
fake upstream and the seeding keep the database's own address, so only the services feel it.

Faults, set at runtime through the control port (one JSON object per line, answered with the
proxy's state as one JSON line):

``{"latency_ms": 50}``
    every byte from a service reaches the database this much later, in order (a slow database:
    each operation is executed, and answered, late; beyond the services' timeout an operation
    may land after the service gave up on it). ``0`` forwards at once again.
``{"cut": true}``
    every connection goes silent mid-stream, without a FIN or a reset: what either side sends is
    dropped, and connections opened meanwhile are accepted and silent too (a partition, a frozen
    server behind a live network path). The drivers only learn of it by their own timeouts.
    ``{"cut": false}`` forwards new connections again and resets (RST) every silent one, as a
    peer that lost its state answers a connection it no longer knows.

Loopback only: the proxy listens on 127.0.0.1 and forwards bytes without reading them, so
credentials in the URI stay between the driver and the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..processes import ManagedProcess, free_port

__all__ = ["DbProxyProcess", "ProxyError", "proxied_uri", "proxy_target"]

_CHUNK = 64 * 1024
_CONTROL_TIMEOUT_S = 5.0
_HOST = "127.0.0.1"


class ProxyError(ValueError):
    """A database URI the proxy cannot stand in front of (several hosts, SRV, TLS)."""


def proxy_target(uri: str) -> tuple[str, int]:
    """(host, port) of a single-host ``mongodb://`` URI."""
    scheme, sep, rest = uri.partition("://")
    if scheme != "mongodb" or not sep:
        raise ProxyError("only a mongodb:// URI can be proxied (not mongodb+srv://)")
    hosts = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if "," in hosts:
        raise ProxyError("a URI with several hosts (a replica set) cannot be proxied: give one host")
    query = rest.split("?", 1)[1] if "?" in rest else ""
    options = {key.lower(): value.lower() for key, value in parse_qsl(query)}
    if options.get("tls") == "true" or options.get("ssl") == "true":
        raise ProxyError("a TLS connection cannot be proxied to another host name")
    if hosts.startswith("["):  # [IPv6]:port
        host, _, port = hosts[1:].partition("]")
        return host, int(port.lstrip(":") or 27017)
    host, _, port = hosts.partition(":")
    return host, int(port or 27017)


def proxied_uri(uri: str, port: int) -> str:
    """``uri`` pointing at the proxy on ``port`` (credentials, database and options kept), with
    ``directConnection=true`` so the driver never bypasses it for a server it discovers."""
    proxy_target(uri)  # the same checks
    scheme, _, rest = uri.partition("://")
    netloc, slash, tail = rest.partition("/")
    if not slash:
        netloc, question, query = rest.partition("?")
        tail = question + query
    credentials = netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""
    path, _, query = tail.partition("?")
    options = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() != "directconnection"]
    options.append(("directConnection", "true"))
    return f"{scheme}://{credentials}{_HOST}:{port}/{path}?{urlencode(options)}"


# -- the proxy (runs in its own process) ------------------------------------------------------------
@dataclass(eq=False)  # hashed by identity: the proxy keeps a set of them
class _Link:
    """One service connection and the one to the database it was paired with."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    cut: bool = False
    pending: int = 0  # chunks queued for a delayed write, not yet written
    queue: asyncio.Queue[tuple[float, bytes]] = field(default_factory=asyncio.Queue)
    writer_task: asyncio.Task[None] | None = None
    drained: asyncio.Event = field(default_factory=asyncio.Event)  # set while nothing is pending


class _Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.latency_s = 0.0
        self.cut = False
        self.links: set[_Link] = set()
        self.accepted = 0
        self.cuts = 0  # connections silenced so far
        self.resets = 0  # silent connections reset at the heal

    def state(self) -> dict[str, Any]:
        return {
            "latency_ms": round(self.latency_s * 1000, 3),
            "cut": self.cut,
            "connections": len(self.links),
            "silent": sum(1 for link in self.links if link.cut),
            "accepted": self.accepted,
            "cuts": self.cuts,
            "resets": self.resets,
        }

    def configure(self, change: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(change) - {"latency_ms", "cut"}
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}: latency_ms, cut")
        if "latency_ms" in change:
            latency_ms = float(change["latency_ms"])
            if not 0 <= latency_ms <= 600_000:
                raise ValueError("latency_ms is between 0 and 600000")
            self.latency_s = latency_ms / 1000.0
        if "cut" in change:
            cut = bool(change["cut"])
            if cut and not self.cut:
                for link in self.links:
                    self._silence(link)
            elif self.cut and not cut:
                for link in [link for link in self.links if link.cut]:
                    self._reset(link)
            self.cut = cut
        return self.state()

    def _silence(self, link: _Link) -> None:
        if not link.cut:
            link.cut = True
            link.drained.set()  # what was held is dropped with the rest
            self.cuts += 1

    def _reset(self, link: _Link) -> None:
        self.resets += 1
        for writer in (link.client, link.server):
            if writer is not None:
                _abort(writer)
        self.links.discard(link)

    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link(client=writer)
        self.links.add(link)
        try:
            if self.cut:
                self._silence(link)
                await self._drain_silently(reader)
                return
            try:
                server_reader, link.server = await asyncio.open_connection(*self.target)
            except OSError:
                _abort(writer)  # the database refuses: so does the proxy
                return
            await asyncio.gather(
                self._pump(reader, link, to_server=True),
                self._pump(server_reader, link, to_server=False),
            )
        finally:
            self.links.discard(link)
            if link.writer_task is not None:
                link.writer_task.cancel()
            for side in (link.client, link.server):
                if side is not None:
                    side.close()

    async def _drain_silently(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while await reader.read(_CHUNK):
                pass

    async def _pump(self, reader: asyncio.StreamReader, link: _Link, *, to_server: bool) -> None:
        """Forward one direction until EOF or an error; a request (to the server) waits out the
        latency. A silent link reads on and drops what it reads, so neither side sees EOF."""
        try:
            while data := await reader.read(_CHUNK):
                if link.cut:
                    continue
                target = link.server if to_server else link.client
                assert target is not None
                if to_server and (self.latency_s > 0 or link.pending):
                    link.pending += 1
                    link.drained.clear()
                    link.queue.put_nowait((asyncio.get_running_loop().time() + self.latency_s, data))
                    if link.writer_task is None:
                        link.writer_task = asyncio.create_task(self._delayed_writer(link))
                    continue
                target.write(data)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        if to_server and link.pending and not link.cut:
            # What a service sent before it went away has reached the (slow) database already:
            # it is executed, late, whether or not anyone still waits for the answer.
            await link.drained.wait()
        if not link.cut:  # a clean end on one side ends the other
            for side in (link.client, link.server):
                if side is not None:
                    side.close()

    async def _delayed_writer(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        assert link.server is not None
        try:
            while True:
                due, data = await link.queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                link.pending -= 1
                if not link.cut:
                    link.server.write(data)
                    await link.server.drain()
                if not link.pending:
                    link.drained.set()
        except (ConnectionError, OSError):
            link.drained.set()
            link.client.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), not a FIN: the peer sees its connection torn down."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _control(proxy: _Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            try:
                change = json.loads(line)
                if not isinstance(change, dict):
                    raise ValueError("expected a JSON object")
                answer: dict[str, Any] = proxy.configure(change)
            except (ValueError, TypeError) as error:
                answer = {"error": str(error)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()


async def _serve(listen_port: int, target: tuple[str, int], control_port: int) -> None:
    proxy = _Proxy(target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(proxy.serve_client, _HOST, listen_port, backlog=1024)
    control = await asyncio.start_server(lambda r, w: _control(proxy, r, w), _HOST, control_port)
    await stop.wait()
    server.close()
    control.close()
    for link in list(proxy.links):  # their pumps see the end and return
        proxy._reset(link)
    await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench.dbproxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--target", required=True, metavar="HOST:PORT")
    parser.add_argument("--control-port", type=int, required=True)
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    asyncio.run(_serve(args.listen_port, (host, int(port)), args.control_port))
    return 0


# -- the harness's side ----------------------------------------------------------------------------
class DbProxyProcess(ManagedProcess):
    """The proxy as a child process on free loopback ports; :attr:`uri` is what the services get."""

    def __init__(self, database_uri: str, *, log_path: Path | None = None) -> None:
        host, port = proxy_target(database_uri)
        self.port = free_port(_HOST)
        self.control_port = free_port(_HOST)
        self.uri = proxied_uri(database_uri, self.port)
        argv = [
            sys.executable,
            "-m",
            "harness.bench.dbproxy",
            "--listen-port",
            str(self.port),
            "--target",
            f"{host}:{port}",
            "--control-port",
            str(self.control_port),
        ]
        super().__init__("db-proxy", argv, log_path=log_path)

    def start(self, timeout: float = 30.0) -> DbProxyProcess:  # type: ignore[override]
        super().start()
        try:
            self.wait_ready(self._answers, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        try:
            self.state()
        except OSError:
            return False
        return True

    def state(self) -> dict[str, Any]:
        return self.configure()

    def configure(self, **change: Any) -> dict[str, Any]:
        """Change ``latency_ms`` and/or ``cut``; returns the proxy's state after the change."""
        with socket.create_connection((_HOST, self.control_port), timeout=_CONTROL_TIMEOUT_S) as control:
            control.sendall(json.dumps(change).encode() + b"\n")
            answer = control.makefile("rb").readline()
        if not answer:
            raise OSError("the database proxy closed its control connection")
        state = json.loads(answer)
        if "error" in state:
            raise ValueError(f"the database proxy refused {change}: {state['error']}")
        return state


if __name__ == "__main__":
    sys.exit(main())
