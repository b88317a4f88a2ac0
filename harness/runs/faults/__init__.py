"""Faults injected into every measured step (``harness chaos``).

One module per fault kind, each defining one :class:`Fault` subclass registered with
:func:`register`; every module of this package is imported here, so a new kind is one new module
(plus its test). :mod:`.scenario` runs any of them.
"""

import importlib
import pkgutil

from .base import FAULTS, Fault, FaultOption, FaultUnavailable, Injector, Timeline, register
from .scenario import READY_POLL_S, FaultScenario, ReadyProbe, fault_plan, recommended_window_s, retry_policy

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "scenario"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "FAULTS",
    "READY_POLL_S",
    "Fault",
    "FaultOption",
    "FaultScenario",
    "FaultUnavailable",
    "Injector",
    "ReadyProbe",
    "Timeline",
    "fault_plan",
    "recommended_window_s",
    "register",
    "retry_policy",
]
