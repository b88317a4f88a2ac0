"""The history of main-branch runs, and where in it a figure changed for good.

Each run adds one row per service and load level (:func:`history_rows`): its p95 and p99, its
throughput and its CPU per request (the median over the level's trials), with the commit it
measured and the run's date. :func:`change_points` finds, per series (service x level x
metric), the runs where a lasting change began.

The change points come from Apache Otava (``apache-otava``; the Apache project that grew out of
DataStax's Hunter, itself built on MongoDB's E-Divisive), not from code of ours. Why Otava and
not MongoDB's ``signal-processing-algorithms``: that package pins numpy < 2, gevent < 25 and
setuptools < 71, and ships only as a source build, so installing it would downgrade what
Locust and pandas run on. Otava's detector (``otava.analysis``) needs only numpy and scipy,
and it is noise-adaptive the way Hunter's paper describes: E-Divisive proposes split points
and a Student's t-test between the two sides keeps one only when its p-value is below
``max_pvalue``, so a noisy series needs a bigger step than a quiet one.
Its packaging pins numpy 2.2.x and scipy 1.16.x (and pulls its BigQuery, Postgres and Slack
clients); the detector runs unchanged on newer numpy and scipy.

CPU per request measured in two runs minutes apart differs with the host: a whole run's
processes can use a fifth less CPU for the same work (docs/history.md). The load generator does
the same work per request whatever the service's code, in the same window, so
``cpu_vs_load_generator`` (the service's CPU per request over the load generator's) cancels the
host's speed; a change point in it is the code's. A change smaller than the verdict's practical
margin for its metric is not reported (Otava's ``min_magnitude``): the history names changes the
verdict would act on, not every significant wobble.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ..metrics import CPU_METRIC, HISTORY_METRICS, LATENCY_METRICS, METRIC_LABELS, METRIC_UNITS, practical_margin
from ..results import Results, StepResult
from ..terms import Component

__all__ = [
    "DEFAULT_MAX_PVALUE",
    "DETECTED",
    "HISTORY_COLUMNS",
    "METRICS",
    "RELATIVE_CPU",
    "RENAMED",
    "SERIES_KEYS",
    "ChangePoint",
    "change_points",
    "history_rows",
    "margin",
]

RELATIVE_CPU = "cpu_vs_load_generator"  # the service's CPU per request over the load generator's
# metric column -> its label: the registry's history metrics, then the relative CPU
METRICS: dict[str, str] = {
    **{name: f"{METRIC_LABELS[name]}, {METRIC_UNITS[name]}" for name in HISTORY_METRICS},
    RELATIVE_CPU: "service CPU / load generator CPU, per request",
}
# Raw CPU per request moves with the host's speed between runs (docs/history.md): kept and shown,
# but change points are searched where the host cancels, unless asked for by name.
DETECTED = tuple(m for m in METRICS if m != CPU_METRIC)
SERIES_KEYS = ("service", "users", "arrival_rate")  # one series per service and load level (and metric)
REFERENCE = "load_generator_cpu_ms_per_request"  # the host's speed, kept to show why a raw figure moved
# One row per run x service x level.
HISTORY_COLUMNS = ("run_id", "date", "commit", *SERIES_KEYS, "trials", *METRICS, REFERENCE)
RENAMED = {"cpu_ms_per_request": CPU_METRIC}  # a history written before the registry named it
DEFAULT_MAX_PVALUE = 0.001  # Otava's default


def history_rows(results: Results, commit: str) -> pd.DataFrame:
    """A run's key figures, one row per service and level; the echo app is the machine, not a
    service, and stays out."""
    rows = [
        {
            "service": step.service,
            "users": step.users,
            "arrival_rate": step.arrival_rate,
            **{name: _figure(step, name) for name in HISTORY_METRICS},
            REFERENCE: _load_generator_ms(step),
        }
        for step in results.steps
        if step.service in results.settings.services
    ]
    if not rows:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    steps = pd.DataFrame(rows)
    steps[RELATIVE_CPU] = steps[CPU_METRIC].astype(float) / steps[REFERENCE].astype(float)
    frame = steps.groupby(list(SERIES_KEYS), sort=True).median().reset_index()
    frame["trials"] = steps.groupby(list(SERIES_KEYS), sort=True).size().to_numpy()
    frame["run_id"] = results.run_id
    frame["date"] = results.created_at.isoformat()
    frame["commit"] = commit
    return frame[list(HISTORY_COLUMNS)]


def _figure(step: StepResult, name: str) -> float | None:
    """A registered metric of one step: a percentile from its latencies, else its own field."""
    return getattr(step.latency, name) if name in LATENCY_METRICS else getattr(step, name)


def margin(column: str) -> float:
    """The least relative change reported in ``column``: its metric's practical margin."""
    return practical_margin(CPU_METRIC if column == RELATIVE_CPU else column)


def _load_generator_ms(step: StepResult) -> float | None:
    usage = step.components.get(Component.LOAD_GENERATOR)
    return usage.cpu_seconds * 1000 / step.requests if usage is not None and step.requests else None


@dataclass(frozen=True)
class ChangePoint:
    """Where a series moved for good: the first run after the change, and how far it moved."""

    service: str
    users: int
    arrival_rate: float
    metric: str
    commit: str  # the first commit measured after the change
    date: datetime
    run_id: str
    before: float  # the mean of the segment before
    after: float  # and after
    p_value: float

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else float("nan")


def change_points(
    history: pd.DataFrame,
    metrics: tuple[str, ...] = DETECTED,
    *,
    max_pvalue: float = DEFAULT_MAX_PVALUE,
    services: tuple[str, ...] | None = None,
) -> list[ChangePoint]:
    """Otava's change points in every series of ``history`` (rows in HISTORY_COLUMNS), oldest
    run first within a series; ``max_pvalue`` is the significance a change must reach, and the
    metric's practical margin the least relative change reported. A column an older history
    lacks has no series."""
    from otava.analysis import compute_change_points  # imported here: only this needs it

    found = []
    frame = history if services is None else history[history["service"].isin(services)]
    frame = frame.assign(date=pd.to_datetime(frame["date"], utc=True))
    for (service, users, rate), series in frame.groupby(list(SERIES_KEYS), sort=True):
        series = series.sort_values("date", kind="stable")
        for metric in metrics:
            if metric not in series:
                continue
            values = series[metric].astype(float)
            kept = series[values.notna()]
            points, _ = compute_change_points(
                values.dropna().to_numpy(), max_pvalue=max_pvalue, min_magnitude=margin(metric)
            )
            for point in points:
                row = kept.iloc[int(point.index)]
                found.append(
                    ChangePoint(
                        service=str(service),
                        users=int(users),
                        arrival_rate=float(rate),
                        metric=metric,
                        commit=str(row["commit"]),
                        date=row["date"].to_pydatetime(),
                        run_id=str(row["run_id"]),
                        before=float(point.stats.mean_1),
                        after=float(point.stats.mean_2),
                        p_value=float(point.stats.pvalue),
                    )
                )
    return found
