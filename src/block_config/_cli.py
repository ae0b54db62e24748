"""The ``block-config`` command: show, validate, convert, diff, schema and plot model configs.

Every subcommand reads a ``config.json`` in the native or the legacy nemotron-nas dialect, a
plain Hugging Face ``config.json``, a model folder holding one, or a bare ``block_configs``
list (which needs the model's dimensions: ``--like CONFIG`` or ``--hidden-size``,
``--num-attention-heads`` and ``--vocab-size``).

Exit codes: 0 success; 1 invalid input (missing or unreadable file, invalid JSON or YAML,
invalid config, validation failed, an output that would overwrite a file without ``--force``);
2 usage error (bad arguments); 3 an optional dependency is missing (matplotlib for ``plot``,
PyYAML for ``.yaml`` files).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import attrs
import orjson

from block_config._config import BlockConfig
from block_config._converter import structure_block_configs
from block_config._diff import FieldChange, LayerDiff, diff_block_configs, diff_models
from block_config._errors import BlockConfigError, Problem
from block_config._io import atomic_write, dump_config_json, read_limited, resolve_config_path
from block_config._json import parse_json
from block_config._legacy import looks_legacy
from block_config._model import ModelArchitecture
from block_config._schema import block_configs_json_schema
from block_config._stats import (
    PRECISION_BITS,
    LayerStats,
    ModelStats,
    _model_stats,
    _unknown_precisions,
    attention_kind,
    ffn_kind,
)
from block_config._version import __version__
from block_config._yaml import dump_yaml, parse_yaml

__all__ = [
    "EXIT_INVALID",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

#: Success.
EXIT_OK = 0
#: Invalid input: a missing or unreadable file, invalid JSON, an invalid config, a failed
#: validation, or an output file that exists and was not to be overwritten.
EXIT_INVALID = 1
#: Usage error: unknown options, missing arguments, a bare list without model dimensions.
EXIT_USAGE = 2
#: An optional dependency is not installed: matplotlib for ``plot`` (the ``plot`` extra),
#: PyYAML for ``.yaml`` files (the ``yaml`` extra).
EXIT_MISSING_DEPENDENCY = 3

_PROG = "block-config"
_EXIT_CODES = """\
exit codes:
  0  success
  1  invalid input: missing or unreadable file, invalid JSON or config, validation failed,
     or an output file that exists (use --force)
  2  usage error: bad arguments, or a bare block_configs list without model dimensions
  3  an optional dependency is missing: matplotlib for plot
     (pip install 'block-config[plot]'), PyYAML for .yaml files ('block-config[yaml]')
