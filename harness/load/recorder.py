"""The load generator's records file: one CSV row per request attempt, written positionally.

Kept apart from the locustfile (which imports Locust, and with it gevent's monkey-patching) so
the benchmarks can price a record's cost in a plain process.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO, Any

from ..records import RECORD_COLUMNS

__all__ = ["RecordsFile"]

_BUFFER = 1 << 16  # rows reach the disk in 64 KiB writes, and at every flush (each step's end)


class RecordsFile:
    """This process' records file, opened on first use: master and workers never share one."""

    def __init__(self, directory: Path, name: str | None = None) -> None:
        self.path = directory / (name or f"records-{os.getpid()}.csv")
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._started = False

    def write(self, row: tuple[object, ...]) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened again after a close (a request finishing after the step ended): append, so
            # nothing written before is lost.
            mode = "a" if self._started else "w"
            self._file = open(self.path, mode, newline="", buffering=_BUFFER)  # noqa: SIM115 - closed in close()
            self._writer = csv.writer(self._file)
            if not self._started:
                self._writer.writerow(RECORD_COLUMNS)
            self._started = True
        self._writer.writerow(row)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None
