"""The migration's architecture choices, and the named service variants made of them.

A service variant is one value per choice. Each choice is a setting a deployment sets in its
environment (the variable named below; ``SERVICE_VARIANT`` picks a named preset, and a choice's
own variable overrides the preset's value). The services read them through
:class:`contract.Settings`; the harness derives everything it runs from :data:`VARIANTS`.

The choices are the migration. The webhook contract (exactly-once claims, signatures, answers)
is not a choice: every variant keeps it.

A variant is named ``NAME`` or ``NAME+TOKEN+TOKEN...``: a preset with some choices changed, e.g.
``original+shared-client`` or ``optimized+httpx``. Each value of each choice has one token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "CHOICES",
    "VARIANTS",
    "Architecture",
    "BatchMode",
    "BusinessCacheMode",
    "Change",
    "Choice",
    "ClientScope",
    "DatabaseDown",
    "Handler",
    "HttpLibrary",
    "Indexes",
    "MongoDriver",
    "OperationsRoutes",
    "PoolSizing",
    "RequestLog",
    "Variant",
    "VariantError",
    "parse_variant",
    "variant_label",
]


class VariantError(ValueError):
    """A variant name, token or combination of choices that no service can run."""


class Handler(StrEnum):
    SYNC = "sync"  # plain def endpoints on Starlette's thread pool, sync PyMongo (original/)
    ASYNC = "async"  # async def endpoints and an async MongoDB driver (optimized/)


class MongoDriver(StrEnum):
    PYMONGO = "pymongo"  # sync MongoClient (sync handler) or AsyncMongoClient (async handler)
    MOTOR = "motor"  # AsyncIOMotorClient: the checklist's driver (deprecated since May 2025)


class PoolSizing(StrEnum):
    DRIVER_DEFAULT = "driver-default"  # maxPoolSize 100, minPoolSize 0
    SIZED = "sized"  # MONGODB_MIN_POOL_SIZE .. MONGODB_MAX_POOL_SIZE (the checklist: 10..100)


class BusinessCacheMode(StrEnum):
    NONE = "none"  # a query and a token decryption for every message
    TTL = "ttl"  # BUSINESS_CACHE_TTL / BUSINESS_CACHE_SIZE, filled at start when WARMUP_CACHE


class Indexes(StrEnum):
    ABSENT = "absent"
    CREATED = "created"  # the checklist's webhook_lookup_idx and subdomain_lookup_idx, at start


class ClientScope(StrEnum):
    PER_CALL = "per-call"  # a new HTTP client for every LLM and Graph API call
    SHARED = "shared"  # one pooled client per process


class HttpLibrary(StrEnum):
    HTTPX = "httpx"
    AIOHTTP = "aiohttp"


class BatchMode(StrEnum):
    SEQUENTIAL = "sequential"  # the messages of one POST one after another
    CONCURRENT = "concurrent"  # at most 16 at once


class OperationsRoutes(StrEnum):
    OFF = "off"  # the webhook routes only
    ON = "on"  # /health, /ready, /metrics, /metrics/prometheus, /admin/cache/*, slowapi limits


class DatabaseDown(StrEnum):
    WAIT = "wait"  # every request waits for its database calls to time out
    FAIL_FAST = "fail-fast"  # a background ping marks the database down: 503 at once meanwhile


class RequestLog(StrEnum):
    OFF = "off"
    ON = "on"  # the checklist's HTTP middleware: times and logs every request, X-Process-Time


@dataclass(frozen=True)
class Choice:
    """One architecture choice: its setting, and what each of its values means."""

    name: str  # the field of Architecture
    env: str  # the environment variable a deployment sets
    title: str
    values: Mapping[StrEnum, str]  # value -> what it means
    tokens: Mapping[StrEnum, str]  # value -> its token in a variant name

    @property
    def kind(self) -> type[StrEnum]:
        return type(next(iter(self.values)))


CHOICES: tuple[Choice, ...] = (
    Choice(
        "handler",
        "SERVICE_HANDLER",
        "handler",
        {
            Handler.SYNC: "plain def on the thread pool, sync PyMongo",
            Handler.ASYNC: "async def with an async MongoDB driver",
        },
        {Handler.SYNC: "sync", Handler.ASYNC: "async"},
    ),
    Choice(
        "mongo_driver",
        "MONGO_DRIVER",
        "MongoDB driver",
        {
            MongoDriver.PYMONGO: "PyMongo (its async API under the async handler)",
            MongoDriver.MOTOR: "motor (async handler only)",
        },
        {MongoDriver.PYMONGO: "pymongo", MongoDriver.MOTOR: "motor"},
    ),
    Choice(
        "pool",
        "MONGODB_POOL",
        "connection pool",
        {
            PoolSizing.DRIVER_DEFAULT: "the driver's defaults (0..100)",
            PoolSizing.SIZED: "MONGODB_MIN_POOL_SIZE..MONGODB_MAX_POOL_SIZE",
        },
        {PoolSizing.DRIVER_DEFAULT: "default-pool", PoolSizing.SIZED: "sized-pool"},
    ),
    Choice(
        "business_cache",
        "BUSINESS_CACHE",
        "business cache",
        {
            BusinessCacheMode.NONE: "a lookup and a decryption per message",
            BusinessCacheMode.TTL: "TTL cache of businesses with decrypted tokens, warmed up at start",
        },
        {BusinessCacheMode.NONE: "no-cache", BusinessCacheMode.TTL: "cache"},
    ),
    Choice(
        "indexes",
        "MONGODB_INDEXES",
        "the migration's indexes",
        {Indexes.ABSENT: "absent", Indexes.CREATED: "created at start"},
        {Indexes.ABSENT: "no-indexes", Indexes.CREATED: "indexes"},
    ),
    Choice(
        "http_client",
        "HTTP_CLIENT",
        "outbound HTTP client",
        {ClientScope.PER_CALL: "a new client per call", ClientScope.SHARED: "one shared client per process"},
        {ClientScope.PER_CALL: "per-call-client", ClientScope.SHARED: "shared-client"},
    ),
    Choice(
        "http_library",
        "HTTP_LIBRARY",
        "outbound HTTP library",
        {HttpLibrary.HTTPX: "httpx", HttpLibrary.AIOHTTP: "aiohttp (async handler only)"},
        {HttpLibrary.HTTPX: "httpx", HttpLibrary.AIOHTTP: "aiohttp"},
    ),
    Choice(
        "batch",
        "BATCH_MESSAGES",
        "messages of one body",
        {BatchMode.SEQUENTIAL: "one after another", BatchMode.CONCURRENT: "concurrently, at most 16"},
        {BatchMode.SEQUENTIAL: "sequential-batch", BatchMode.CONCURRENT: "concurrent-batch"},
    ),
    Choice(
        "operations",
        "OPERATIONS_ROUTES",
        "operational routes",
        {
            OperationsRoutes.OFF: "webhook only",
            OperationsRoutes.ON: "/health, /ready, /metrics, cache admin, slowapi (async handler only)",
        },
        {OperationsRoutes.OFF: "webhook-only", OperationsRoutes.ON: "operations"},
    ),
    Choice(
        "database_down",
        "DATABASE_DOWN",
        "database unreachable",
        {
            DatabaseDown.WAIT: "requests wait out their database timeouts",
            DatabaseDown.FAIL_FAST: "a background ping; 503 at once while it is down (async handler only)",
        },
        {DatabaseDown.WAIT: "wait-for-db", DatabaseDown.FAIL_FAST: "fail-fast"},
    ),
    Choice(
        "request_log",
        "REQUEST_LOG_MIDDLEWARE",
        "request-timing middleware",
        {RequestLog.OFF: "none", RequestLog.ON: "logs and times every request (X-Process-Time)"},
        {RequestLog.OFF: "no-request-log", RequestLog.ON: "request-log"},
    ),
)
_BY_NAME = {choice.name: choice for choice in CHOICES}
_BY_TOKEN = {token: (choice, value) for choice in CHOICES for value, token in choice.tokens.items()}
# Values only the async handler implements.
_ASYNC_ONLY = {
    "mongo_driver": MongoDriver.MOTOR,
    "http_library": HttpLibrary.AIOHTTP,
    "batch": BatchMode.CONCURRENT,
    "operations": OperationsRoutes.ON,
    "database_down": DatabaseDown.FAIL_FAST,
}


class Architecture(BaseModel):
    """One value per choice: everything that sets one service variant apart from another."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    handler: Handler
    mongo_driver: MongoDriver
    pool: PoolSizing
    business_cache: BusinessCacheMode
    indexes: Indexes
    http_client: ClientScope
    http_library: HttpLibrary
    batch: BatchMode
    operations: OperationsRoutes
    database_down: DatabaseDown
    request_log: RequestLog

    @model_validator(mode="after")
    def _runnable(self) -> Architecture:
        if problems := self.problems():
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Why no service implements this combination (empty when one does)."""
        if self.handler is Handler.ASYNC:
            return []
        return [
            f"{_BY_NAME[name].env}={value} needs the async handler (SERVICE_HANDLER=async)"
            for name, value in _ASYNC_ONLY.items()
            if getattr(self, name) == value
        ]

    @property
    def app(self) -> str:
        """The ASGI application that implements this architecture."""
        return "original.app:app" if self.handler is Handler.SYNC else "optimized.app:app"

    def to_env(self) -> dict[str, str]:
        """Every choice as the environment variable a deployment sets."""
        return {choice.env: str(getattr(self, choice.name)) for choice in CHOICES}

    def with_values(self, values: Mapping[str, StrEnum]) -> Architecture:
        """This architecture with some choices changed (raises :class:`VariantError`)."""
        try:
            return Architecture.model_validate({**self.model_dump(), **values})
        except ValueError as error:
            raise VariantError(_first_message(error)) from None

    def changes_to(self, other: Architecture) -> list[Change]:
        """The choices that differ, in the order of :data:`CHOICES`."""
        return [
            Change(choice.name, getattr(self, choice.name), getattr(other, choice.name))
            for choice in CHOICES
            if getattr(self, choice.name) != getattr(other, choice.name)
        ]


@dataclass(frozen=True)
class Change:
    """One choice moved from one value to another: a step of a migration."""

    choice: str
    before: StrEnum
    after: StrEnum

    @property
    def token(self) -> str:
        """The name of the change: the token of the value it moves to (e.g. "shared-client")."""
        return _BY_NAME[self.choice].tokens[self.after]

    @property
    def undo_token(self) -> str:
        return _BY_NAME[self.choice].tokens[self.before]

    @property
    def title(self) -> str:
        choice = _BY_NAME[self.choice]
        return f"{choice.title}: {choice.values[self.before]} -> {choice.values[self.after]}"


@dataclass(frozen=True)
class Variant:
    """A named service variant: its architecture, what it stands for, and its part in a default
    comparison (the baseline every candidate is judged against)."""

    name: str
    summary: str
    architecture: Architecture
    role: Literal["baseline", "candidate"]


def _architecture(**values: StrEnum) -> Architecture:
    return Architecture(**values)


_ORIGINAL = _architecture(
    handler=Handler.SYNC,
    mongo_driver=MongoDriver.PYMONGO,
    pool=PoolSizing.DRIVER_DEFAULT,
    business_cache=BusinessCacheMode.NONE,
    indexes=Indexes.ABSENT,
    http_client=ClientScope.PER_CALL,
    http_library=HttpLibrary.HTTPX,
    batch=BatchMode.SEQUENTIAL,
    operations=OperationsRoutes.OFF,
    database_down=DatabaseDown.WAIT,
    request_log=RequestLog.OFF,
)
# The checklist's optimized design as its text and its code (SergeWilfried/ava-whatsapp-agent
# a81f33a) have it: motor with a 10..100 pool, the TTL cache warmed up at start, the two indexes,
# slowapi and the operational routes, the request-logging middleware, and, in the handler, a new
# httpx.AsyncClient for every outbound call (the lifespan's shared client is never used).
_CHECKLIST = _ORIGINAL.with_values(
    {
        "handler": Handler.ASYNC,
        "mongo_driver": MongoDriver.MOTOR,
        "pool": PoolSizing.SIZED,
        "business_cache": BusinessCacheMode.TTL,
        "indexes": Indexes.CREATED,
        "operations": OperationsRoutes.ON,
        "request_log": RequestLog.ON,
    }
)
# The checklist plus what it leaves out: one shared outbound client (aiohttp's), PyMongo's async
# client in place of the deprecated motor, concurrent batches, and failing fast while the
# database is down. Each is a choice of its own, so an attribution can price it.
_OPTIMIZED = _CHECKLIST.with_values(
    {
        "mongo_driver": MongoDriver.PYMONGO,
        "http_client": ClientScope.SHARED,
        "http_library": HttpLibrary.AIOHTTP,
        "batch": BatchMode.CONCURRENT,
        "database_down": DatabaseDown.FAIL_FAST,
    }
)

VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("original", "the design before the migration", _ORIGINAL, "baseline"),
        Variant("checklist", "the checklist's design as its text and code have it", _CHECKLIST, "candidate"),
        Variant(
            "optimized",
            "the checklist with one shared aiohttp session, PyMongo's async driver, concurrent batches and "
            "fail-fast while the database is down",
            _OPTIMIZED,
            "candidate",
        ),
    )
}


def parse_variant(name: str) -> Architecture:
    """The architecture of ``NAME`` or ``NAME+TOKEN+...`` (raises :class:`VariantError`)."""
    base, *tokens = (part.strip() for part in name.split("+"))
    if base not in VARIANTS:
        raise VariantError(f"unknown variant {base!r}; choose one of {', '.join(VARIANTS)}")
    values: dict[str, StrEnum] = {}
    for token in tokens:
        if token not in _BY_TOKEN:
            raise VariantError(f"unknown change {token!r} in {name!r}; the changes are {', '.join(_BY_TOKEN)}")
        choice, value = _BY_TOKEN[token]
        if choice.name in values and values[choice.name] != value:
            raise VariantError(f"{name!r} sets {choice.title} twice")
        values[choice.name] = value
    return VARIANTS[base].architecture.with_values(values)


def variant_label(base: str, changes: Iterable[Change]) -> str:
    """``base+token+...`` for ``base`` with ``changes`` applied (in the order of CHOICES)."""
    order = {choice.name: index for index, choice in enumerate(CHOICES)}
    tokens = [change.token for change in sorted(changes, key=lambda c: order[c.choice])]
    return "+".join([base, *tokens])


def _first_message(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        messages = [str(item["msg"]).removeprefix("Value error, ") for item in errors()]
        return "; ".join(messages)
    return str(error)
