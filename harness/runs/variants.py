"""The service variants a run can measure, as targets: everything the harness does with a
variant (which app runs, its environment, whether its database gets the migration's indexes,
its label in every report) derives from :data:`contract.architecture.VARIANTS`.

A variant may also name a git revision of this repository, ``NAME@REVISION`` (e.g.
``optimized@origin/main`` or ``optimized@HEAD~1``): relative benchmarking, the base and this
change measured side by side in one run. The revision is checked out into a temporary git
worktree (removed again when the run ends, also on failure, Ctrl-C or SIGTERM: an ``atexit``
hook), its service runs from there, and the variant means what that revision's own
``contract.architecture`` says it means, so a change to a preset is measured too.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contract.architecture import VARIANTS, Architecture, Indexes, VariantError, parse_variant

from ..results import VariantInfo
from .plan import Target

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_CANDIDATES",
    "REPOSITORY",
    "VariantError",
    "Worktree",
    "checkout",
    "remove_worktrees",
    "scratch_copy",
    "split_revision",
    "variant_info",
    "variant_target",
]

DEFAULT_BASELINE = next(name for name, variant in VARIANTS.items() if variant.role == "baseline")
DEFAULT_CANDIDATES = tuple(name for name, variant in VARIANTS.items() if variant.role == "candidate")
REPOSITORY = Path(__file__).resolve().parents[2]  # the checkout this harness runs from

_REVISION_MARK = "@"


def variant_info(name: str, architecture: Architecture) -> VariantInfo:
    base = name.split("+", 1)[0]
    changed = name != base
    summary = VARIANTS[base].summary + (f", changed: {name.removeprefix(base + '+')}" if changed else "")
    return VariantInfo(summary=summary, choices=architecture.to_env())


def split_revision(name: str) -> tuple[str, str | None]:
    """``NAME[+TOKEN...]@REVISION`` -> (the variant, the revision); no ``@``: the revision is None."""
    variant, mark, revision = (part.strip() for part in name.partition(_REVISION_MARK))
    if mark and not revision:
        raise VariantError(f"{name!r} names no revision after {_REVISION_MARK!r} (e.g. optimized@origin/main)")
    return variant, revision or None


def variant_target(
    name: str, *, env: dict[str, str] | None = None, upstream_latency_factor: float = 1.0, label: str | None = None
) -> Target:
    """The target of variant ``name`` (``NAME``, ``NAME+TOKEN...``, either ``@REVISION``);
    raises VariantError (also for a revision git does not know, or no git checkout)."""
    variant, revision = split_revision(name)
    if revision is not None:
        return _revision_target(name, variant, checkout(revision), env, upstream_latency_factor, label)
    architecture = parse_variant(name)
    return Target(
        label=label or name,
        app=architecture.app,
        env={**architecture.to_env(), **(env or {})},
        indexes=architecture.indexes is Indexes.CREATED,
        variant=variant_info(name, architecture),
        upstream_latency_factor=upstream_latency_factor,
    )


def _revision_target(
    name: str,
    variant: str,
    worktree: Worktree,
    env: dict[str, str] | None,
    upstream_latency_factor: float,
    label: str | None,
) -> Target:
    parse_variant(variant)  # a name this harness knows, before asking the revision
    described = _describe(worktree.path, variant)
    base = variant.split("+", 1)[0]
    summary = f"{VARIANTS[base].summary} (as {worktree.revision} has it, commit {worktree.commit[:12]})"
    return Target(
        label=label or name,
        app=described["app"],
        env={**described["env"], **(env or {})},
        indexes=described["indexes"],
        variant=VariantInfo(summary=summary, choices=described["env"], commit=worktree.commit),
        upstream_latency_factor=upstream_latency_factor,
        source=worktree.path,
    )


# The revision's own contract says what the variant is there: its app, its settings, its indexes.
_DESCRIBE = (
    "import json, sys\n"
    "from contract.architecture import Indexes, parse_variant\n"
    "a = parse_variant(sys.argv[1])\n"
    "print(json.dumps({'app': a.app, 'env': a.to_env(), 'indexes': a.indexes == Indexes.CREATED}))\n"
)


@functools.cache
def _describe(source: Path, variant: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-c", _DESCRIBE, variant], cwd=source, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise VariantError(f"the checkout at {source} cannot describe variant {variant!r}: {last}")
    return json.loads(done.stdout)


# -- git worktrees ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Worktree:
    """A revision checked out in a temporary directory of its own."""

    revision: str  # as the user named it
    commit: str  # what it resolved to
    path: Path
    repository: Path


_worktrees: dict[tuple[Path, str], Worktree] = {}  # (repository, commit, or a scratch copy's path) -> it


def _git(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=repository, capture_output=True, text=True, check=False)
    except OSError as error:  # no git on the PATH
        raise VariantError(f"git is needed to run a NAME@REVISION variant: {error}") from None


def resolve_revision(revision: str, repository: Path = REPOSITORY) -> str:
    """The commit ``revision`` names in ``repository`` (raises VariantError)."""
    inside = _git(repository, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise VariantError(f"{repository} is not a git checkout: a NAME@REVISION variant needs one")
    found = _git(repository, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if found.returncode != 0:
        raise VariantError(f"unknown revision {revision!r} in {repository} (fetch it first, e.g. git fetch origin)")
    return found.stdout.strip()


def checkout(revision: str, repository: Path = REPOSITORY) -> Worktree:
    """``revision`` checked out (detached) into a temporary worktree, one per commit and run."""
    repository = repository.resolve()
    commit = resolve_revision(revision, repository)
    if (repository, commit) not in _worktrees:
        _worktrees[(repository, commit)] = _add_worktree(repository, revision, commit, "harness")
    return _worktrees[(repository, commit)]


def scratch_copy(revision: str, repository: Path = REPOSITORY) -> Worktree:
    """A worktree of ``revision`` of its own, never shared (to patch: the gate's known answers);
    removed with the others."""
    repository = repository.resolve()
    worktree = _add_worktree(repository, revision, resolve_revision(revision, repository), "harness-copy")
    _worktrees[(repository, str(worktree.path))] = worktree
    return worktree


def _add_worktree(repository: Path, revision: str, commit: str, prefix: str) -> Worktree:
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-{commit[:12]}-"))
    added = _git(repository, "worktree", "add", "--detach", str(path), commit)
    if added.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        raise VariantError(f"git could not check out {revision!r} into a worktree: {added.stderr.strip()}")
    return Worktree(revision, commit, path, repository)


def remove_worktrees() -> None:
    """Remove every worktree this process checked out (idempotent; also run at exit)."""
    while _worktrees:
        _, worktree = _worktrees.popitem()
        with contextlib.suppress(VariantError):
            _git(worktree.repository, "worktree", "remove", "--force", str(worktree.path))
            _git(worktree.repository, "worktree", "prune")
        shutil.rmtree(worktree.path, ignore_errors=True)
    _describe.cache_clear()


atexit.register(remove_worktrees)
