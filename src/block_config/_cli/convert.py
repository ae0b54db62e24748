"""``block-config convert``: write a config in the native or the legacy nemotron-nas dialect."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, Any, NoReturn

from block_config._cli._boundary import EXIT_OK, invalid, missing_dependency, usage
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
    if not args.output:  # Path("") is the current folder: ./config.json, unasked for
        usage("-o needs a file or folder name, got ''")
    item = read(args.file, args, need_model=args.to == "legacy")
    target = Path(args.output)
    if target.is_dir():
        target = target / "config.json"
    # lexists: a symlink counts even when it points nowhere. Only a friendlier message than
    # the write's own refusal below, which two converts racing for a new file cannot pass.
    if os.path.lexists(target) and not args.force:
        _refuse_existing(args.output, target, item.path)
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
        # Without --force, created only if absent at that very moment.
        atomic_write(target, text, overwrite=args.force)
    except FileExistsError:
        _refuse_existing(args.output, target, item.path)
    except OSError as error:
        invalid(args.output, os_message(error, args.output))
    print(f"wrote {target} ({args.to} dialect, {layer_count(len(item.blocks))})", file=out)
    return EXIT_OK


def _refuse_existing(name: str, target: Path, source: Path) -> NoReturn:
    if _same_file(target, source):
        invalid(name, "is the input file; refusing to overwrite it (use --force)")
    invalid(name, "exists; refusing to overwrite it (use --force)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
