"""Per-request records: one row per HTTP request the load generator sent, the raw data every
figure of a run is computed from.

Locust writes them as CSV files (``records-<pid>.csv``, one per process); a finished run keeps
them in one file beside ``results.json`` (Parquet, or CSV where pyarrow is missing). Readers
use :func:`read_record_files` and :func:`load_run_records`, which apply :data:`RECORD_DTYPES`.
pandas is imported lazily: the Locust processes import this module for the column names only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ABANDONED",
    "RECORD_COLUMNS",
    "RECORD_DTYPES",
    "RECORD_FILES",
    "empty_records",
    "load_run_records",
    "read_record_files",
    "write_run_records",
]

RECORD_COLUMNS = {
    "service": "str: the variant's label (original, checklist, optimized, echo, or any named variant)",
    "users": "int: concurrent users of the step (0 in open-loop mode)",
    "arrival_rate": "float: requests/s asked for in open-loop mode (0 in closed-loop mode)",
    "trial": "int: trial number of this step, from 0",
    "t_start": "float: UNIX time the request was sent",
    "intended_start": "float: UNIX time it was due (open loop; equals t_start in closed loop)",
    "latency_ms": "float: send to full response, measured by the load generator",
    "corrected_latency_ms": "float: intended start to full response (coordinated omission corrected)",
    "status": "int: HTTP status, 0 when no response (connection error or timeout)",
    "kind": "str: text | status | duplicate | unknown_phone | disabled | handshake",
    "wamid": "str: inbound message id the request carried ('' for statuses and handshakes)",
    "expects_reply": "bool: a 2xx for this request obliges exactly one reply upstream",
    "attempt": "int: 1 for the first delivery, 2.. for Meta-style retries of the same body",
    "error": "str: error class when status is 0, else ''; 'Abandoned': cut off when the step ended",
}
# An attempt Locust cut off when its step ended: the generator's doing, kept for the delivery
# audit (the message it carried is known) but neither answered nor failed by the service.
ABANDONED = "Abandoned"
# "int: ..." -> the pandas dtype: the columns' own descriptions are the single source of truth.
_DTYPE_OF = {"str": "str", "int": "int64", "float": "float64", "bool": "bool"}
RECORD_DTYPES: dict[str, str] = {
    name: _DTYPE_OF[description.split(":", 1)[0]] for name, description in RECORD_COLUMNS.items()
}
RECORD_FILES = ("requests.parquet", "requests.csv")

_log = logging.getLogger(__name__)


def empty_records() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in RECORD_DTYPES.items()})


def read_record_files(paths: Iterable[Path] | Path) -> pd.DataFrame:
    """Concatenate record CSV files (or every ``records-*.csv`` of a directory)."""
    import pandas as pd

    if isinstance(paths, Path):
        paths = sorted(paths.glob("records-*.csv")) if paths.is_dir() else [paths]
    frames = [
        pd.read_csv(path, dtype=RECORD_DTYPES, keep_default_na=False, na_values=[])  # '' stays ''
        for path in paths
        if path.stat().st_size > 0
    ]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_records()
    records = pd.concat(frames, ignore_index=True)
    return records[list(RECORD_COLUMNS)].astype(RECORD_DTYPES)


def write_run_records(frames: Sequence[pd.DataFrame], run_dir: Path) -> str | None:
    """All of a run's records in one file; its name (relative to ``run_dir``), None if none."""
    import pandas as pd

    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return None
    records = pd.concat(frames, ignore_index=True)
    try:
        records.to_parquet(run_dir / RECORD_FILES[0], index=False)
        (run_dir / RECORD_FILES[1]).unlink(missing_ok=True)
        return RECORD_FILES[0]
    except ImportError:
        records.to_csv(run_dir / RECORD_FILES[1], index=False)
        return RECORD_FILES[1]


def load_run_records(run_dir: Path, named: str | None = None) -> pd.DataFrame | None:
    """A run directory's records (``named``: the file results.json names), or None when it has
    none or they cannot be read: a report then leaves out what needs them rather than failing."""
    import pandas as pd

    candidates = ([run_dir / named] if named else []) + [run_dir / name for name in RECORD_FILES]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            records = pd.read_parquet(path) if path.suffix == ".parquet" else read_record_files(path)
        except Exception as error:  # a damaged file must not cost the rest of the report
            _log.warning("cannot read records %s: %s", path, error)
            return None
        missing = set(RECORD_COLUMNS) - set(records.columns)
        if missing:
            _log.warning("records %s lack column(s) %s; ignored", path, sorted(missing))
            return None
        return records
    return None
