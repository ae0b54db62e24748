"""``block-config schema``: the JSON Schema of the native ``block_configs`` format."""

from __future__ import annotations

import argparse
from typing import IO, Any

from block_config._cli._boundary import EXIT_OK
from block_config._cli._common import add_command, print_json
from block_config._schema import block_configs_json_schema


def register(commands: Any) -> None:
    """Add ``schema`` to the command's subparsers."""
    add_command(
        commands,
        "schema",
        "print the JSON Schema (draft 2020-12) of the native block_configs format",
        "Validate a native block list with any JSON Schema tool. Takes no FILE.",
        run,
    )


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Print the schema."""
    print_json(block_configs_json_schema(), out)
    return EXIT_OK
