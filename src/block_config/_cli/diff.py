"""``block-config diff``: the layers that differ between two configs, and the change in totals."""

from __future__ import annotations

import argparse
from typing import IO, Any

import attrs
import orjson

from block_config._cli._boundary import EXIT_DIFFERENT, EXIT_OK
from block_config._cli._common import (
    FILE_HELP,
    add_command,
    attention_cells,
    ffn_cells,
    input_options,
    layer_count,
    memory_options,
    print_json,
    read,
    stats_of,
    thousands,
)
from block_config._config import BlockConfig
from block_config._diff import FieldChange, LayerDiff, diff_block_configs, diff_models
from block_config._model import ModelArchitecture
from block_config._stats import LayerStats, attention_kind, ffn_kind


def register(commands: Any) -> None:
    """Add ``diff`` to the command's subparsers."""
    diff = add_command(
        commands,
        "diff",
        "show the layers that differ between two configs, and the change in totals",
        "A bare list compared with a model borrows that model's dimensions. The same model "
        "in two dialects is the same model: the dialect is shown, but is no difference for "
        "--exit-code.",
        run,
    )
    diff.add_argument("a", metavar="PARENT", help="the model compared from; " + FILE_HELP)
    diff.add_argument("b", metavar="CHILD", help="the model compared to; " + FILE_HELP)
    diff.add_argument(
        "--json",
        action="store_true",
        help="print the differences as JSON (keys a and b are PARENT and CHILD)",
    )
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {EXIT_DIFFERENT} when the models differ (a model-level field or a layer), "
        f"{EXIT_OK} when they are the same, as git diff --exit-code does",
    )
    memory_options(diff)
    input_options(diff)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Print the differences between ``args.a`` and ``args.b``."""
    a = read(args.a, args, need_model=False)
    b = read(args.b, args, need_model=False)
    # A bare list without dimensions borrows them from the other side when that is a model.
    if a.model is None and b.model is not None:
        a = read(args.a, args, need_model=True, dims=_borrow(b.model))
    if b.model is None and a.model is not None:
        b = read(args.b, args, need_model=True, dims=_borrow(a.model))
    if a.model is not None and b.model is not None:
        diff = diff_models(a.model, b.model, a_stats=stats_of(a, args), b_stats=stats_of(b, args))
    else:  # two bare lists without dimensions: the layers still compare, the totals cannot
        diff = diff_block_configs(a.blocks, b.blocks)
    dialects = [] if a.dialect == b.dialect else [FieldChange("dialect", a.dialect, b.dialect)]
    status = EXIT_DIFFERENT if args.exit_code and (diff.model or diff.layers) else EXIT_OK
    if args.json:
        document = diff.to_dict()
        document["model"] = [attrs.asdict(change) for change in dialects] + document["model"]
        print_json({"a": a.name, "b": b.name, **document}, out)
        return status
    count = max(diff.num_hidden_layers)
    lines = [
        f"--- {a.name} ({layer_count(len(a.blocks))})",
        f"+++ {b.name} ({layer_count(len(b.blocks))})",
    ]
    for change in (*dialects, *diff.model):
        lines.append(f"{change.path}: {_json_text(change.a)} -> {_json_text(change.b)}")
    for layer in diff.layers:
        lines.extend(_diff_lines(layer, a.name, b.name))
    if diff.layers:
        lines.append(f"{len(diff.layers)} of {count} layers differ")
    else:
        lines.append(f"no layer differs ({layer_count(count)})")
    if diff.a_stats is None:
        lines.append("(no model dimensions: totals not compared; see --like)")
    else:
        lines.append("totals:")
        for name, label in _TOTALS.items():
            old, new = diff.total(name)
            if old == new and name in (
                "active_params",
                "mamba_state_bytes_per_sequence",
                "mtp_params",
            ):
                continue
            lines.append(f"  {label:<22} {_delta(old, new)}")
    print("\n".join(lines), file=out)
    return status


_TOTALS = {
    "total_params": "params",
    "active_params": "active params",
    "weight_bytes": "weight bytes",
    "kv_cache_bytes_per_token": "KV bytes/token",
    "mamba_state_bytes_per_sequence": "Mamba state bytes/seq",
    "mtp_params": "MTP params",
}


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _short(block: BlockConfig | None, layer: LayerStats | None) -> str:
    """``gqa(8 KV) / dense 28,672``, from the stats or, without dimensions, from the block."""
    if layer is not None:
        kind, kv = attention_cells(layer)
        ffn, width = ffn_cells(layer)
        parallel = len(layer.parallel_blocks)
    else:
        assert block is not None
        kind = attention_kind(block.attention)
        heads = block.attention.num_key_value_heads if block.attention else None
        kv = str(heads) if kind == "gqa" else "-"
        ffn = ffn_kind(block.ffn)
        intermediate = block.ffn.intermediate_size if block.ffn else None
        width = thousands(intermediate) if ffn == "dense" and intermediate is not None else "-"
        parallel = len(block.parallel_blocks or ())
    attention = f"{kind}({kv} KV)" if kind == "gqa" else kind
    text = f"{attention} / {ffn}" + ("" if width == "-" else f" {width}")
    if parallel:
        text += f" + {parallel} parallel"
    return text


def _delta(old: int, new: int) -> str:
    if old == new:
        return f"{thousands(old)} (unchanged)"
    change = new - old
    text = f"{thousands(old)} -> {thousands(new)} ({change:+,}"
    if old:
        text += f", {100 * change / old:+.2f}%"
    return text + ")"


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
