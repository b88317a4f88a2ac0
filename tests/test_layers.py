"""The layers of docs/architecture.md enforce themselves: every import of the project's own code
(at the top of a module or inside a function, absolute or relative) is resolved to its module and
checked against the table of what each layer may not import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "contract", "original", "optimized")
_NEUTRAL = ("harness.results", "harness.records", "harness.terms", "harness.rounding", "harness.processes")

# layer (a module or package prefix) -> the prefixes it must never import (docs/architecture.md)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "harness.analysis": tuple(
        f"harness.{p}" for p in ("report", "gate", "runs", "commands", "bench", "load", "upstream", "notebook", "cli")
    ),
    "harness.report": tuple(f"harness.{p}" for p in ("runs", "commands", "gate", "bench", "load", "upstream", "cli")),
    # The gate words the run's answers with the report's own module (harness.report.answers).
    "harness.gate": tuple(f"harness.{p}" for p in ("runs", "commands", "bench", "load", "upstream", "cli")),
    "harness.load": tuple(f"harness.{p}" for p in ("runs", "commands", "report", "gate", "analysis", "bench")),
    "harness.upstream": tuple(f"harness.{p}" for p in ("runs", "commands", "report", "gate", "analysis", "bench")),
    "harness.bench": tuple(f"harness.{p}" for p in ("runs", "commands", "report", "gate", "analysis")),
    **{
        neutral: tuple(f"harness.{p}" for p in ("analysis", "report", "gate", "runs", "commands", "bench", "upstream"))
        for neutral in _NEUTRAL
    },
    # The metric registry is the bottom: it imports nothing of the project.
    "harness.metrics": PACKAGES,
    "contract": ("harness", "original", "optimized"),
    "optimized": ("harness", "original"),
    "original": ("harness", "optimized"),
}
# Nothing imports the runs but the commands (and the runs themselves).
RUNS_IMPORTERS = ("harness.runs", "harness.commands")


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module of the project ``path`` imports, resolved to its dotted name."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(module: str, imported: set[str]) -> list[str]:
    bad = [
        f"{module} imports {name} (layer {layer} may not import {banned})"
        for layer, banned_prefixes in FORBIDDEN.items()
        if _within(module, layer)
        for name in sorted(imported)
        for banned in banned_prefixes
        if _within(name, banned)
    ]
    if not any(_within(module, allowed) for allowed in RUNS_IMPORTERS):
        bad += [
            f"{module} imports {name} (only the commands import the runs)"
            for name in imported
            if _within(name, "harness.runs")
        ]
    return bad


def test_every_module_keeps_to_its_layer():
    sources = _sources()
    assert len(sources) > 50, "the scan found too few modules: is ROOT right?"
    problems = [problem for path in sources for problem in _violations(_module_name(path), _imports(path))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source", "banned"),
    [
        ("harness.analysis.decision", "from ..report import console\n", "harness.report"),
        ("harness.analysis.decision", "def f():\n    from harness.gate import checks\n", "harness.gate"),
        ("harness.report.tables", "from ..runs.compare import run_comparison\n", "harness.runs"),
        ("contract.payload", "import harness.terms\n", "harness"),
        ("harness.metrics", "from .terms import Direction\n", "harness"),
    ],
)
def test_the_check_catches_an_import_across_a_layer(tmp_path, module, source, banned):
    # The check itself can fail: a module written where the layer is, importing across it.
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    fake = tmp_path / path.relative_to(ROOT)
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text(source)
    assert any(banned in problem for problem in _violations(module, _imports(fake, tmp_path)))


def test_a_command_imports_only_itself_the_fake_upstream_starts_without_the_runs():
    """`harness upstream` starts with every bench: it must not import the analysis (scipy, pandas),
    which doubled its start-up time."""
    import subprocess
    import sys

    probe = (
        "import sys; from harness.cli import build_parser, _command_named; "
        "build_parser(_command_named(['-v', 'upstream', '--port', '1'])); "
        "print(sorted(m for m in ('harness.runs', 'harness.analysis', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    from harness.cli import _command_named

    assert _command_named(["selftest", "--part", "gate"]) == "selftest"
    assert _command_named(["--help"]) is None and _command_named(["bogus"]) is None