"""
_INPUTS = """\
FILE is a config.json (native or legacy nemotron-nas dialect, or a plain Hugging Face
config), a model folder holding one, or a file holding a bare block_configs list. Files
ending in .yaml or .yml are read as YAML (needs: pip install 'block-config[yaml]').
A bare list needs the model dimensions: --like CONFIG, or --hidden-size,
--num-attention-heads and --vocab-size (and --head-dim, --torch-dtype if they differ from
the defaults).
"""


class _Failure(Exception):
    """Stops a subcommand with an exit code; the message has already been printed or is here."""

    def __init__(self, code: int, lines: Sequence[str] = ()) -> None:
        super().__init__(*lines)
        self.code = code
        self.lines = tuple(lines)


def _usage(message: str) -> NoReturn:
    raise _Failure(EXIT_USAGE, [message])


def _invalid(name: str, error: BlockConfigError | str) -> NoReturn:
    if isinstance(error, str):
        raise _Failure(EXIT_INVALID, [f"{name}: {error}"])
    raise _Failure(EXIT_INVALID, [f"{name}: {problem}" for problem in error.problems])


# ---------------------------------------------------------------------------------- reading


@attrs.frozen
class _Input:
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


def _read_data(name: str) -> tuple[Path, Any]:
    try:
        path = resolve_config_path(name)
        text = read_limited(path)  # a huge file or an endless device is refused
    except OSError as error:
        _invalid(name, _os_message(error, name))
    except BlockConfigError as error:
        _invalid(name, error)
    try:
        if _is_yaml(path):
            return path, parse_yaml(text)
        return path, parse_json(text)
    except BlockConfigError as error:
        _invalid(name, error)
    except ImportError as error:  # PyYAML missing
        raise _Failure(EXIT_MISSING_DEPENDENCY, [f"{name}: {error}"]) from None


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _os_message(error: OSError, name: str) -> str:
    """What went wrong, worded without the file name (the caller prefixes it)."""
    if error.strerror:
        return error.strerror.lower()
    message = str(error)
    for prefix in (f"{name}: ", f"{Path(name)}: "):
        message = message.removeprefix(prefix)
    return message or type(error).__name__


def _dims_mapping(args: argparse.Namespace) -> dict[str, Any] | None:
    """The model-level keys a bare list borrows, from ``--like`` or the dimension options."""
    like: str | None = getattr(args, "like", None)
    if like is not None:
        source = _read_model(like, args)
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
        _usage(f"the model dimensions need {flags} too (or --like CONFIG)")
    return {key: value for key, value in given.items() if value is not None}


def _read_model(name: str, args: argparse.Namespace) -> ModelArchitecture:
    """A config.json or model folder (not a bare list) as a model."""
    _, data = _read_data(name)
    if not isinstance(data, Mapping):
        _invalid(name, "expected a config.json object, got a bare list")
    return _from_mapping(name, data, args)


def _from_mapping(
    name: str, data: Mapping[str, Any], args: argparse.Namespace
) -> ModelArchitecture:
    with _warnings_to_stderr(name):
        try:
            return ModelArchitecture.from_mapping(data, unknown_keys=args.unknown_keys)
        except BlockConfigError as error:
            _invalid(name, error)


@contextlib.contextmanager
def _warnings_to_stderr(name: str) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"{name}: warning: {warning.message}", file=sys.stderr)


def _read(
    name: str, args: argparse.Namespace, *, need_model: bool, dims: Mapping[str, Any] | None = None
) -> _Input:
    """Read one input; a bare list gets ``dims`` (or the command line's) as its model."""
    path, data = _read_data(name)
    if isinstance(data, Mapping):
        model = _from_mapping(name, data, args)
        return _Input(name, path, model, model.block_configs, False, model.dialect)
    if not isinstance(data, list):
        _invalid(name, "expected a config.json object or a list of block configs")
    if dims is None:
        dims = _dims_mapping(args)
    try:
        legacy = looks_legacy(data)
    except BlockConfigError as error:  # a list mixing both dialects
        _invalid(name, error)
    if dims is None:
        if need_model or legacy:
            what = "a legacy block list" if legacy else "a bare block_configs list"
            _usage(
                f"{name} is {what}: give the model dimensions with --like CONFIG or "
                "--hidden-size, --num-attention-heads and --vocab-size"
            )
        with _warnings_to_stderr(name):
            try:
                blocks = structure_block_configs(data, unknown_keys=args.unknown_keys)
            except BlockConfigError as error:
                _invalid(name, error)
        return _Input(name, path, None, tuple(blocks), True, "native")
    mapping = {**dims, "num_hidden_layers": len(data), "block_configs": data}
    if legacy:
        mapping.setdefault("model_type", "nemotron-nas")
    with _warnings_to_stderr(name):
        try:
            model = ModelArchitecture.from_mapping(mapping, unknown_keys=args.unknown_keys)
        except BlockConfigError as error:
            _invalid(name, _bare(error))
    return _Input(name, path, model, model.block_configs, True, model.dialect)


def _bare(error: BlockConfigError) -> BlockConfigError:
    """Problems of a bare list read as a model's ``block_configs``, located in the list."""
    return BlockConfigError(
        Problem(p.path[1:], p.message) if p.path[:1] == ("block_configs",) else p
        for p in error.problems
    )


def _stats(item: _Input, args: argparse.Namespace) -> ModelStats:
    assert item.model is not None
    blocks_path: tuple[str, ...] = () if item.bare else ("block_configs",)
    try:
        return _model_stats(item.model, args.kv_cache_dtype, args.mamba_state_dtype, blocks_path)
    except BlockConfigError as error:
        _invalid(item.name, error)


# ---------------------------------------------------------------------------------- numbers


def _int(value: int) -> str:
    return f"{value:,}"


def _size(value: int) -> str:
    """Bytes in binary units: ``196 KiB``, ``92.89 GiB``."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.2f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def _layers(count: int) -> str:
    return "1 layer" if count == 1 else f"{count} layers"


def _billions(value: int) -> str:
    return f"{value / 1e9:.3f} B" if value >= 10**8 else f"{value / 1e6:.3f} M"


# ---------------------------------------------------------------------------------- show


def _attention_cells(layer: LayerStats) -> tuple[str, str]:
    attention = layer.attention
    kv = "-" if attention.num_key_value_heads is None else str(attention.num_key_value_heads)
    return attention.kind, kv


def _ffn_cells(layer: LayerStats) -> tuple[str, str]:
    ffn = layer.ffn
    if ffn.kind == "dense":
        assert ffn.intermediate_size is not None
        return "dense", _int(ffn.intermediate_size)
    if ffn.kind == "moe":
        size = f"{ffn.num_local_experts}x{_int(ffn.expert_intermediate_dim or 0)}"
        if ffn.shared_expert_intermediate_dim:
            size += f"+{_int(ffn.shared_expert_intermediate_dim)}"
        return f"moe top-{ffn.num_experts_per_tok}", size
    return ffn.kind, "-"


_COLUMNS = ("layer", "attention", "KV heads", "FFN", "FFN size", "params", "KV bytes/token")
_RIGHT = (True, False, True, False, True, True, True)


def _rows(layers: Sequence[LayerStats]) -> list[tuple[str, ...]]:
    rows = []
    for layer in layers:
        rows.append(_row(str(layer.index), layer))
        for position, inner in enumerate(layer.parallel_blocks):
            rows.extend(_parallel_rows(f"{layer.index}.{position}", inner))
    return rows


def _parallel_rows(label: str, layer: LayerStats) -> list[tuple[str, ...]]:
    rows = [_row("  " + label, layer)]
    for position, inner in enumerate(layer.parallel_blocks):
        rows.extend(_parallel_rows(f"{label}.{position}", inner))
    return rows


def _row(label: str, layer: LayerStats) -> tuple[str, ...]:
    return (
        label,
        *_attention_cells(layer),
        *_ffn_cells(layer),
        _int(layer.params),
        _int(layer.kv_cache_bytes_per_token),
    )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (_COLUMNS, *rows)) for i in range(len(_COLUMNS))]
    lines = []
    for row in (_COLUMNS, *rows):
        cells = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, _RIGHT, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _counts(values: Sequence[str], limit: int = 5) -> str:
    """``49 x 28,672, 10 x 7,168``: each distinct value with how many layers have it, most first;
    past ``limit`` values, the rest are summed up so the line fits a terminal."""
    seen: dict[str, int] = {}
    for value in values:
        seen[value] = seen.get(value, 0) + 1
    ranked = sorted(seen.items(), key=lambda item: -item[1])
    if len(ranked) <= limit + 1:  # summing up a single value would not save anything
        limit = len(ranked)
    text = ", ".join(f"{count} x {value}" for value, count in ranked[:limit])
    rest = ranked[limit:]
    if rest:
        layers = sum(count for _, count in rest)
        text += f", {len(rest)} more ({_layers(layers)})"
    return text


def _describe_model(item: _Input) -> str:
    model = item.model
    assert model is not None
    kind = "bare block list" if item.bare else f"{model.dialect} dialect"
    dtype = model.torch_dtype or "dtype unsaid (bf16 assumed)"
    return (
        f"{item.name}: {kind}, {_layers(model.num_hidden_layers)}, hidden {model.hidden_size}, "
        f"{model.num_attention_heads} heads x {model.head_dim}, vocab {model.vocab_size}, {dtype}"
    )


def _summary(stats: ModelStats) -> list[str]:
    layers = stats.layers
    attention = [
        f"gqa {layer.attention.num_key_value_heads} KV"
        if layer.attention.kind == "gqa"
        else layer.attention.kind
        for layer in layers
    ]
    ffn = [
        _ffn_cells(layer)[1] if layer.ffn.kind == "dense" else " ".join(_ffn_cells(layer))
        for layer in layers
    ]
    lm_head = "tied" if stats.lm_head_params == 0 else _int(stats.lm_head_params)
    lines = [
        f"attention:       {_counts(attention)}",
        f"FFN widths:      {_counts(ffn).replace(' -', '')}",
        f"parameters:      {_int(stats.total_params)} ({_billions(stats.total_params)}; "
        f"embeddings {_int(stats.embedding_params)}, lm_head {lm_head})",
    ]
    if stats.active_params != stats.total_params:
        lines.append(
            f"active/token:    {_int(stats.active_params)} ({_billions(stats.active_params)})"
        )
    lines += [
        f"weights:         {_int(stats.weight_bytes)} bytes ({_size(stats.weight_bytes)})",
        f"KV cache:        {_int(stats.kv_cache_bytes_per_token)} bytes/token "
        f"({_size(stats.kv_cache_bytes_per_token)}) in {stats.kv_cache_dtype}",
    ]
    if stats.mamba_state_bytes_per_sequence:
        lines.append(
            f"Mamba state:     {_int(stats.mamba_state_bytes_per_sequence)} bytes/sequence "
            f"({_size(stats.mamba_state_bytes_per_sequence)}) in {stats.mamba_state_dtype}"
        )
    if any(layer.parallel_blocks for layer in layers):
        lines.append(
            "(rows such as 6.0 are parallel blocks; the figures of their layer include them)"
        )
    return lines


def _memory_lines(stats: ModelStats, batch: int, length: int) -> list[str]:
    memory = stats.memory(batch, length)
    lines = [
        f"memory for {batch} sequence(s) of {_int(length)} tokens:",
        f"  weights        {_size(memory.weight_bytes):>12}",
        f"  KV cache       {_size(memory.kv_cache_bytes):>12}",
    ]
    if memory.mamba_state_bytes:
        lines.append(f"  Mamba state    {_size(memory.mamba_state_bytes):>12}")
    lines.append(f"  total          {_size(memory.total_bytes):>12}")
    return lines


def _memory_args(args: argparse.Namespace) -> tuple[int, int] | None:
    batch, length = args.batch_size, args.seq_len
    if batch is None and length is None:
        return None
    if batch is None or length is None:
        _usage("--batch-size and --seq-len go together")
    return batch, length


def _cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    item = _read(args.file, args, need_model=True)
    stats = _stats(item, args)
    model = item.model
    assert model is not None
    memory = _memory_args(args)
    if args.json:
        document: dict[str, Any] = {
            "file": item.name,
            "dialect": "bare" if item.bare else model.dialect,
            "hidden_size": model.hidden_size,
            "num_attention_heads": model.num_attention_heads,
            "head_dim": model.head_dim,
            "vocab_size": model.vocab_size,
            "num_hidden_layers": model.num_hidden_layers,
            **stats.to_dict(),
        }
        if memory is not None:
            document["memory"] = stats.memory(*memory).to_dict()
        _print_json(document, out)
        return EXIT_OK
    lines = [_describe_model(item), "", *_table(_rows(stats.layers)), "", *_summary(stats)]
    if memory is not None:
        lines += ["", *_memory_lines(stats, *memory)]
    print("\n".join(lines), file=out)
    return EXIT_OK


def _print_json(document: Any, out: IO[str]) -> None:
    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        # A total past 64 bits (parameters of a model with MAX_INT-wide layers): orjson
        # writes no such int; the standard library does, in the same layout.
        text = json.dumps(document, indent=2, ensure_ascii=False)
    print(text, file=out)


# ---------------------------------------------------------------------------------- validate


def _cmd_validate(args: argparse.Namespace, out: IO[str]) -> int:
    failed = False
    for name in args.files:
        try:
            item = _read(name, args, need_model=False)
            if item.model is not None:
                _stats(item, args)  # unknown precisions are problems of the file too
            else:
                _check_precisions(item)
        except _Failure as failure:
            if failure.code != EXIT_INVALID:  # usage, missing dependency: not the file's fault
                raise
            failed = True
            for line in failure.lines:
                print(line, file=sys.stderr)
            continue
        layers = len(item.blocks)
        what = "bare block list" if item.bare else f"{item.dialect} dialect"
        print(f"{name}: valid ({what}, {_layers(layers)})", file=out)
    return EXIT_INVALID if failed else EXIT_OK


def _check_precisions(item: _Input) -> None:
    """Unknown ``weights_precision`` values of a list read without model dimensions."""
    problems = _unknown_precisions(item.blocks, ())
    if problems:
        _invalid(item.name, BlockConfigError(problems))


# ---------------------------------------------------------------------------------- convert


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _cmd_convert(args: argparse.Namespace, out: IO[str]) -> int:
    item = _read(args.file, args, need_model=args.to == "legacy")
    target = Path(args.output)
    if target.is_dir():
        target = target / "config.json"
    if target.exists() and not args.force:
        if _same_file(target, item.path):
            _invalid(args.output, "is the input file; refusing to overwrite it (use --force)")
        _invalid(args.output, "exists; refusing to overwrite it (use --force)")
    data: Any
    try:
        with _warnings_to_stderr(item.name):
            if item.model is None:
                data = [block.to_dict() for block in item.blocks]
            elif item.bare:
                data = item.model.to_mapping(args.to)["block_configs"]
            else:
                data = item.model.to_mapping(args.to)
    except BlockConfigError as error:
        _invalid(item.name, _bare(error) if item.bare else error)
    try:
        text = dump_yaml(data) if _is_yaml(target) else dump_config_json(data)
    except ImportError as error:  # PyYAML missing
        raise _Failure(EXIT_MISSING_DEPENDENCY, [f"{args.output}: {error}"]) from None
    except BlockConfigError as error:  # past the size the file could be read back at
        _invalid(args.output, error)
    try:
        atomic_write(target, text)
    except OSError as error:
        _invalid(args.output, _os_message(error, args.output))
    print(f"wrote {target} ({args.to} dialect, {_layers(len(item.blocks))})", file=out)
    return EXIT_OK


# ---------------------------------------------------------------------------------- diff


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _short(block: BlockConfig | None, layer: LayerStats | None) -> str:
    """``gqa(8 KV) / dense 28,672``, from the stats or, without dimensions, from the block."""
    if layer is not None:
        kind, kv = _attention_cells(layer)
        ffn, size = _ffn_cells(layer)
        parallel = len(layer.parallel_blocks)
    else:
        assert block is not None
        kind = attention_kind(block.attention)
        heads = block.attention.num_key_value_heads if block.attention else None
        kv = str(heads) if kind == "gqa" else "-"
        ffn = ffn_kind(block.ffn)
        width = block.ffn.intermediate_size if block.ffn else None
        size = _int(width) if ffn == "dense" and width is not None else "-"
        parallel = len(block.parallel_blocks or ())
    attention = f"{kind}({kv} KV)" if kind == "gqa" else kind
    text = f"{attention} / {ffn}" + ("" if size == "-" else f" {size}")
    if parallel:
        text += f" + {parallel} parallel"
    return text


def _delta(old: int, new: int) -> str:
    if old == new:
        return f"{_int(old)} (unchanged)"
    change = new - old
    text = f"{_int(old)} -> {_int(new)} ({change:+,}"
    if old:
        text += f", {100 * change / old:+.2f}%"
    return text + ")"


def _cmd_diff(args: argparse.Namespace, out: IO[str]) -> int:
    a = _read(args.a, args, need_model=False)
    b = _read(args.b, args, need_model=False)
    # A bare list without dimensions borrows them from the other side when that is a model.
    if a.model is None and b.model is not None:
        a = _read(args.a, args, need_model=True, dims=_borrow(b.model))
    if b.model is None and a.model is not None:
        b = _read(args.b, args, need_model=True, dims=_borrow(a.model))
    if a.model is not None and b.model is not None:
        diff = diff_models(a.model, b.model, a_stats=_stats(a, args), b_stats=_stats(b, args))
    else:  # two bare lists without dimensions: the layers still compare, the totals cannot
        diff = diff_block_configs(a.blocks, b.blocks)
    dialects = [] if a.dialect == b.dialect else [FieldChange("dialect", a.dialect, b.dialect)]
    if args.json:
        document = diff.to_dict()
        document["model"] = [attrs.asdict(change) for change in dialects] + document["model"]
        _print_json({"a": a.name, "b": b.name, **document}, out)
        return EXIT_OK
    count = max(diff.num_hidden_layers)
    lines = [f"--- {a.name} ({_layers(len(a.blocks))})", f"+++ {b.name} ({_layers(len(b.blocks))})"]
    for change in (*dialects, *diff.model):
        lines.append(f"{change.path}: {_json_text(change.a)} -> {_json_text(change.b)}")
    for layer in diff.layers:
        lines.extend(_diff_lines(layer, a.name, b.name))
    if diff.layers:
        lines.append(f"{len(diff.layers)} of {count} layers differ")
    else:
        lines.append(f"no layer differs ({_layers(count)})")
    if diff.a_stats is None:
        lines.append("(no model dimensions: totals not compared; see --like)")
    else:
        lines.append("totals:")
        for name, label in _TOTALS.items():
            old, new = diff.total(name)
            if old == new and name in ("active_params", "mamba_state_bytes_per_sequence"):
                continue
            lines.append(f"  {label:<22} {_delta(old, new)}")
    print("\n".join(lines), file=out)
    return EXIT_OK


_TOTALS = {
    "total_params": "params",
    "active_params": "active params",
    "weight_bytes": "weight bytes",
    "kv_cache_bytes_per_token": "KV bytes/token",
    "mamba_state_bytes_per_sequence": "Mamba state bytes/seq",
}


def _diff_lines(layer: LayerDiff, name_a: str, name_b: str) -> list[str]:
    index = layer.index
    if layer.only_in == "b":
        return [f"layer {index}: only in {name_b}: {_short(layer.b_block, layer.b_stats)}"]
    if layer.only_in == "a":
        return [f"layer {index}: only in {name_a}: {_short(layer.a_block, layer.a_stats)}"]
    before = _short(layer.a_block, layer.a_stats)
    after = _short(layer.b_block, layer.b_stats)
    lines = [f"layer {index}: {before} -> {after}"]
    for change in layer.changes:
        lines.append(f"    {change.path}: {_json_text(change.a)} -> {_json_text(change.b)}")
    old, new = layer.a_stats, layer.b_stats
    if old is not None and new is not None:
        if old.params != new.params:
            lines.append(f"    params: {_delta(old.params, new.params)}")
        old_kv, new_kv = old.kv_cache_bytes_per_token, new.kv_cache_bytes_per_token
        if old_kv != new_kv:
            lines.append(f"    KV bytes/token: {_delta(old_kv, new_kv)}")
    return lines


def _borrow(model: ModelArchitecture) -> dict[str, Any]:
    return {
        "hidden_size": model.hidden_size,
        "num_attention_heads": model.num_attention_heads,
        "head_dim": model.head_dim,
        "vocab_size": model.vocab_size,
        "tie_word_embeddings": model.tie_word_embeddings,
        "attention_bias": model.attention_bias,
        "mlp_bias": model.mlp_bias,
        **({"torch_dtype": model.torch_dtype} if model.torch_dtype else {}),
    }


# ---------------------------------------------------------------------------------- schema


def _cmd_schema(args: argparse.Namespace, out: IO[str]) -> int:
    _print_json(block_configs_json_schema(), out)
    return EXIT_OK


# ---------------------------------------------------------------------------------- plot


def _cmd_plot(args: argparse.Namespace, out: IO[str]) -> int:
    from block_config._plot import FORMATS, MissingDependencyError, plot_architecture

    if Path(args.output).suffix.lower() not in FORMATS:
        _usage(f"-o must end in {', '.join(FORMATS)}, got {args.output!r}")
    item = _read(args.file, args, need_model=True)
    stats = _stats(item, args)
    assert item.model is not None
    title = args.title or _title(item)
    target = Path(args.output)
    if target.exists() and not args.force:
        _invalid(args.output, "exists; refusing to overwrite it (use --force)")
    try:
        plot_architecture(
            stats, target, title=title, num_attention_heads=item.model.num_attention_heads
        )
    except MissingDependencyError as error:
        raise _Failure(EXIT_MISSING_DEPENDENCY, [str(error)]) from None
    except OSError as error:
        _invalid(args.output, _os_message(error, args.output))
    print(f"wrote {target}", file=out)
    return EXIT_OK


def _title(item: _Input) -> str:
    """The file's name (``X.config.json`` gives ``X``), or the folder's for a ``config.json``."""
    path = item.path
    if path.name == "config.json":
        return path.resolve().parent.name
    for suffix in (".config.json", ".json"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


# ---------------------------------------------------------------------------------- parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _precision(text: str) -> str:
    if text.lower().removeprefix("torch.") not in PRECISION_BITS:
        known = ", ".join(sorted(PRECISION_BITS))
        raise argparse.ArgumentTypeError(f"unknown precision {text!r}; known: {known}")
    return text


def _input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model dimensions for a bare block_configs list")
    group.add_argument("--like", metavar="CONFIG", help="take them from this config.json or folder")
    group.add_argument("--hidden-size", type=_positive, metavar="N")
    group.add_argument("--num-attention-heads", type=_positive, metavar="N")
    group.add_argument("--vocab-size", type=_positive, metavar="N")
    group.add_argument("--head-dim", type=_positive, metavar="N", help="default: hidden / heads")
    group.add_argument("--torch-dtype", type=_precision, metavar="DTYPE", help="default: bf16")
    parser.add_argument(
        "--unknown-keys",
        choices=("error", "warn"),
        default="error",
        help="unknown keys in block configs: an error (default) or a warning",
    )


def _memory_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--kv-cache-dtype",
        type=_precision,
        metavar="DTYPE",
        help="KV-cache precision (default: the model's torch_dtype, bf16 when unsaid)",
    )
    group.add_argument(
        "--mamba-state-dtype",
        type=_precision,
        metavar="DTYPE",
        help="Mamba conv and SSM state precision (default: the KV-cache dtype)",
    )


def _subparser(
    commands: Any, name: str, summary: str, description: str, handler: Callable[..., int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{description}",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``block-config`` command."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Inspect heterogeneous transformer model configs layer by layer:\n"
        "parameters, KV cache, dialect conversion, differences, pictures.\n\n" + _INPUTS,
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    show = _subparser(
        commands,
        "show",
        "print a per-layer table: attention, KV heads, FFN, parameters, KV cache",
        _INPUTS
        + "\nExample: block-config show examples/Llama-3_3-Nemotron-Super-49B-v1.config.json",
        _cmd_show,
    )
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true", help="print the same facts as JSON")
    show.add_argument(
        "--batch-size", type=_positive, metavar="N", help="estimate memory for N sequences..."
    )
    show.add_argument("--seq-len", type=_positive, metavar="N", help="...of N tokens each")
    _memory_options(show)
    _input_options(show)

    validate = _subparser(
        commands,
        "validate",
        "check config files; exit 0 when all are valid, 1 otherwise",
        _INPUTS + "\nEvery problem is printed to stderr with its file and JSON path; a bare "
        "list is checked without dimensions unless they are given. Beyond what loading "
        "checks, validate also requires every weights_precision and the torch_dtype to be "
        "a known precision (the table the parameter and memory figures use).",
        _cmd_validate,
    )
    validate.add_argument("files", metavar="FILE", nargs="+")
    _input_options(validate)
    validate.set_defaults(kv_cache_dtype=None, mamba_state_dtype=None)

    convert = _subparser(
        commands,
        "convert",
        "write a config in the native or the legacy nemotron-nas dialect",
        _INPUTS + "\nThe output is written atomically (never half-written), as YAML when OUT "
        "ends in .yaml or .yml, else as JSON. Every key of config.json the conversion does not "
        "own keeps its value. A bare list is written as a bare list.",
        _cmd_convert,
    )
    convert.add_argument("file", metavar="FILE")
    convert.add_argument("--to", choices=("native", "legacy"), required=True, help="the dialect")
    convert.add_argument("-o", "--output", required=True, metavar="OUT", help="file or folder")
    convert.add_argument("--force", action="store_true", help="overwrite OUT, even the input")
    _input_options(convert)

    diff = _subparser(
        commands,
        "diff",
        "show the layers that differ between two configs, and the change in totals",
        _INPUTS + "\nA bare list compared with a model borrows that model's dimensions.",
        _cmd_diff,
    )
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    _memory_options(diff)
    _input_options(diff)

    schema = _subparser(
        commands,
        "schema",
        "print the JSON Schema (draft 2020-12) of the native block_configs format",
        "Validate a native block list with any JSON Schema tool.",
        _cmd_schema,
    )
    del schema

    plot = _subparser(
        commands,
        "plot",
        "draw the architecture layer by layer (needs: pip install 'block-config[plot]')",
        _INPUTS + "\nOne picture: each layer's attention and FFN kind (no-op layers stand "
        "out), its FFN width and its KV heads. The format follows the suffix of OUT.",
        _cmd_plot,
    )
    plot.add_argument("file", metavar="FILE")
    plot.add_argument("-o", "--output", required=True, metavar="OUT", help="a .png, .svg or .pdf")
    plot.add_argument("--title", help="default: the model name")
    plot.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    _memory_options(plot)
    _input_options(plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``block-config`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    out = sys.stdout
    try:
        return int(args.handler(args, out))
    except _Failure as failure:
        for line in failure.lines:
            prefix = f"{_PROG}: error: " if failure.code == EXIT_USAGE else ""
            print(prefix + line, file=sys.stderr)
        return failure.code
    except BrokenPipeError:
        # The reader went away (``| head``): not an error of ours; silence the final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
