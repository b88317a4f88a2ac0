"""A run several test processes read is made once, and a failed one is made again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_runs import made_once


def test_a_run_is_made_once_and_a_failed_one_again(tmp_path_factory: pytest.TempPathFactory) -> None:
    made: list[Path] = []

    def make(directory: Path) -> None:
        made.append(directory)
        (directory / "results.json").write_text("{}")

    first = made_once("a-run", tmp_path_factory, make)
    assert made_once("a-run", tmp_path_factory, make) == first and made == [first]
    assert (first / "results.json").is_file()

    def fail(directory: Path) -> None:
        (directory / "half").write_text("")
        raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError):
        made_once("b-run", tmp_path_factory, fail)
    again = made_once("b-run", tmp_path_factory, make)  # made again, from an empty directory
    assert made[-1] == again and not (again / "half").exists()
