"""``block-config validate``: check files; exit 0 when all are valid, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from block_config._cli._boundary import EXIT_INVALID, EXIT_OK, Failure, invalid, note_failure
from block_config._cli._common import (
    INPUTS_HELP,
    Input,
    add_command,
    input_options,
    layer_count,
    read,
    stats_of,
)
from block_config._errors import BlockConfigError
from block_config._stats import _unknown_precisions


def register(commands: Any) -> None:
    """Add ``validate`` to the command's subparsers."""
    validate = add_command(
        commands,
        "validate",
        "check config files; exit 0 when all are valid, 1 otherwise",
        INPUTS_HELP + "\nEvery problem is printed to stderr with its file and JSON path; a bare "
        "list is checked without dimensions unless they are given. Beyond what loading "
        "checks, validate also requires every weights_precision and the torch_dtype to be "
        "a known precision (the table the parameter and memory figures use).",
        run,
    )
    validate.add_argument("files", metavar="FILE", nargs="+")
    input_options(validate)
    validate.set_defaults(kv_cache_dtype=None, mamba_state_dtype=None)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Check every file of ``args.files``, printing each one's verdict."""
    failed = False
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
            failed = True
            note_failure()  # before printing: a closed stderr must not turn this into success
            for line in failure.lines:
                print(line, file=sys.stderr)
            continue
        layers = len(item.blocks)
        what = "bare block list" if item.bare else f"{item.dialect} dialect"
        print(f"{name}: valid ({what}, {layer_count(layers)})", file=out)
    return EXIT_INVALID if failed else EXIT_OK


def _check_precisions(item: Input) -> None:
    """Unknown ``weights_precision`` values of a list read without model dimensions."""
    problems = _unknown_precisions(item.blocks, ())
    if problems:
        invalid(item.name, BlockConfigError(problems))
