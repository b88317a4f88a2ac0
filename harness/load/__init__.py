"""Load generation: the Locust profile a step sends (:mod:`.profile`), the realistic signed
payloads it is made of (:mod:`.payloads`), the locustfile itself (:mod:`.locustfile`, imported
only by Locust's processes) and running one step of it as real processes (:mod:`.run`)."""

from .profile import (
    DEFAULT_MIX,
    KINDS,
    LoadProfile,
    format_mix,
    normalise_mix,
    open_loop_users,
    parse_mix,
    wait_ordered,
)
from .run import LOCUSTFILE, LoadOutcome, LoadRun, LoadStep, run_load_step

__all__ = [
    "DEFAULT_MIX",
    "KINDS",
    "LOCUSTFILE",
    "LoadOutcome",
    "LoadProfile",
    "LoadRun",
    "LoadStep",
    "format_mix",
    "normalise_mix",
    "open_loop_users",
    "parse_mix",
    "run_load_step",
    "wait_ordered",
]
