"""The load one step sends, as the environment variables ``harness/load/locustfile.py`` reads.

:class:`LoadProfile` is the load itself (the mix, the pacing, the labels, the secrets); the
harness and a hand-run ``locust -f harness/load/locustfile.py`` mean the same thing by the same
variables. The exit codes are the locustfile's side of the same agreement. Nothing here imports
pandas: the Locust processes import this module.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_MIX",
    "KINDS",
    "OPEN_LOOP_MAX_USERS",
    "REQUEST_FAILURES_EXIT_CODE",
    "TASK_ERROR_EXIT_CODE",
    "LoadProfile",
    "format_mix",
    "normalise_mix",
    "open_loop_users",
    "parse_mix",
    "wait_ordered",
]

DEFAULT_MIX: Mapping[str, float] = {
    "text": 0.75,
    "status": 0.12,
    "duplicate": 0.05,
    "unknown_phone": 0.05,
    "handshake": 0.03,
}
KINDS = frozenset({*DEFAULT_MIX, "disabled"})
OPEN_LOOP_MAX_USERS = 500  # the top closed-loop level: a load one Locust process is known to carry
REQUEST_FAILURES_EXIT_CODE = 3  # passed as --exit-code-on-error
TASK_ERROR_EXIT_CODE = 4  # set by the locustfile when a task raised


def parse_mix(text: str) -> dict[str, float]:
    """``"text=0.75,status=0.25"`` -> shares normalised to sum 1 (weights are accepted too)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"LOAD_MIX: {item!r} is not KIND=SHARE")
        try:
            weights[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"LOAD_MIX: share of {kind.strip()!r} is not a number: {value!r}") from None
    return normalise_mix(weights)


def normalise_mix(weights: Mapping[str, float]) -> dict[str, float]:
    """Check the kinds and shares of a mix and scale the shares to sum 1 (zero shares dropped)."""
    for kind, weight in weights.items():
        if kind not in KINDS:
            raise ValueError(f"LOAD_MIX: unknown kind {kind!r}; choose from {', '.join(sorted(KINDS))}")
        if not weight >= 0:
            raise ValueError(f"LOAD_MIX: share of {kind!r} must be a number >= 0, not {weight!r}")
    total = sum(weights.values())
    if not total > 0:
        raise ValueError("LOAD_MIX: the shares must add up to more than 0")
    return {kind: weight / total for kind, weight in weights.items() if weight > 0}


def format_mix(mix: Mapping[str, float]) -> str:
    return ",".join(f"{kind}={share:.12g}" for kind, share in mix.items())


@dataclass(frozen=True)
class LoadProfile:
    """The load the locustfile sends; each field is one environment variable (see to_env)."""

    service: str = "unknown"
    users: int | None = None  # label; None: the locustfile takes -u when it can
    trial: int = 0
    arrival_rate: float = 0.0  # > 0: open loop, requests/s over all users
    arrival_users: int | None = None  # open loop: users over all processes
    seed: int = 1
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    zipf_s: float = 1.1
    businesses: int = 50
    phones_per_business: int = 2
    wait_min_s: float = 0.1
    wait_max_s: float = 0.5
    retries: int = 4
    retry_backoff_s: float = 0.5
    timeout_s: float = 30.0
    records_dir: Path | None = None
    app_secret: str | None = field(default=None, repr=False)
    verify_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = [
            message
            for failed, message in (
                (self.businesses < 1, "LOAD_BUSINESSES must be at least 1"),
                (self.phones_per_business < 1, "LOAD_PHONES_PER_BUSINESS must be at least 1"),
                (not wait_ordered(self.wait_min_s, self.wait_max_s), "need 0 <= LOAD_WAIT_MIN <= LOAD_WAIT_MAX"),
                (self.retries < 0, "LOAD_RETRIES must be at least 0"),
                (self.retry_backoff_s < 0, "LOAD_RETRY_BACKOFF_S must be at least 0"),
                (self.timeout_s <= 0, "LOAD_TIMEOUT_S must be more than 0"),
                (self.arrival_rate < 0, "LOAD_ARRIVAL_RATE must be at least 0"),
                (self.zipf_s < 0, "LOAD_ZIPF_S must be at least 0"),
                (self.arrival_users is not None and self.arrival_users < 1, "LOAD_ARRIVAL_USERS must be >= 1"),
            )
            if failed
        ]
        if problems:
            raise ValueError("invalid load profile: " + "; ".join(problems))
        object.__setattr__(self, "mix", normalise_mix(self.mix))

    @property
    def open_loop(self) -> bool:
        return self.arrival_rate > 0

    @property
    def wamid_salt(self) -> bytes:
        """This step's mark in every wamid it sends: a reply that lands during another step (a
        service still working off its queue after its own step) is then never taken for one of
        that step's messages."""
        step = f"{self.service}|{self.users}|{self.arrival_rate!r}|{self.trial}|{self.seed}"
        return hashlib.sha256(step.encode()).digest()[:3]

    def to_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, (variable, _) in _VARIABLES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name == "mix":
                env[variable] = format_mix(value)
            else:
                env[variable] = repr(value) if isinstance(value, float) else str(value)  # floats exact
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadProfile:
        """The profile the variables describe; unset or blank variables keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, (variable, parse) in _VARIABLES.items():
            raw = env.get(variable, "")
            if not raw.strip():
                continue
            if variable in _SECRETS:
                values[name] = raw  # verbatim, and never echoed in an error
                continue
            try:
                values[name] = parse(raw.strip())
            except ValueError as error:
                raise ValueError(f"{variable}={raw.strip()!r}: {error}") from None
        return cls(**values)  # type: ignore[arg-type]


# LoadProfile field -> (environment variable, parser); the locustfile's docstring documents them.
_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "service": ("LOAD_SERVICE", str),
    "users": ("LOAD_USERS", int),
    "trial": ("LOAD_TRIAL", int),
    "arrival_rate": ("LOAD_ARRIVAL_RATE", float),
    "arrival_users": ("LOAD_ARRIVAL_USERS", int),
    "seed": ("LOAD_SEED", int),
    "mix": ("LOAD_MIX", parse_mix),
    "zipf_s": ("LOAD_ZIPF_S", float),
    "businesses": ("LOAD_BUSINESSES", int),
    "phones_per_business": ("LOAD_PHONES_PER_BUSINESS", int),
    "wait_min_s": ("LOAD_WAIT_MIN", float),
    "wait_max_s": ("LOAD_WAIT_MAX", float),
    "retries": ("LOAD_RETRIES", int),
    "retry_backoff_s": ("LOAD_RETRY_BACKOFF_S", float),
    "timeout_s": ("LOAD_TIMEOUT_S", float),
    "records_dir": ("LOAD_RECORDS_DIR", Path),
    "app_secret": ("WHATSAPP_APP_SECRET", str),
    "verify_token": ("WHATSAPP_VERIFY_TOKEN", str),
}
_SECRETS = frozenset({"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"})


def wait_ordered(wait_min_s: float, wait_max_s: float) -> bool:
    """The one rule on a user's pause between requests: 0 <= min <= max."""
    return 0 <= wait_min_s <= wait_max_s


def open_loop_users(arrival_rate: float, timeout_s: float, cap: int = OPEN_LOOP_MAX_USERS) -> int:
    """Users for open loop: enough for R x timeout requests in flight (Little's law), capped."""
    return max(1, min(cap, math.ceil(arrival_rate * timeout_s)))
