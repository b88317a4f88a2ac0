"""``harness``: the command line. One module per command in :mod:`harness.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .commands import COMMANDS

__all__ = ["main"]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where there is none (the help says what applies then),
    and keeps the line breaks of a command's description."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or ``only`` that command's: a command imports what it runs, and the
    bench starts ``harness upstream`` once a run, so it need not import every other command."""
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Benchmark the original and optimized WhatsApp webhook services and decide the migration.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"harness.commands.{name}")
        sub = commands.add_parser(
            name.replace("_", "-"),
            help=module.HELP,
            description=module.__doc__,
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command the arguments name, when they name a known one first (else the full parser
    answers: its help and its error for an unknown command list every command)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    name = first.replace("-", "_") if first else None
    return name if name in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(_command_named(sys.argv[1:] if argv is None else argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll is noise
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; every process this command started has been stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
