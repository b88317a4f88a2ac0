"""The history of main-branch runs, and the commits where a figure changed for good.

  harness history append RUN_DIR [--history FILE] [--commit SHA]
      adds the run's key figures: one row per service and load level with its p95, p99,
      throughput, CPU per request and that CPU over the load generator's (the host's speed
      cancels), the commit it measured (git rev-parse HEAD unless --commit) and the run's date.
      FILE is CSV (default reports/history.csv) or, ending in .jsonl, JSON lines.
  harness history show [--history FILE] [--metric M] [--service S] [--max-pvalue P] [--plot PNG]
      prints each series' trend and names every change point Apache Otava finds in it that
      passes the verdict's practical margin: the first commit (and date) measured after the
      change, and how far the figure moved. Raw CPU per request, which moves with the host,
      is searched only when named with --metric.

See docs/history.md.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pandas as pd

from ..analysis.history import (
    DEFAULT_MAX_PVALUE,
    DETECTED,
    HISTORY_COLUMNS,
    METRICS,
    RENAMED,
    SERIES_KEYS,
    change_points,
    history_rows,
    margin,
)
from ..results import load_results
from ..terms import load_label
from ._runs import share

HELP = "append a run's key figures to the main-branch history; show its trends and change points"
DEFAULT_HISTORY = Path("reports/history.csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    append = actions.add_parser("append", help="add a run's figures to the history")
    append.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    append.add_argument("--commit", default=None, help="the commit the run measured (default: git rev-parse HEAD)")
    show = actions.add_parser("show", help="trends and change points")
    show.add_argument(
        "--metric",
        choices=sorted(METRICS),
        action="append",
        default=None,
        help="default: all (change points: all but the raw service_cpu_ms_per_request)",
    )
    show.add_argument("--service", action="append", default=None, help="default: every service")
    show.add_argument(
        "--max-pvalue",
        type=share,
        default=DEFAULT_MAX_PVALUE,
        metavar="P",
        help="the significance a change point must reach (Otava's t-test; smaller: fewer, surer change points)",
    )
    show.add_argument("--plot", type=Path, default=None, metavar="PNG", help="plot each series, change points marked")
    for sub in (append, show):
        sub.add_argument("--history", type=Path, default=DEFAULT_HISTORY, help="the history file (.csv or .jsonl)")


def run(args: argparse.Namespace) -> int:
    return _append(args) if args.action == "append" else _show(args)


def _append(args: argparse.Namespace) -> int:
    try:
        results = load_results(args.run_dir)
    except (OSError, ValueError) as error:
        print(f"cannot read the run in {args.run_dir}: {error}")
        return 2
    commit = args.commit or _head()
    if commit is None:
        print("no commit: not a git checkout here; pass --commit SHA")
        return 2
    rows = history_rows(results, commit)
    history = read_history(args.history)
    if not history.empty and results.run_id in set(history["run_id"]):
        print(f"{results.run_id} is already in {args.history}; nothing added")
        return 0
    write_history(pd.concat([history, rows], ignore_index=True) if not history.empty else rows, args.history)
    print(f"{len(rows)} row(s) of {results.run_id} (commit {commit[:12]}) added to {args.history}")
    return 0


def _show(args: argparse.Namespace) -> int:
    history = read_history(args.history)
    if history.empty:
        print(f"no history in {args.history}; add runs with `harness history append RUN_DIR`")
        return 2
    metrics = tuple(args.metric or METRICS)
    services = tuple(args.service) if args.service else None
    if services is not None:
        history = history[history["service"].isin(services)]
    found = change_points(history, tuple(args.metric or DETECTED), max_pvalue=args.max_pvalue)
    runs = history["run_id"].nunique()
    margins = ", ".join(f"{m} {margin(m):.0%}" for m in args.metric or DETECTED)
    print(
        f"{runs} run(s) in {args.history}; change points (Apache Otava) at p < {args.max_pvalue:g} "
        f"and beyond the practical margin ({margins})"
    )
    for (service, users, rate), series in history.groupby(list(SERIES_KEYS), sort=True):
        series = series.sort_values("date", kind="stable")
        print(f"\n{service} at {load_label(int(users), float(rate))}:")
        for metric in (m for m in metrics if m in series):
            trend = " ".join("-" if pd.isna(v) else f"{v:.3g}" for v in series[metric])
            print(f"  {metric}: {trend}")
    if not found:
        print("\nno change point")
    for point in found:
        print(
            f"\n{point.service} at {load_label(point.users, point.arrival_rate)}: {point.metric} "
            f"{point.before:.3g} -> {point.after:.3g} ({point.ratio:.2f}x, p = {point.p_value:.2g}), "
            f"began at commit {point.commit[:12]} ({point.date:%Y-%m-%d %H:%M} UTC, run {point.run_id})"
        )
    if args.plot is not None:
        _plot(history, tuple(m for m in metrics if m in history), found, args.plot)
        print(f"\nplot: {args.plot}")
    return 0


def read_history(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    frame = pd.read_json(path, lines=True, dtype=False) if path.suffix == ".jsonl" else None
    if frame is None:
        frame = pd.read_csv(path, dtype={"commit": str, "run_id": str, "service": str})
    return frame.rename(columns=RENAMED)


def write_history(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.reindex(columns=list(HISTORY_COLUMNS))  # an older file's missing columns stay empty
    if path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)


def _head() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def _plot(history: pd.DataFrame, metrics: tuple[str, ...], found: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.8 * len(metrics)), squeeze=False, sharex=True)
    runs = history.sort_values("date", kind="stable")["run_id"].drop_duplicates().tolist()
    position = {run_id: i for i, run_id in enumerate(runs)}
    commits = history.drop_duplicates("run_id").set_index("run_id")["commit"].astype(str)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for (service, users, rate), series in history.groupby(list(SERIES_KEYS), sort=True):
            series = series.sort_values("date", kind="stable")
            x = [position[r] for r in series["run_id"]]
            ax.plot(x, series[metric], marker="o", label=f"{service} {load_label(int(users), float(rate))}")
        for point in found:
            if point.metric == metric:
                ax.axvline(position[point.run_id], color="red", linestyle="--", linewidth=1)
        ax.set_ylabel(METRICS[metric], fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="best")
    axes[-1, 0].set_xticks(range(len(runs)), [commits[r][:8] for r in runs], rotation=45, fontsize=7)
    axes[-1, 0].set_xlabel("commit (oldest first); dashed: where a change began")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
