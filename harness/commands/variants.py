"""List the service variants and their architecture choices: the registry every command reads.

A variant is named NAME, or NAME+TOKEN+... for a variant with some choices changed (for example
original+shared-client, or optimized+httpx). Each choice is an environment variable a
deployment sets; the tokens below change one choice each.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from contract.architecture import CHOICES, VARIANTS

from ..report.console import report_console

HELP = "list the variants, their choices and the tokens that change them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    console = report_console()
    table = Table(title="service variants", caption="each row is a setting; NAME+TOKEN changes one choice")
    table.add_column("choice (setting)")
    for name in VARIANTS:
        table.add_column(name)
    table.add_column("tokens")
    for choice in CHOICES:
        values = [str(getattr(variant.architecture, choice.name)) for variant in VARIANTS.values()]
        tokens = ", ".join(f"{token} ({value})" for value, token in choice.tokens.items())
        table.add_row(f"{choice.title} ({choice.env})", *values, tokens)
    console.print(table)
    for variant in VARIANTS.values():
        console.print(f"[bold]{variant.name}[/]: {variant.summary} ({variant.role})")
    return 0
