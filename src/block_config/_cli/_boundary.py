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
from typing import IO, Any, NoReturn

import attrs

from block_config._errors import BlockConfigError, format_path
from block_config._errors import Path as ProblemPath

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
#: ``diff --exit-code``: the two models differ (a model-level field or a layer).
EXIT_DIFFERENT = 4

PROG = "block-config"

#: The exit codes as ``--help`` lists them (once, at the top level).
EXIT_CODES_HELP = """\
exit codes:
  0  success (diff --exit-code: the two models are the same)
  1  invalid input: missing or unreadable file, invalid JSON or config, validation failed,
     or an output file that exists (use --force)
  2  usage error: bad arguments, or a bare block_configs list without model dimensions
  3  an optional dependency is missing: matplotlib for plot
     (pip install 'block-config[plot]'), PyYAML for YAML ('block-config[yaml]'),
     SciPy for search ('block-config[search]')
  4  diff --exit-code: the two models differ
"""

#: Every message the command prints on stderr starts with this, then ``error:`` or ``warning:``.
PREFIX = f"{PROG}: "

#: What every command's handler is: the parsed arguments and stdout in, the exit code out.
Handler = Callable[[argparse.Namespace, IO[str]], int]


@attrs.frozen
class FileProblem:
    """One problem of one input: the input's name on the command line, where, and what.

    ``path`` is None for a problem of the file itself (missing, unreadable, not JSON at all).
    """

    file: str
    path: ProblemPath | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """``{"file": ..., "path": "$.block_configs[3].ffn", "message": ...}``."""
        path = None if self.path is None else format_path(self.path)
        return {"file": self.file, "path": path, "message": self.message}


class Failure(Exception):
    """Stops a subcommand with an exit code and the problems that say why."""

    def __init__(
        self, code: int, lines: Sequence[str] = (), problems: Sequence[FileProblem] = ()
    ) -> None:
        super().__init__(*lines)
        self.code = code
        self.lines = tuple(lines)
        self.problems = tuple(problems)


def usage(message: str) -> NoReturn:
    """Stop with a usage error (exit 2)."""
    raise Failure(EXIT_USAGE, [message])


def file_problems(name: str, error: BlockConfigError | str) -> list[FileProblem]:
    """The problems of the input ``name``, sorted by path (a string: one about the file)."""
    if isinstance(error, str):
        return [FileProblem(name, None, error)]
    ordered = sorted(error.problems, key=lambda problem: _path_key(problem.path))
    return [FileProblem(name, problem.path, problem.message) for problem in ordered]


def invalid(name: str, error: BlockConfigError | str) -> NoReturn:
    """Stop with invalid input (exit 1): every problem of ``error`` in the input ``name``."""
    problems = file_problems(name, error)
    raise Failure(EXIT_INVALID, problem_lines(problems), problems)


def missing_dependency(message: str) -> NoReturn:
    """Stop because an optional dependency is not installed (exit 3)."""
    raise Failure(EXIT_MISSING_DEPENDENCY, [message])


def error_line(message: str) -> str:
    """``block-config: error: MESSAGE``, the one form every error takes on stderr."""
    return f"{PREFIX}error: {message}"


def warning_line(message: str) -> str:
    """``block-config: warning: MESSAGE``."""
    return f"{PREFIX}warning: {message}"


def problem_lines(problems: Sequence[FileProblem]) -> list[str]:
    """One line per distinct cause: the same message at many layers is one line with the
    layers listed compactly (``$.block_configs[0-5,7].attention: ...``), in path order."""
    # Problems that differ only in their first list index (the layer) and share the message
    # are one cause: key them by what comes before and after that index.
    groups: dict[tuple[str, ProblemPath | None, ProblemPath, str], list[int]] = {}
    for problem in problems:
        path = problem.path
        where = None if path is None else _first_index(path)
        if path is None or where is None:
            groups.setdefault((problem.file, path, (), problem.message), [])
            continue
        key = (problem.file, path[:where], path[where + 1 :], problem.message)
        groups.setdefault(key, []).append(int(path[where]))
    lines = []
    for (file, before, after, message), indexes in groups.items():
        if before is None:
            lines.append(f"{file}: {message}")
        elif not indexes:
            lines.append(f"{file}: {format_path(before)}: {message}")
        else:
            place = f"{format_path(before)}[{compact_indexes(indexes)}]{format_path(after)[1:]}"
            lines.append(f"{file}: {place}: {message}")
    return lines


def compact_indexes(indexes: Sequence[int]) -> str:
    """``0-5,7,9-10``: sorted, each run of consecutive indexes as a range."""
    values = sorted(set(indexes))
    runs: list[str] = []
    start = previous = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ",".join(runs)


def _first_index(path: ProblemPath) -> int | None:
    """Where the first list index of ``path`` is (the layer, for a model's problems)."""
    for position, part in enumerate(path):
        if isinstance(part, int):
            return position
    return None


def _path_key(path: ProblemPath) -> tuple[tuple[int, int, str], ...]:
    # Indexes sort as numbers (2 before 10), keys as text, and an index before a key.
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


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
                    print(error_line(line), file=sys.stderr)
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
            _last_words(error_line(f"{where}: {reason}"))
            return max(_failure_code, EXIT_INVALID)
        except OverflowError as error:
            _last_words(error_line(f"a number too large to compute with ({error})"))
            return max(_failure_code, EXIT_INVALID)
        except UnicodeError as error:
            _last_words(error_line(f"text that cannot be encoded or decoded ({error})"))
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
