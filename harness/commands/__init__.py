"""One module per ``harness`` command. Each defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code); its docstring is the command's description."""

COMMANDS = (
    "db",
    "seed",
    "upstream",
    "serve",
    "variants",
    "compare",
    "run",
    "attribute",
    "capacity",
    "report",
    "chaos",
    "soak",
    "selftest",
    "gate",
    "history",
)
