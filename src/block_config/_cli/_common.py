"""What several commands share: reading inputs, numbers and table cells, JSON output, and
the options and argument types of the parsers."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import textwrap
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import attrs
import orjson

from block_config import readers
from block_config._cli._boundary import (
    Handler,
    error_line,
    invalid,
    missing_dependency,
    usage,
    warning_line,
)
from block_config._config import BlockConfig
from block_config._converter import MAX_INT, structure_block_configs
from block_config._errors import BlockConfigError, Problem, short_repr
from block_config._io import read_limited, resolve_config_path
from block_config._json import MAX_JSON_SIZE, parse_json
from block_config._legacy import looks_legacy
from block_config._model import ModelArchitecture
from block_config._stats import PRECISION_BITS, LayerStats, ModelStats, _model_stats
from block_config._yaml import parse_yaml

#: What a FILE argument may be, as the top-level ``--help`` says it.
INPUTS_HELP = """\
FILE is a config.json (native or legacy nemotron-nas dialect, or a plain Hugging Face
config), a model folder holding one, or a file holding a bare block_configs list. Files
ending in .yaml or .yml are read as YAML (needs: pip install 'block-config[yaml]').
FILE - reads standard input: JSON when it starts with { or [, YAML otherwise.
A bare list needs the model dimensions: --like CONFIG, or --hidden-size,
--num-attention-heads and --vocab-size (and --head-dim, --torch-dtype if they differ from
the defaults).
"""

#: The help of every FILE argument.
FILE_HELP = (
    "a config.json or model folder, or a bare block_configs list (JSON or YAML); "
    "- reads standard input"
)

#: The name an input read from standard input goes by.
STDIN = "-"

# ---------------------------------------------------------------------------------- reading


@attrs.frozen
class Input:
    """One input as read: its name on the command line, and what it holds."""

    name: str
    path: Path
    #: The model; None for a bare list read without model dimensions.
    model: ModelArchitecture | None
    #: The blocks (the model's, or the bare list's).
    blocks: tuple[BlockConfig, ...]
    #: True for a bare block_configs list: its problems are reported at ``$[i]``.
    bare: bool
    #: "native", "legacy" or "homogeneous".
    dialect: str


def read_data(name: str) -> tuple[Path, Any]:
    """The file (or the folder's config.json) ``name`` names, parsed as JSON or YAML;
    ``-`` is standard input."""
    try:
        if name == STDIN:
            path, text = Path(STDIN), _stdin_bytes()
        else:
            path = resolve_config_path(name)
            text = read_limited(path)  # a huge file or an endless device is refused
    except OSError as error:
        invalid(name, os_message(error, name))
    except BlockConfigError as error:
        invalid(name, error)
    try:
        if is_yaml(path) or (name == STDIN and not _looks_like_json(text)):
            return path, parse_yaml(text)
        return path, parse_json(text)
    except BlockConfigError as error:
        invalid(name, error)
    except ImportError as error:  # PyYAML missing
        missing_dependency(f"{name}: {error}")


#: Standard input as read by the running command: read once, since a command may read its
#: input twice (diff borrowing dimensions from the other side) and must see the same text.
_stdin_read: list[bytes] = []


def forget_stdin() -> None:
    """Start a new command: the next ``-`` reads standard input again."""
    _stdin_read.clear()


def _stdin_bytes() -> bytes:
    if not _stdin_read:
        data = sys.stdin.buffer.read(MAX_JSON_SIZE + 1)
        if len(data) > MAX_JSON_SIZE:
            raise BlockConfigError.at(
                (), f"standard input is larger than the limit of {MAX_JSON_SIZE} bytes"
            )
        _stdin_read.append(data)
    return _stdin_read[0]


def _looks_like_json(text: bytes) -> bool:
    """JSON documents here are objects or arrays; anything else on stdin is read as YAML."""
    return text.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"{", b"[")


def is_yaml(path: Path) -> bool:
    """Whether ``path`` is read and written as YAML."""
    return path.suffix.lower() in (".yaml", ".yml")


def writable_dialects() -> tuple[str, ...]:
    """The dialects ``--to`` offers: native and legacy first, then every other one a writer
    is registered for."""
    from block_config import dialects

    return ("native", "legacy", *(d for d in dialects.writable_dialects() if d != "native"))


def os_message(error: OSError, name: str) -> str:
    """What went wrong, worded without the file name (the caller prefixes it)."""
    if error.strerror:
        return error.strerror.lower()
    message = str(error)
    for prefix in (f"{name}: ", f"{Path(name)}: "):
        message = message.removeprefix(prefix)
    return message or type(error).__name__


def dims_mapping(args: argparse.Namespace) -> dict[str, Any] | None:
    """The model-level keys a bare list borrows, from ``--like`` or the dimension options."""
    like: str | None = getattr(args, "like", None)
    if like is not None:
        source = read_model(like, args)
        mapping = dict(source.source)
        for key in ("num_key_value_heads", "intermediate_size"):
            mapping.pop(key, None)
        return mapping
    given = {
        key: getattr(args, key, None)
        for key in (
            "hidden_size",
            "num_attention_heads",
            "vocab_size",
            "head_dim",
            "torch_dtype",
        )
    }
    required = ("hidden_size", "num_attention_heads", "vocab_size")
    if all(given[key] is None for key in required):
        return None
    missing = [key for key in required if given[key] is None]
    if missing:
        flags = ", ".join("--" + key.replace("_", "-") for key in missing)
        usage(f"the model dimensions need {flags} too (or --like CONFIG)")
    return {key: value for key, value in given.items() if value is not None}


def read_model(name: str, args: argparse.Namespace) -> ModelArchitecture:
    """A config.json or model folder (not a bare list) as a model."""
    _, data = read_data(name)
    if not isinstance(data, Mapping):
        invalid(name, "expected a config.json object, got a bare list")
    return from_mapping(name, data, args)


def from_mapping(name: str, data: Mapping[str, Any], args: argparse.Namespace) -> ModelArchitecture:
    """The model ``data`` describes; its warnings go to stderr, its problems stop the command."""
    with warnings_to_stderr(name):
        try:
            return ModelArchitecture.from_mapping(
                data, unknown_keys=args.unknown_keys, family=args.family
            )
        except BlockConfigError as error:
            invalid(name, error)


@contextlib.contextmanager
def warnings_to_stderr(name: str) -> Iterator[None]:
    """Print the warnings raised inside, each prefixed with ``name``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(warning_line(f"{name}: {warning.message}"), file=sys.stderr)


def read(
    name: str, args: argparse.Namespace, *, need_model: bool, dims: Mapping[str, Any] | None = None
) -> Input:
    """Read one input; a bare list gets ``dims`` (or the command line's) as its model."""
    path, data = read_data(name)
    if isinstance(data, Mapping):
        model = from_mapping(name, data, args)
        return Input(name, path, model, model.block_configs, False, model.dialect)
    if not isinstance(data, list):
        invalid(name, "expected a config.json object or a list of block configs")
    if dims is None:
        dims = dims_mapping(args)
    try:
        legacy = looks_legacy(data)
    except BlockConfigError as error:  # a list mixing both dialects
        invalid(name, error)
    if dims is None:
        if need_model or legacy:
            what = "a legacy block list" if legacy else "a bare block_configs list"
            usage(
                f"{name} is {what}: give the model dimensions with --like CONFIG or "
                "--hidden-size, --num-attention-heads and --vocab-size"
            )
        with warnings_to_stderr(name):
            try:
                blocks = structure_block_configs(data, unknown_keys=args.unknown_keys)
            except BlockConfigError as error:
                invalid(name, error)
        return Input(name, path, None, tuple(blocks), True, "native")
    mapping = {**dims, "num_hidden_layers": len(data), "block_configs": data}
    if legacy:
        mapping.setdefault("model_type", "nemotron-nas")
    with warnings_to_stderr(name):
        try:
            model = ModelArchitecture.from_mapping(
                mapping, unknown_keys=args.unknown_keys, family=args.family
            )
        except BlockConfigError as error:
            invalid(name, bare_problems(error))
    return Input(name, path, model, model.block_configs, True, model.dialect)


def bare_problems(error: BlockConfigError) -> BlockConfigError:
    """Problems of a bare list read as a model's ``block_configs``, located in the list."""
    return BlockConfigError(
        Problem(p.path[1:], p.message) if p.path[:1] == ("block_configs",) else p
        for p in error.problems
    )


def stats_of(item: Input, args: argparse.Namespace) -> ModelStats:
    """The figures of a model input, with the command line's memory precisions."""
    assert item.model is not None
    blocks_path: tuple[str, ...] = () if item.bare else ("block_configs",)
    try:
        return _model_stats(item.model, args.kv_cache_dtype, args.mamba_state_dtype, blocks_path)
    except BlockConfigError as error:
        invalid(item.name, error)


# ---------------------------------------------------------------------------------- numbers


def thousands(value: int) -> str:
    """``28,672``."""
    return f"{value:,}"


def size(value: int) -> str:
    """Bytes in binary units: ``196 KiB``, ``92.89 GiB``."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.2f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def layer_count(count: int) -> str:
    """``1 layer``, ``80 layers``."""
    return "1 layer" if count == 1 else f"{count} layers"


def billions(value: int) -> str:
    """``49.867 B``, or millions below a tenth of a billion."""
    return f"{value / 1e9:.3f} B" if value >= 10**8 else f"{value / 1e6:.3f} M"


# ---------------------------------------------------------------------------------- cells


def attention_cells(layer: LayerStats) -> tuple[str, str]:
    """The attention kind and its KV heads (``-`` where it has none)."""
    attention = layer.attention
    kv = "-" if attention.num_key_value_heads is None else str(attention.num_key_value_heads)
    return attention.kind, kv


def ffn_cells(layer: LayerStats) -> tuple[str, str]:
    """The FFN kind and its width (``64x1,024+2,048`` for experts, ``-`` where it has none)."""
    ffn = layer.ffn
    if ffn.kind == "dense":
        assert ffn.intermediate_size is not None
        return "dense", thousands(ffn.intermediate_size)
    if ffn.kind == "moe":
        width = f"{ffn.num_local_experts}x{thousands(ffn.expert_intermediate_dim or 0)}"
        if ffn.shared_expert_intermediate_dim:
            width += f"+{thousands(ffn.shared_expert_intermediate_dim)}"
        return f"moe top-{ffn.num_experts_per_tok}", width
    return ffn.kind, "-"


# ---------------------------------------------------------------------------------- output


def table(
    columns: Sequence[str], right: Sequence[bool], rows: Sequence[Sequence[str]]
) -> list[str]:
    """Lines of a plain-text table: the header, a rule, then ``rows``; ``right`` aligns a
    column to the right (numbers) or left (names)."""
    widths = [max(len(row[i]) for row in (columns, *rows)) for i in range(len(columns))]
    lines = []
    for row in (columns, *rows):
        cells = [
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def print_json(document: Any, out: IO[str]) -> None:
    """``document`` as indented JSON on ``out``."""
    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        # A total past 64 bits (parameters of a model with MAX_INT-wide layers): orjson
        # writes no such int; the standard library does, in the same layout.
        text = json.dumps(document, indent=2, ensure_ascii=False)
    print(text, file=out)


# ---------------------------------------------------------------------------------- parser


def positive(text: str) -> int:
    """An argument type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer up to {MAX_INT}, got {short_repr(value)}"
        )
    return value


def precision(text: str) -> str:
    """An argument type: a precision the figures know (``bf16``, ``fp8``, ``torch.float16``)."""
    if text.lower().removeprefix("torch.") not in PRECISION_BITS:
        known = ", ".join(sorted(PRECISION_BITS))
        raise argparse.ArgumentTypeError(f"unknown precision {text!r}; known: {known}")
    return text


def input_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a FILE: the dimensions of a bare list."""
    group = parser.add_argument_group("model dimensions for a bare block_configs list")
    group.add_argument("--like", metavar="CONFIG", help="take them from this config.json or folder")
    group.add_argument("--hidden-size", type=positive, metavar="N")
    group.add_argument("--num-attention-heads", type=positive, metavar="N")
    group.add_argument("--vocab-size", type=positive, metavar="N")
    group.add_argument("--head-dim", type=positive, metavar="N", help="default: hidden / heads")
    group.add_argument("--torch-dtype", type=precision, metavar="DTYPE", help="default: bf16")
    parser.add_argument(
        "--unknown-keys",
        choices=("error", "warn"),
        default="error",
        help="unknown keys in block configs, and with --family the keys that family would "
        "leave out: an error (default) or a warning",
    )
    parser.add_argument(
        "--family",
        choices=readers.supported_model_types(),
        metavar="NAME",
        help="read a config without block_configs as this model_type (for a model_type no "
        "reader knows); one of: " + ", ".join(readers.supported_model_types()),
    )


def batch_and_length(args: argparse.Namespace) -> tuple[int, int] | None:
    """``--batch-size`` and ``--seq-len``, which go together (no silent default for either)."""
    batch, length = args.batch_size, args.seq_len
    if batch is None and length is None:
        return None
    if batch is None or length is None:
        usage("--batch-size and --seq-len go together")
    return batch, length


def memory_options(parser: argparse.ArgumentParser) -> None:
    """The precisions of the KV cache and the Mamba state."""
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--kv-cache-dtype",
        type=precision,
        metavar="DTYPE",
        help="KV-cache precision (default: the model's torch_dtype, bf16 when unsaid)",
    )
    group.add_argument(
        "--mamba-state-dtype",
        type=precision,
        metavar="DTYPE",
        help="Mamba conv and SSM state precision (default: the KV-cache dtype)",
    )


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, printing its errors in the form every other error takes."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``block-config: error: MESSAGE``; exit 2."""
        self.print_usage(sys.stderr)
        self.exit(2, error_line(message) + "\n")


def _paragraphs(text: str) -> str:
    """Each one-line paragraph of ``text`` wrapped to 88 columns; laid-out ones kept as they are."""
    return "\n\n".join(
        part if "\n" in part.strip() else textwrap.fill(part.strip(), 88)
        for part in text.split("\n\n")
    )


def add_command(
    commands: Any, name: str, summary: str, description: str, handler: Handler
) -> argparse.ArgumentParser:
    """Register the subcommand ``name``, run by ``handler``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description="\n\n".join(_paragraphs(text) for text in (summary, description) if text),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser
