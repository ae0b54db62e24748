"""``block-config show``: a per-layer table and the model's totals, or the same as JSON."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import IO, Any

from block_config._cli._boundary import EXIT_OK
from block_config._cli._common import (
    FILE_HELP,
    Input,
    add_command,
    attention_cells,
    batch_and_length,
    billions,
    ffn_cells,
    input_options,
    layer_count,
    memory_options,
    positive,
    print_json,
    read,
    size,
    stats_of,
    table,
    thousands,
)
from block_config._errors import format_path
from block_config._model import ModelArchitecture
from block_config._stats import AttentionStats, LayerStats, ModelStats


def register(commands: Any) -> None:
    """Add ``show`` to the command's subparsers."""
    show = add_command(
        commands,
        "show",
        "print a per-layer table: attention, KV heads, FFN, parameters, KV cache",
        "Example: block-config show examples/Llama-3.1-8B-pruned.config.json",
        run,
    )
    show.add_argument("file", metavar="FILE", help=FILE_HELP)
    show.add_argument(
        "--json",
        action="store_true",
        help='print the same facts as one JSON document ("format": 1; each layer and parallel '
        'block has its "path" in the config, as errors name it)',
    )
    show.add_argument(
        "--batch-size", type=positive, metavar="N", help="estimate memory for N sequences..."
    )
    show.add_argument("--seq-len", type=positive, metavar="N", help="...of N tokens each")
    memory_options(show)
    input_options(show)


def run(args: argparse.Namespace, out: IO[str]) -> int:
    """Print the table (or the JSON document) of ``args.file``."""
    item = read(args.file, args, need_model=True)
    stats = stats_of(item, args)
    model = item.model
    assert model is not None
    memory = batch_and_length(args)
    if args.json:
        document: dict[str, Any] = {
            "format": JSON_FORMAT,
            "file": item.name,
            "dialect": "bare" if item.bare else model.dialect,
            "hidden_size": model.hidden_size,
            "num_attention_heads": model.num_attention_heads,
            "head_dim": model.head_dim,
            "vocab_size": model.vocab_size,
            "num_hidden_layers": model.num_hidden_layers,
            **stats.to_dict(),
            **_model_facts(model),
            # The same precisions in the vocabulary weights_precision uses (bf16, fp8, ...).
            "weights_precision": precision_name(stats.dtype),
            "kv_cache_precision": precision_name(stats.kv_cache_dtype),
            "mamba_state_precision": precision_name(stats.mamba_state_dtype),
        }
        blocks_path: tuple[str | int, ...] = () if item.bare else ("block_configs",)
        for index, layer in enumerate(document["layers"]):
            _add_paths(layer, (*blocks_path, index))
        if memory is not None:
            document["memory"] = stats.memory(*memory).to_dict()
        print_json(document, out)
        return EXIT_OK
    lines = [
        _describe_model(item),
        "",
        *table(_COLUMNS, _RIGHT, _rows(stats.layers)),
        "",
        *_summary(stats),
    ]
    if memory is not None:
        lines += ["", *_memory_lines(stats, *memory)]
    print("\n".join(lines), file=out)
    return EXIT_OK


#: The version of the ``show --json`` document's shape; it grows keys, never loses them.
JSON_FORMAT = 1

#: Torch dtype names and their ``weights_precision`` spelling.
_PRECISION_NAMES = {
    "float64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "float": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float8_e4m3fn": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
}


def precision_name(name: str) -> str:
    """``torch.bfloat16`` and ``bfloat16`` as ``bf16``: one spelling per precision."""
    key = name.lower().removeprefix("torch.")
    return _PRECISION_NAMES.get(key, key)


def _add_paths(layer: dict[str, Any], path: tuple[str | int, ...]) -> None:
    """Give a layer's dict, and each of its parallel blocks', the path of its block config."""
    layer["path"] = format_path(path)
    for position, inner in enumerate(layer["parallel_blocks"]):
        _add_paths(inner, (*path, "parallel_blocks", position))


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
        *attention_cells(layer),
        *ffn_cells(layer),
        thousands(layer.params),
        thousands(layer.kv_cache_bytes_per_token),
    )


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
        text += f", {len(rest)} more ({layer_count(layers)})"
    return text


def _describe_model(item: Input) -> str:
    model = item.model
    assert model is not None
    kind = "bare block list" if item.bare else f"{model.dialect} dialect"
    dtype = model.torch_dtype or "dtype unsaid (bf16 assumed)"
    return (
        f"{item.name}: {kind}, {layer_count(model.num_hidden_layers)}, "
        f"hidden {model.hidden_size}, {model.num_attention_heads} heads x {model.head_dim}, "
        f"vocab {model.vocab_size}, {dtype}"
    )


