"""``block-config candidates``: each layer's candidate blocks, with exact costs, as a library."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, TypeVar

from block_config._candidates import CandidateLibrary, build_candidates
from block_config._cli._boundary import EXIT_OK, invalid, usage
from block_config._cli._common import (
    FILE_HELP,
    add_command,
    attention_cells,
    ffn_cells,
    input_options,
    os_message,
    read,
    table,
    thousands,
)

_T = TypeVar("_T")

_DESCRIPTION = """\
For every layer of PARENT, the blocks that could replace it: the parent's own block
(always first), the same attention with fewer KV heads, a linear map or nothing in place of
the attention or the FFN, narrower FFNs, fewer experts; every attention variant with every
FFN variant. Each candidate is written with its exact costs in PARENT (params,
active_params, weight_bytes, kv_cache_bytes_per_token, mamba_state_bytes_per_sequence) and
"score": null, to be filled in before `block-config search`.

Example: block-config candidates examples/hybrid-native.config.json --kv-heads 2,1
         --ffn-fractions 0.5,0.25 --linear --no-op -o library.json
"""


def _list_of(parse: Callable[[str], _T]) -> Callable[[str], list[_T]]:
    def parse_list(text: str) -> list[_T]:
        return [parse(item.strip()) for item in text.split(",") if item.strip()]

    return parse_list


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return value


def _fraction(text: str) -> Fraction:
    # Read as an exact decimal (0.3 is 3/10), so the rounding of fraction * width is exact.
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected fractions such as 0.5, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected fractions above 0, got {text!r}")
    return value


def register(commands: Any) -> None:
    """Add ``candidates`` to the command's subparsers."""
    parser = add_command(
        commands,
        "candidates",
        "list each layer's candidate blocks with their exact costs, for a search",
        _DESCRIPTION,
        run,
    )
    parser.add_argument("file", metavar="PARENT", help="the parent model; " + FILE_HELP)
    parser.add_argument(
        "-o", "--output", metavar="LIBRARY.json", help="write the library (JSON) here"
    )
    parser.add_argument("--force", action="store_true", help="overwrite LIBRARY.json if it exists")
    parser.add_argument(
        "--costs", action="store_true", help="print every candidate's costs as a table"
    )
    group = parser.add_argument_group("candidates")
    group.add_argument(
        "--kv-heads",
        type=_list_of(_count),
        default=[],
        metavar="8,4,2,1",
        help="KV-head counts for every GQA attention (each must divide the attention heads)",
    )
    widths = group.add_mutually_exclusive_group()
    widths.add_argument(
        "--ffn-sizes",
        type=_list_of(_count),
        default=[],
        metavar="N,...",
        help="intermediate sizes for every dense FFN",
    )
    widths.add_argument(
        "--ffn-fractions",
        type=_list_of(_fraction),
        default=[],
        metavar="F,...",
        help="fractions of each dense FFN's width (rounded to the nearest int)",
    )
    group.add_argument(
        "--linear", action="store_true", help="a linear map in place of the attention or FFN"
    )
    group.add_argument("--no-op", action="store_true", help="no attention, or no FFN")
    group.add_argument(
        "--experts",
        type=_list_of(_count),
        default=[],
        metavar="N,...",
        help="routed-expert counts for every MoE FFN",
    )
    input_options(parser)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Enumerate the candidates of ``args.file``; write the library and/or print the costs."""
    if args.output is None and not args.costs:
        usage("nothing to do: give -o LIBRARY.json, --costs, or both")
    item = read(args.file, args, need_model=True)
    parent = item.model
    assert parent is not None
    target = None if args.output is None else Path(args.output)
    if target is not None and (target.is_dir() or args.output.endswith(("/", os.sep))):
        usage(f"-o LIBRARY.json names a folder: {args.output}")
    if target is not None and target.exists() and not args.force:
        invalid(args.output, "exists; refusing to overwrite it (use --force)")
    try:
        library = build_candidates(
            parent,
            kv_heads=args.kv_heads,
            ffn_sizes=args.ffn_sizes,
            ffn_fractions=args.ffn_fractions,
            linear=args.linear,
            no_op=args.no_op,
            experts=args.experts,
        )
    except ValueError as error:  # an option that does not fit this parent
        usage(str(error))
    if args.costs:
        print("\n".join(cost_table(library)), file=out)
    if target is not None:
        try:
            library.save(target)
        except OSError as error:
            invalid(args.output, os_message(error, args.output))
        counts = [len(layer) for layer in library.layers]
        print(
            f"wrote {target}: {thousands(library.num_candidates)} candidates for "
            f"{len(counts)} layers ({min(counts)} to {max(counts)} per layer)",
            file=out,
        )
    return EXIT_OK


_COLUMNS = (
    "layer",
    "cand",
    "attention",
    "KV heads",
    "FFN",
    "FFN size",
    "params",
    "active params",
    "weight bytes",
    "KV bytes/token",
    "Mamba state",
    "score",
)
_RIGHT = (True, True, False, True, False, True, True, True, True, True, True, True)


def cost_table(library: CandidateLibrary) -> list[str]:
    """One row per candidate: what it is, its costs, and its score (``-`` when unset)."""
    rows = []
    for index, layer in enumerate(library.layers):
        for position, candidate in enumerate(layer):
            stats = candidate.stats
            rows.append(
                (
                    str(index),
                    str(position),
                    *attention_cells(stats),
                    *ffn_cells(stats),
                    thousands(stats.params),
                    thousands(stats.active_params),
                    thousands(stats.weight_bytes),
                    thousands(stats.kv_cache_bytes_per_token),
                    thousands(stats.mamba_state_bytes_per_sequence),
                    "-" if candidate.score is None else f"{candidate.score:g}",
                )
            )
    return table(_COLUMNS, _RIGHT, rows)
