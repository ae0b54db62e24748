"""The ``block-config`` command: show, validate, convert, diff, schema and plot model configs;
list candidate blocks and search for the best child under budgets; run Puzzle's MIP step on
the reference pipeline's files (``puzzle-mip``).

This module only parses the command line and dispatches; each command lives in its own
module (``show.py``, ``validate.py``, ...) and registers its own subparser, what they share
is in ``_common.py``, and ``_boundary.py`` turns however a command ends into an exit code.

Every subcommand reads a ``config.json`` in the native or the legacy nemotron-nas dialect, a
plain Hugging Face ``config.json``, a model folder holding one, or a bare ``block_configs``
list (which needs the model's dimensions: ``--like CONFIG`` or ``--hidden-size``,
``--num-attention-heads`` and ``--vocab-size``).

Exit codes: 0 success; 1 invalid input (missing or unreadable file, invalid JSON or YAML,
invalid config, validation failed, an output that would overwrite a file without ``--force``);
2 usage error (bad arguments); 3 an optional dependency is missing (matplotlib for ``plot``,
PyYAML for YAML, SciPy for ``search`` and ``puzzle-mip``); 4 ``diff --exit-code`` found the
two models different.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from block_config._cli import (
    candidates,
    convert,
    diff,
    plot,
    puzzle_mip,
    schema,
    search,
    show,
    validate,
)
from block_config._cli._boundary import (
    EXIT_CODES_HELP,
    EXIT_DIFFERENT,
    EXIT_INVALID,
    EXIT_MISSING_DEPENDENCY,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    run_command,
)
from block_config._cli._common import INPUTS_HELP, ArgumentParser, forget_stdin
from block_config._version import __version__

__all__ = [
    "EXIT_DIFFERENT",
    "EXIT_INVALID",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

#: The commands, in the order ``--help`` lists them.
_COMMANDS = (show, validate, convert, diff, schema, plot, candidates, search, puzzle_mip)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``block-config`` command."""
    parser = ArgumentParser(
        prog=PROG,
        description="Inspect heterogeneous transformer model configs layer by layer:\n"
        "parameters, KV cache, dialect conversion, differences, pictures.\n\n" + INPUTS_HELP,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``block-config`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    forget_stdin()
    return run_command(args.handler, args)
