"""``block-config convert``: write a config in the native or the legacy nemotron-nas dialect."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, Any

from block_config._cli._boundary import EXIT_OK, invalid, missing_dependency
from block_config._cli._common import (
    INPUTS_HELP,
    add_command,
    bare_problems,
    input_options,
    is_yaml,
    layer_count,
    os_message,
    read,
    warnings_to_stderr,
)
from block_config._errors import BlockConfigError
from block_config._io import atomic_write, dump_config_json
from block_config._yaml import dump_yaml


def register(commands: Any) -> None:
    """Add ``convert`` to the command's subparsers."""
    convert = add_command(
        commands,
        "convert",
        "write a config in the native or the legacy nemotron-nas dialect",
        INPUTS_HELP + "\nThe output is written atomically (never half-written), as YAML when OUT "
        "ends in .yaml or .yml, else as JSON. Every key of config.json the conversion does not "
        "own keeps its value. A bare list is written as a bare list.",
        run,
    )
    convert.add_argument("file", metavar="FILE")
    convert.add_argument("--to", choices=("native", "legacy"), required=True, help="the dialect")
    convert.add_argument("-o", "--output", required=True, metavar="OUT", help="file or folder")
    convert.add_argument("--force", action="store_true", help="overwrite OUT, even the input")
    input_options(convert)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Write ``args.file`` in the dialect ``args.to`` to ``args.output``."""
    item = read(args.file, args, need_model=args.to == "legacy")
    target = Path(args.output)
    if target.is_dir():
        target = target / "config.json"
    if target.exists() and not args.force:
        if _same_file(target, item.path):
            invalid(args.output, "is the input file; refusing to overwrite it (use --force)")
        invalid(args.output, "exists; refusing to overwrite it (use --force)")
    data: Any
    try:
        with warnings_to_stderr(item.name):
            if item.model is None:
                data = [block.to_dict() for block in item.blocks]
            elif item.bare:
                data = item.model.to_mapping(args.to)["block_configs"]
            else:
                data = item.model.to_mapping(args.to)
    except BlockConfigError as error:
        invalid(item.name, bare_problems(error) if item.bare else error)
    try:
        text = dump_yaml(data) if is_yaml(target) else dump_config_json(data)
    except ImportError as error:  # PyYAML missing
        missing_dependency(f"{args.output}: {error}")
    except BlockConfigError as error:  # past the size the file could be read back at
        invalid(args.output, error)
    try:
        atomic_write(target, text)
    except OSError as error:
        invalid(args.output, os_message(error, args.output))
    print(f"wrote {target} ({args.to} dialect, {layer_count(len(item.blocks))})", file=out)
    return EXIT_OK


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
