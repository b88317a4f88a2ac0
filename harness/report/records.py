"""Reading a run directory's per-request records (Parquet, or CSV where Parquet was unavailable)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..results import RECORD_COLUMNS, Results

__all__ = ["RECORD_FILES", "load_run_records"]

RECORD_FILES = ("requests.parquet", "requests.csv")
_log = logging.getLogger(__name__)


def _candidates(run_dir: Path, results: Results | None) -> list[Path]:
    named = [run_dir / results.records_file] if results is not None and results.records_file else []
    return [*named, *(run_dir / name for name in RECORD_FILES)]


def load_run_records(run_dir: Path, results: Results | None = None) -> pd.DataFrame | None:
    """The run's records, or None when it has none (or they cannot be read: the report then
    omits what needs them rather than failing)."""
    for path in _candidates(run_dir, results):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".parquet":
                records = pd.read_parquet(path)
            else:
                from ..loadgen import read_records  # the schema's dtypes; '' stays ''

                records = read_records(path)
        except Exception as error:  # a damaged file must not cost the rest of the report
            _log.warning("cannot read records %s: %s", path, error)
            return None
        missing = set(RECORD_COLUMNS) - set(records.columns)
        if missing:
            _log.warning("records %s lack column(s) %s; ignored", path, sorted(missing))
            return None
        return records
    return None
