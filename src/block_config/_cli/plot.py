"""``block-config plot``: draw the architecture layer by layer (needs matplotlib)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, Any

from block_config._cli._boundary import EXIT_OK, invalid, missing_dependency, usage
from block_config._cli._common import (
    FILE_HELP,
    STDIN,
    Input,
    add_command,
    input_options,
    memory_options,
    os_message,
    read,
    stats_of,
)


def register(commands: Any) -> None:
    """Add ``plot`` to the command's subparsers."""
    plot = add_command(
        commands,
        "plot",
        "draw the architecture layer by layer (needs: pip install 'block-config[plot]')",
        "One picture: each layer's attention and FFN kind (no-op layers stand out), its FFN "
        "width and its KV heads (only for layers that have KV heads). The format follows the "
        "suffix of OUT: any format matplotlib writes (png, jpg, svg, pdf, ...).",
        run,
    )
    plot.add_argument("file", metavar="FILE", help=FILE_HELP)
    plot.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the picture to write (.png, .jpg, .svg, .pdf, ...); missing folders are created",
    )
    plot.add_argument("--title", help="default: the model name")
    plot.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    memory_options(plot)
    input_options(plot)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Draw ``args.file`` into ``args.output``."""
    from block_config._plot import MissingDependencyError, picture_formats, plot_architecture

    try:
        formats = picture_formats()
    except MissingDependencyError as error:
        missing_dependency(str(error))
    if Path(args.output).suffix.lower() not in formats:
        usage(f"-o must end in one of {', '.join(formats)}, got {args.output!r}")
    item = read(args.file, args, need_model=True)
    stats = stats_of(item, args)
    assert item.model is not None
    title = args.title or _title(item)
    target = Path(args.output)
    if os.path.lexists(target) and not args.force:  # a dangling symlink counts too
        invalid(args.output, "exists; refusing to overwrite it (use --force)")
    try:
        plot_architecture(
            stats,
            target,
            title=title,
            num_attention_heads=item.model.num_attention_heads,
            overwrite=args.force,
        )
    except FileExistsError:  # created by someone else since the check above
        invalid(args.output, "exists; refusing to overwrite it (use --force)")
    except MissingDependencyError as error:
        missing_dependency(str(error))
    except OSError as error:
        invalid(args.output, os_message(error, args.output))
    print(f"wrote {target}", file=out)
    return EXIT_OK


def _title(item: Input) -> str:
    """The file's name (``X.config.json`` gives ``X``), or the folder's for a ``config.json``;
    for standard input, the config's ``_name_or_path``."""
    if item.name == STDIN:
        name = item.model.source.get("_name_or_path") if item.model is not None else None
        return name if isinstance(name, str) and name else "standard input"
    path = item.path
    if path.name == "config.json":
        return path.resolve().parent.name
    for suffix in (".config.json", ".json"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name
