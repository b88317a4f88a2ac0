"""Settings shared by every service variant and the harness, read from the environment.

The names are the seed's own (``MONGODB_URI``, ``ENCRYPTION_SECRET``, ...), so an existing
deployment's environment works unchanged. Secrets are ``SecretStr``: they never show in a repr,
a log line or a validation error. The architecture choices (:mod:`contract.architecture`) are
settings too: ``SERVICE_VARIANT`` names a preset and each choice's own variable overrides it.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .architecture import (
    CHOICES,
    VARIANTS,
    Architecture,
    BatchMode,
    BusinessCacheMode,
    ClientScope,
    DatabaseDown,
    Handler,
    HttpLibrary,
    Indexes,
    MongoDriver,
    OperationsRoutes,
    PoolSizing,
    RequestLog,
    VariantError,
)

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(RuntimeError):
    """The environment does not describe a service that can start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Database
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db_name: str = "whatsapp_bot"
    mongodb_max_pool_size: int = Field(100, ge=1)
    mongodb_min_pool_size: int = Field(10, ge=0)
    mongodb_timeout_ms: int = Field(5000, ge=100, description="server selection, connect and socket timeout")

    # The architecture (contract.architecture): a preset, then each choice (unset: the preset's)
    service_variant: str | None = None
    service_handler: Handler | None = None
    mongo_driver: MongoDriver | None = None
    mongodb_pool: PoolSizing | None = None
    business_cache: BusinessCacheMode | None = None
    mongodb_indexes: Indexes | None = None
    http_client: ClientScope | None = None
    http_library: HttpLibrary | None = None
    batch_messages: BatchMode | None = None
    operations_routes: OperationsRoutes | None = None
    database_down: DatabaseDown | None = None
    request_log_middleware: RequestLog | None = None

    # Secrets
    encryption_secret: SecretStr
    whatsapp_verify_token: SecretStr
    whatsapp_app_secret: SecretStr | None = None
    admin_token: SecretStr | None = None

    # Business cache (BUSINESS_CACHE=ttl)
    business_cache_ttl: float = Field(300, gt=0)
    business_cache_size: int = Field(1000, ge=1)
    warmup_cache: bool = True

    # Upstreams
    graph_api_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v21.0"
    graph_api_timeout: float = Field(10.0, gt=0)
    llm_base_url: str | None = None
    llm_model: str = "llama-3.1-8b-instant"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(20.0, gt=0)
    http_max_connections: int = Field(200, ge=1, description="outbound pool size (HTTP_CLIENT=shared)")

    # Exactly-once processing
    processing_lease_seconds: float = Field(
        60.0, gt=0, description="after this long an unfinished claim on a message may be taken over"
    )

    # Rate limits (OPERATIONS_ROUTES=on), in slowapi's "N/period" syntax, per client address. The
    # webhook is not limited unless asked: Meta posts from a handful of addresses, and a limit per
    # address would throttle Meta itself; signatures already keep strangers out.
    rate_limit_webhook: str = ""
    rate_limit_admin: str = "10/minute"
    rate_limit_metrics: str = "600/minute"

    @field_validator("whatsapp_app_secret", "admin_token", "llm_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("llm_base_url", *(choice.env.lower() for choice in CHOICES), "service_variant", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("service_variant")
    @classmethod
    def _known_variant(cls, value: str | None) -> str | None:
        if value is not None and value not in VARIANTS:
            raise ValueError(f"unknown variant {value!r}; choose one of {', '.join(VARIANTS)}")
        return value

    def architecture(self, default_variant: str) -> Architecture:
        """The architecture these settings describe: ``SERVICE_VARIANT`` (else ``default_variant``)
        with every choice whose variable is set. Raises :class:`SettingsError`."""
        preset = VARIANTS[self.service_variant or default_variant].architecture
        chosen = {choice.name: getattr(self, choice.env.lower()) for choice in CHOICES}
        try:
            return preset.with_values({name: value for name, value in chosen.items() if value is not None})
        except VariantError as error:
            raise SettingsError(f"invalid settings: {error}") from None

    @cached_property
    def graph_api_root(self) -> str:
        return f"{self.graph_api_base_url.rstrip('/')}/{self.graph_api_version}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one clear start-up error."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_input=False):
        name = "_".join(str(part) for part in item["loc"]).upper()
        if item["type"] == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name}: {item['msg']}")
    return "invalid settings: " + "; ".join(problems)
