"""What machine a run was measured on: stated first in every report."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

import psutil

from ..results import MachineInfo

__all__ = ["describe_machine"]


def describe_machine() -> MachineInfo:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return MachineInfo(
        hostname=socket.gethostname(),
        platform=platform.platform(),
        python=platform.python_version(),
        cpu_count=psutil.cpu_count(logical=True) or 0,
        cpu_model=_cpu_model(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        load_average_at_start=tuple(round(x, 2) for x in load),  # type: ignore[arg-type]
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
