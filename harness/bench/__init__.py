"""The bench: every real process a run stands on, and how it is measured.

The embedded database (:mod:`.database`) and its seeded businesses (:mod:`.seeding`), the
services under test as server processes (:mod:`.services`) and the bare echo app
(:mod:`.echo_app`), all brought up together on loopback by :class:`Bench` (:mod:`.testbed`);
the CPU and memory of each process tree (:mod:`.sampling`) and the machine itself
(:mod:`.machine`). The fake upstream lives in :mod:`harness.upstream`.
"""

from .database import DatabaseServer, EmbeddedDatabase, ServerStatus, database_server, ping, server_status
from .machine import describe_machine
from .sampling import ResourceSampler
from .seeding import SeedPlan, seed_businesses
from .services import BenchSecrets, ServiceProcess, service_environment
from .testbed import Bench, BenchConfig

__all__ = [
    "Bench",
    "BenchConfig",
    "BenchSecrets",
    "DatabaseServer",
    "EmbeddedDatabase",
    "ResourceSampler",
    "SeedPlan",
    "ServerStatus",
    "ServiceProcess",
    "database_server",
    "describe_machine",
    "ping",
    "seed_businesses",
    "server_status",
    "service_environment",
]
