"""The error boundary of the ``block-config`` command: exit codes, failures, and what the
user sees when a command stops (messages on stderr, a reader that went away, Ctrl-C).

A command stops early by raising :class:`Failure` (through :func:`usage`, :func:`invalid`
or :func:`missing_dependency`); :func:`run_command` is the one place that turns it, and
every other way a command can end, into an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, NoReturn

from block_config._errors import BlockConfigError

#: Success.
EXIT_OK = 0
#: Invalid input: a missing or unreadable file, invalid JSON, an invalid config, a failed
#: validation, or an output file that exists and was not to be overwritten.
EXIT_INVALID = 1
#: Usage error: unknown options, missing arguments, a bare list without model dimensions.
EXIT_USAGE = 2
#: An optional dependency is not installed: matplotlib for ``plot`` (the ``plot`` extra),
#: PyYAML for ``.yaml`` files (the ``yaml`` extra), SciPy for ``search`` (the ``search`` extra).
EXIT_MISSING_DEPENDENCY = 3

PROG = "block-config"

#: The exit codes as ``--help`` lists them.
EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  invalid input: missing or unreadable file, invalid JSON or config, validation failed,
     or an output file that exists (use --force)
  2  usage error: bad arguments, or a bare block_configs list without model dimensions
  3  an optional dependency is missing: matplotlib for plot
     (pip install 'block-config[plot]'), PyYAML for .yaml files ('block-config[yaml]'),
     SciPy for search ('block-config[search]')
"""

#: What every command's handler is: the parsed arguments and stdout in, the exit code out.
Handler = Callable[[argparse.Namespace, IO[str]], int]


class Failure(Exception):
    """Stops a subcommand with an exit code; the message has already been printed or is here."""

    def __init__(self, code: int, lines: Sequence[str] = ()) -> None:
        super().__init__(*lines)
        self.code = code
        self.lines = tuple(lines)


def usage(message: str) -> NoReturn:
    """Stop with a usage error (exit 2)."""
    raise Failure(EXIT_USAGE, [message])


def invalid(name: str, error: BlockConfigError | str) -> NoReturn:
    """Stop with invalid input (exit 1): every problem of ``error``, prefixed with ``name``."""
    if isinstance(error, str):
        raise Failure(EXIT_INVALID, [f"{name}: {error}"])
    raise Failure(EXIT_INVALID, [f"{name}: {problem}" for problem in error.problems])


def missing_dependency(message: str) -> NoReturn:
    """Stop because an optional dependency is not installed (exit 3)."""
    raise Failure(EXIT_MISSING_DEPENDENCY, [message])


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command's handler and turn however it ends into an exit code."""
    out = sys.stdout
    try:
        return int(handler(args, out))
    except Failure as failure:
        for line in failure.lines:
            prefix = f"{PROG}: error: " if failure.code == EXIT_USAGE else ""
            print(prefix + line, file=sys.stderr)
        return failure.code
    except BrokenPipeError:
        # The reader went away (``| head``): not an error of ours; silence the final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
