"""``block-config validate``: check files; exit 0 when all are valid, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from block_config._cli._boundary import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    FileProblem,
    error_line,
    file_problems,
    invalid,
    note_failure,
    problem_lines,
)
from block_config._cli._common import (
    FILE_HELP,
    Input,
    add_command,
    input_options,
    layer_count,
    print_json,
    read,
    stats_of,
)
from block_config._errors import BlockConfigError
from block_config._stats import _unknown_precisions

#: The version of the ``validate --json`` document's shape; it grows keys, never loses them.
JSON_FORMAT = 1


def register(commands: Any) -> None:
    """Add ``validate`` to the command's subparsers."""
    validate = add_command(
        commands,
        "validate",
        "check config files; exit 0 when all are valid, 1 otherwise",
        "Every problem is printed to stderr with its file and JSON path, one line per cause "
        "(the same problem in many layers is one line listing them: $.block_configs[0-5,7]). "
        "A bare list is checked without dimensions unless they are given. Beyond what loading "
        "checks, validate also requires every weights_precision and the torch_dtype to be "
        "a known precision (the table the parameter and memory figures use).",
        run,
    )
    validate.add_argument("files", metavar="FILE", nargs="+", help=FILE_HELP)
    validate.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document instead: every file with its verdict and every problem "
        "(file, path, message); the exit code is the same",
    )
    input_options(validate)
    validate.set_defaults(kv_cache_dtype=None, mamba_state_dtype=None)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Check every file of ``args.files``, printing each one's verdict."""
    verdicts: list[dict[str, Any]] = []
    for name in args.files:
        try:
            item = read(name, args, need_model=False)
            if item.model is not None:
                stats_of(item, args)  # unknown precisions are problems of the file too
            else:
                _check_precisions(item)
        except Failure as failure:
            if failure.code != EXIT_INVALID:  # usage, missing dependency: not the file's fault
                raise
            problems = failure.problems or tuple(file_problems(name, " ".join(failure.lines)))
            note_failure()  # before printing: a closed stderr must not turn this into success
            verdicts.append(_verdict(name, None, problems))
            if not args.json:
                for line in problem_lines(problems):
                    print(error_line(line), file=sys.stderr)
            continue
        verdicts.append(_verdict(name, item, ()))
        if not args.json:
            what = "bare block list" if item.bare else f"{item.dialect} dialect"
            print(f"{name}: valid ({what}, {layer_count(len(item.blocks))})", file=out)
    valid = all(verdict["valid"] for verdict in verdicts)
    if args.json:
        every = [problem for verdict in verdicts for problem in verdict["problems"]]
        document = {"format": JSON_FORMAT, "valid": valid, "files": verdicts, "problems": every}
        print_json(document, out)
    return EXIT_OK if valid else EXIT_INVALID


def _verdict(name: str, item: Input | None, problems: tuple[FileProblem, ...]) -> dict[str, Any]:
    if item is None:
        return {
            "file": name,
            "valid": False,
            "dialect": None,
            "num_hidden_layers": None,
            "problems": [problem.to_dict() for problem in problems],
        }
    return {
        "file": name,
        "valid": True,
        "dialect": "bare" if item.bare else item.dialect,
        "num_hidden_layers": len(item.blocks),
        "problems": [],
    }


def _check_precisions(item: Input) -> None:
    """Unknown ``weights_precision`` values of a list read without model dimensions."""
    problems = _unknown_precisions(item.blocks, ())
    if problems:
        invalid(item.name, BlockConfigError(problems))
