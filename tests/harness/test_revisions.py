"""Relative benchmarking: a variant ``NAME@REVISION`` runs that git revision's code from a
temporary worktree, removed again at the end; bad revisions are a clear error, exit 2."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from harness.bench.database import DatabaseServer
from harness.bench.services import BenchSecrets, ServiceProcess, service_environment
from harness.cli import main
from harness.runs import VariantError, checkout, remove_worktrees, split_revision, variant_target
from harness.runs.compare import run_settings
from harness.runs.variants import REPOSITORY
from harness.upstream import UpstreamProcess
from tests.deployments import CONTRACT_ENV, seed_contract_db
from tests.plans import short_plan


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with two commits: app.txt reads "one", then "two"."""
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    for text in ("one", "two"):
        (path / "app.txt").write_text(text)
        _git(path, "add", "app.txt")
        _git(path, "commit", "-q", "-m", text)
    return path


@pytest.fixture(autouse=True)
def _no_worktree_left() -> Iterator[None]:
    yield
    remove_worktrees()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("optimized", ("optimized", None)),
        ("optimized@origin/main", ("optimized", "origin/main")),
        ("optimized+httpx@HEAD~1", ("optimized+httpx", "HEAD~1")),
        (" original @ v1.0 ", ("original", "v1.0")),
    ],
)
def test_a_variant_name_may_carry_a_revision(name: str, expected: tuple[str, str | None]) -> None:
    assert split_revision(name) == expected


def test_an_at_sign_without_a_revision_is_an_error() -> None:
    with pytest.raises(VariantError, match="no revision"):
        split_revision("optimized@")


def test_the_worktree_is_at_the_revision_and_removed_afterwards(repo: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD~1")
    worktree = checkout("HEAD~1", repo)
    assert worktree.commit == first and worktree.revision == "HEAD~1"
    assert _git(worktree.path, "rev-parse", "HEAD") == first
    assert (worktree.path / "app.txt").read_text() == "one"
    assert (repo / "app.txt").read_text() == "two"  # the working tree is untouched
    assert checkout(first, repo) is worktree  # one worktree per commit
    assert str(worktree.path) in _git(repo, "worktree", "list")
    remove_worktrees()
    assert not worktree.path.exists()
    assert str(worktree.path) not in _git(repo, "worktree", "list")


def test_an_unknown_revision_and_a_directory_outside_git_are_clear_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(VariantError, match="unknown revision 'no-such-branch'"):
        checkout("no-such-branch", repo)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(VariantError, match="not a git checkout"):
        checkout("HEAD", plain)


def test_a_bad_revision_on_the_command_line_exits_2_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["compare", "--baseline", "optimized@no-such-revision-here", "--candidates", "optimized"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "unknown revision 'no-such-revision-here'" in err and "Traceback" not in err


def test_the_revision_target_runs_from_the_worktree_and_records_its_commit() -> None:
    head = _git(REPOSITORY, "rev-parse", "HEAD")
    target = variant_target("optimized@HEAD")
    assert target.label == "optimized@HEAD" and target.app == "optimized.app:app" and target.indexes
    assert target.source is not None and _git(target.source, "rev-parse", "HEAD") == head
    assert target.source.resolve() != REPOSITORY
    assert target.variant is not None and target.variant.commit == head
    assert target.env == variant_target("optimized").env  # what HEAD's own contract says optimized is

    settings = run_settings(short_plan(("optimized@HEAD", "optimized")))
    assert settings.variants["optimized@HEAD"].commit == head
    assert settings.variants["optimized"].commit is None

    for workers, flag in ((1, "--app-dir"), (2, "--chdir")):
        process = ServiceProcess(
            target.label, target.app, env={"PYTHONPATH": "/x"}, workers=workers, source=target.source
        )
        assert process.argv[process.argv.index(flag) + 1] == str(target.source)
        assert process.cwd == target.source
        assert process.env is not None and process.env["PYTHONPATH"] == os.pathsep.join((str(target.source), "/x"))
    plain = ServiceProcess("optimized", "optimized.app:app", env={})
    assert plain.cwd is None and "--app-dir" not in plain.argv


def test_a_service_from_a_worktree_of_head_answers_and_runs_the_worktrees_code(
    database: DatabaseServer, mongo: MongoClient[Any], bench: BenchSecrets, upstream: UpstreamProcess, logs_dir: Path
) -> None:
    target = variant_target("optimized@HEAD")
    assert target.source is not None
    seed_contract_db(mongo["revision_head"], bench, indexes=False)
    env = service_environment(
        bench,
        mongodb_uri=database.uri,
        db_name="revision_head",
        graph_api_base_url=upstream.graph_base_url,
        llm_base_url=upstream.llm_base_url,
        overrides={**target.env, **CONTRACT_ENV},
    )
    process = ServiceProcess(
        target.label, target.app, env=env, log_path=logs_dir / "revision_head.log", source=target.source
    )
    # A route only the worktree's copy of the app has: proof the service imports from there.
    app_file = target.source / "optimized" / "app.py"
    app_file.write_text(
        app_file.read_text() + '\n\n@app.get("/from-worktree")\ndef _probe() -> str:\n    return "yes"\n'
    )
    with process.start(timeout=30):
        assert httpx.get(f"{process.url}/health", timeout=5).status_code == 200
        assert httpx.get(f"{process.url}/from-worktree", timeout=5).json() == "yes"
        assert Path(f"/proc/{process.pid}/cwd").resolve() == target.source.resolve()
