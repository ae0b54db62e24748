"""``block-config convert``: write a config in another dialect (native, legacy nemotron-nas,
per-layer, or a dialect named by its own ``model_type``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NoReturn

from block_config._cli._boundary import (
    EXIT_OK,
    invalid,
    missing_dependency,
    usage,
    warning_line,
)
from block_config._cli._common import (
    FILE_HELP,
    add_command,
    bare_problems,
    input_options,
    is_yaml,
    layer_count,
    os_message,
    read,
    warnings_to_stderr,
    writable_dialects,
)
from block_config._errors import BlockConfigError
from block_config._io import atomic_write, dump_config_json
from block_config._legacy import LEGACY_MODEL_TYPE
from block_config._yaml import dump_yaml


def register(commands: Any) -> None:
    """Add ``convert`` to the command's subparsers."""
    convert = add_command(
        commands,
        "convert",
        "write a config in another dialect (native, legacy, per-layer, ...)",
        "The output is written atomically (never half-written), as YAML when OUT ends in .yaml "
        "or .yml, else as JSON. Every key of config.json the conversion does not own keeps its "
        "value, auto_map included. model_type and architectures are kept too, except by the "
        "dialects whose identity they are: per-layer writes the base family's, gpt_oss_puzzle "
        "and nemotron_h_puzzle their own (GptOssPuzzleForCausalLM, "
        "NemotronHPuzzleForCausalLM), warning that the checkpoint must bring their loading "
        "code, which transformers does not have (no auto_map is invented). Writing native "
        "from a file whose keys name DeciLM code (the published nemotron-nas configs), which "
        "reads only the legacy dialect, warns naming those keys; writing legacy with a "
        "model_type other than "
        "nemotron-nas warns too. A bare list is written as a bare list.",
        run,
    )
    convert.add_argument("file", metavar="FILE", help=FILE_HELP)
    convert.add_argument(
        "--to",
        choices=writable_dialects(),
        required=True,
        help="the dialect: native or legacy block_configs, per-layer (transformers' "
        "per_layer_config on the model's base family, whose model_type and architectures it "
        "writes), or a dialect named by its own model_type",
    )
    convert.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the file to write, or a folder to write config.json into (an existing folder, "
        "or any OUT ending in /); missing folders are created",
    )
    convert.add_argument("--force", action="store_true", help="overwrite OUT, even the input")
    input_options(convert)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Write ``args.file`` in the dialect ``args.to`` to ``args.output``."""
    if not args.output:  # Path("") is the current folder: ./config.json, unasked for
        usage("-o needs a file or folder name, got ''")
    item = read(args.file, args, need_model=args.to != "native")
    if item.bare and args.to not in ("native", "legacy"):
        usage(f"{item.name} is a bare block list: the {args.to} dialect is a whole config.json")
    target = Path(args.output)
    if target.is_dir() or args.output.endswith(("/", os.sep)):
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
    # The other dialects' writers set model_type and architectures, and warn themselves.
    if (
        args.to in ("native", "legacy")
        and item.model is not None
        and not item.bare
        and item.dialect != args.to
    ):
        _warn_about_code_keys(item.name, data, args.to)
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
    if target != Path(name):  # -o DIR: the file in the way is DIR/config.json
        name = str(target)
    if _same_file(target, source):
        invalid(name, "is the input file; refusing to overwrite it (use --force)")
    invalid(name, "exists; refusing to overwrite it (use --force)")


def _warn_about_code_keys(name: str, data: dict[str, Any], to: str) -> None:
    """Say which kept keys select code that cannot read the dialect just written.

    convert never edits ``model_type``, ``architectures`` or ``auto_map``: they name code
    (transformers' remote code, vLLM's and llama.cpp's architecture registries) that this
    library cannot vouch for. What it knows: the published nemotron-nas configs name DeciLM
    code, which reads the legacy keys (``n_heads_in_group``, ``ffn_mult``) only.
    """
    if to == "native":
        stale = [
            key
            for key in ("model_type", "architectures", "auto_map")
            if _names_decilm(data.get(key))
        ]
        if not stale:
            return
        shown = ", ".join(f"{key}={_short_json(data[key])}" for key in stale)
        message = (
            f"the native output keeps {shown}: that names DeciLM code, which reads only the "
            "legacy dialect and cannot load this file (edit those keys for the code that "
            "will read it, or keep the legacy file for DeciLM)"
        )
    else:
        model_type = data.get("model_type")
        if model_type == LEGACY_MODEL_TYPE:
            return
        message = (
            f"the legacy output has model_type={_short_json(model_type)}: code reading the "
            f'legacy dialect (DeciLM) finds it by model_type "{LEGACY_MODEL_TYPE}", '
            "architectures and auto_map, which convert leaves to you"
        )
    print(warning_line(f"{name}: {message}"), file=sys.stderr)


def _names_decilm(value: Any) -> bool:
    """Whether a model_type, architectures list or auto_map names nemotron-nas/DeciLM code."""
    if value == LEGACY_MODEL_TYPE:
        return True
    if isinstance(value, Mapping):
        return any(_names_decilm(item) for item in value.values())
    if isinstance(value, list):
        return any(_names_decilm(item) for item in value)
    return isinstance(value, str) and "decilm" in value.lower()


def _short_json(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
