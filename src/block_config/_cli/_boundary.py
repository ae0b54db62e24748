"""The error boundary of the ``block-config`` command: exit codes, failures, and what the
user sees when a command stops (messages on stderr, a reader that went away, Ctrl-C).

A command stops early by raising :class:`Failure` (through :func:`usage`, :func:`invalid`
or :func:`missing_dependency`); :func:`run_command` is the one place that turns it, and
every other way a command can end, into an exit code.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
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


def note_failure(code: int = EXIT_INVALID) -> None:
    """Record that the command has failed (before telling why): if the output then cannot be
    written (a closed pipe, a full disk), the exit code still says so."""
    global _failure_code
    if _failure_code == EXIT_OK:
        _failure_code = code


# The exit code of a failure already decided in the running command (EXIT_OK: none yet).
_failure_code = EXIT_OK

# The codec error handler of stdout while a command runs: a character the output's
# encoding lacks (CJK text under a Latin-1 locale, a file name that is not UTF-8) is written
# as a backslash escape, and never stops the command.
_ESCAPE = "block_config.escape"


def _escape(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    escaped = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:  # as JSON spells it: a surrogate pair
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


codecs.register_error(_ESCAPE, _escape)


@contextlib.contextmanager
def _escaping(*streams: IO[str]) -> Iterator[None]:
    """Make ``streams`` escape what their encoding cannot write, for the duration."""
    changed = []
    for stream in streams:
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            with contextlib.suppress(ValueError, OSError):  # closed or unflushable
                stream.reconfigure(errors=_ESCAPE)
                changed.append(stream)
    try:
        yield
    finally:
        for stream in changed:
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="strict")


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command's handler and turn however it ends into an exit code.

    The one error boundary of the command: a :class:`Failure` gives its code; an
    :class:`OSError` (a file that cannot be read or written, an output that cannot be
    written), an :class:`OverflowError` or a :class:`UnicodeError` becomes a message naming
    what failed and exit 1. A reader that went away (``| head``) ends the command quietly,
    with exit 0 only if nothing had failed before.
    """
    global _failure_code
    _failure_code = EXIT_OK
    with _escaping(sys.stdout, sys.stderr):
        try:
            try:
                code = int(handler(args, sys.stdout))
            except Failure as failure:
                note_failure(failure.code)
                code = failure.code
                for line in failure.lines:
                    prefix = f"{PROG}: error: " if failure.code == EXIT_USAGE else ""
                    print(prefix + line, file=sys.stderr)
            # Written out here, inside the boundary, not at exit where a failure is lost.
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            # The reader went away: not an error of ours; silence the final flush.
            _discard_output()
            return _failure_code
        except KeyboardInterrupt:
            return 130
        except OSError as error:
            if error.filename is None:  # writing the output itself failed (a full disk)
                _discard_output()
                where = "<stdout>"
            else:
                where = os.fsdecode(error.filename)
            reason = (error.strerror or str(error) or type(error).__name__).lower()
            _last_words(f"{PROG}: error: {where}: {reason}")
            return max(_failure_code, EXIT_INVALID)
        except OverflowError as error:
            _last_words(f"{PROG}: error: a number too large to compute with ({error})")
            return max(_failure_code, EXIT_INVALID)
        except UnicodeError as error:
            _last_words(f"{PROG}: error: text that cannot be encoded or decoded ({error})")
            return max(_failure_code, EXIT_INVALID)


def _discard_output() -> None:
    """Point stdout at the null device, so that its unwritten buffer fails no more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to silence
        pass


def _last_words(message: str) -> None:
    """Print ``message`` to stderr if it can still be written; the exit code says it anyway."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr)
        sys.stderr.flush()