def _summary(stats: ModelStats) -> list[str]:
    layers = stats.layers
    attention = [_attention_summary(layer.attention) for layer in layers]
    ffn = [
        ffn_cells(layer)[1] if layer.ffn.kind == "dense" else " ".join(ffn_cells(layer))
        for layer in layers
    ]
    lm_head = "tied" if stats.lm_head_params == 0 else thousands(stats.lm_head_params)
    lines = [
        f"attention:       {_counts(attention)}",
        f"FFN widths:      {_counts(ffn).replace(' -', '')}",
        f"parameters:      {thousands(stats.total_params)} ({billions(stats.total_params)}; "
        f"embeddings {thousands(stats.embedding_params)}, lm_head {lm_head})",
    ]
    if stats.active_params != stats.total_params:
        lines.append(
            f"active/token:    {thousands(stats.active_params)} ({billions(stats.active_params)})"
        )
    if stats.mtp_params:
        lines.append(
            f"MTP layers:      {thousands(stats.mtp_params)} ({billions(stats.mtp_params)}) "
            f"more in the checkpoint, not in the parameters above (transformers builds none); "
            f"with them {thousands(stats.total_params + stats.mtp_params)}"
        )
    stored = "" if stats.quantization is None else f", {stats.quantization} scales included"
    lines.append(
        f"weights:         {thousands(stats.weight_bytes)} bytes "
        f"({size(stats.weight_bytes)}{stored})"
    )
    if stats.checkpoint_weight_bytes != stats.weight_bytes:
        lines.append(
            f"checkpoint:      {thousands(stats.checkpoint_weight_bytes)} bytes "
            f"({size(stats.checkpoint_weight_bytes)}) with the MTP layers"
        )
    lines += [
        f"KV cache:        {thousands(stats.kv_cache_bytes_per_token)} bytes/token "
        f"({size(stats.kv_cache_bytes_per_token)}) in {stats.kv_cache_dtype}",
    ]
    compressed = [
        attention
        for layer in layers
        for attention in layer._attentions()
        if attention.compress_rate is not None
    ]
    if compressed:
        rates = sorted({attention.compress_rate or 0 for attention in compressed})
        lines.append(
            f"KV compressed:   {len(compressed)} attention(s) add one entry per "
            f"{'/'.join(map(str, rates))} tokens beside their window "
            "(--seq-len counts them)"
        )
    if stats.kv_cache_bytes_bounded_max:
        lines.append(
            f"KV windows:      windowed/chunked layers hold at most "
            f"{thousands(stats.kv_cache_bytes_bounded_max)} bytes/sequence "
            f"({size(stats.kv_cache_bytes_bounded_max)}); the others "
            f"{thousands(stats.kv_cache_bytes_per_token_unbounded)} bytes/token"
        )
    if stats.mamba_state_bytes_per_sequence:
        dtype = stats.mamba_state_dtype
        if stats.mamba_ssm_state_dtype != dtype:
            dtype = f"{dtype} (SSM state in {stats.mamba_ssm_state_dtype})"
        lines.append(
            f"Mamba state:     {thousands(stats.mamba_state_bytes_per_sequence)} bytes/sequence "
            f"({size(stats.mamba_state_bytes_per_sequence)}) in {dtype}"
        )
    if stats.linear_attention_state_bytes_per_sequence:
        dtype = stats.mamba_state_dtype
        if stats.mamba_ssm_state_dtype != dtype:
            dtype = f"{dtype} (recurrent state in {stats.mamba_ssm_state_dtype})"
        state = stats.linear_attention_state_bytes_per_sequence
        lines.append(
            f"linear state:    {thousands(state)} bytes/sequence ({size(state)}) in {dtype}"
        )
    if any(layer.parallel_blocks for layer in layers):
        lines.append(
            "(rows such as 6.0 are parallel blocks; the figures of their layer include them)"
        )
    return lines


def _memory_lines(stats: ModelStats, batch: int, length: int) -> list[str]:
    memory = stats.memory(batch, length)
    lines = [
        f"memory for {batch} sequence(s) of {thousands(length)} tokens:",
        f"  weights        {size(memory.weight_bytes):>12}",
        f"  KV cache       {size(memory.kv_cache_bytes):>12}",
    ]
    if memory.mamba_state_bytes:
        lines.append(f"  Mamba state    {size(memory.mamba_state_bytes):>12}")
    if memory.linear_attention_state_bytes:
        lines.append(f"  linear state   {size(memory.linear_attention_state_bytes):>12}")
    lines.append(f"  total          {size(memory.total_bytes):>12}")
    return lines


def _attention_summary(attention: AttentionStats) -> str:
    text: str = attention.kind
    if attention.kind == "gqa":
        text = f"gqa {attention.num_key_value_heads} KV"
        if attention.output_gate:
            text += " gated"
        if attention.values_from_keys:
            text += " V=K"
    if attention.kv_source_layer is not None:
        text += f" (K/V of layer {attention.kv_source_layer})"
    if attention.sliding_window is not None:
        text += f" window {attention.sliding_window}"
    if attention.compress_rate is not None:
        text += f" + 1 entry/{attention.compress_rate} tokens"
    return text


#: The model-wide facts ``show --json`` states beside the figures they change.
_FACTS = (
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "qkv_bias",
    "qk_norm",
    "sandwich_norms",
    "router_bias",
    "expert_bias",
    "attention_sinks",
    "shared_expert_gate",
    "router_score_correction_bias",
    "qk_norm_across_heads",
    "parallel_blocks_share_input_norm",
    "mamba_without_norm",
    "log_position_scaling",
    "router_fp32",
    "hyper_connections",
    "hyper_connections_mean_head",
    "router_scales",
    "moe_branch_norms",
)


def _model_facts(model: ModelArchitecture) -> dict[str, Any]:
    quantization = model.quantization
    return {
        "model_type": model.model_type,
        **{name: getattr(model, name) for name in _FACTS},
        "learned_rope_frequencies": model.learned_rope_frequencies,
        "mamba_ssm_cache_dtype": model.mamba_ssm_cache_dtype,
        "quantization_config": None if quantization is None else quantization.to_config(),
    }
