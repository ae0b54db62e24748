"""The typed contract of the statistics API and the command's entry point, as a user calls them.

Never executed: ``mypy --strict`` checks it (the ``typecheck`` nox session), with
``warn_unused_ignores`` on, so every ``# type: ignore[...]`` line below must stay an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_type

from block_config import (
    PRECISION_BITS,
    AttentionKind,
    AttentionStats,
    BlockConfig,
    FFNStats,
    LayerStats,
    MemoryEstimate,
    ModelArchitecture,
    ModelStats,
    block_stats,
    model_stats,
    precision_bits,
)
from block_config._cli import main

model = ModelArchitecture.load("examples/Llama-3.1-8B-pruned.config.json")
stats = model_stats(model, kv_cache_dtype="fp8")
assert_type(stats, ModelStats)
assert_type(stats.total_params, int)
assert_type(stats.kv_cache_bytes_per_token, int)
assert_type(stats.layers, tuple[LayerStats, ...])
assert_type(stats.layers[0].attention, AttentionStats)
assert_type(stats.layers[0].attention.num_key_value_heads, int | None)
assert_type(stats.layers[0].ffn, FFNStats)
assert_type(stats.layers[0].ffn.intermediate_size, int | None)
assert_type(stats.kv_cache_bytes(8, 4096), int)
assert_type(stats.memory(8, 4096), MemoryEstimate)
assert_type(stats.memory(8, 4096).total_bytes, int)
assert_type(stats.to_dict(), dict[str, Any])
assert_type(stats.kv_cache_bytes_per_token_unbounded, int)
assert_type(stats.kv_cache_bytes_bounded_max, int)
assert_type(stats.mamba_ssm_state_dtype, str)
assert_type(stats.quantization, str | None)
assert_type(stats.layers[0].attention.sliding_window, int | None)
assert_type(stats.layers[0].attention.kv_cache_token_limit, int | None)
assert_type(stats.layers[0].attention.kind, AttentionKind)

one = block_stats(BlockConfig(attention={"no_op": True}, ffn={"intermediate_size": 8}), model)
assert_type(one, LayerStats)
assert_type(precision_bits("nvfp4"), int)
assert_type(PRECISION_BITS, Mapping[str, int])
assert_type(main(["show", "config.json", "--json"]), int)

# Results are frozen: no field can be assigned.
stats.total_params = 0  # type: ignore[misc]
stats.layers[0].params = 0  # type: ignore[misc]
# Sizes are ints: a float batch is a type error.
stats.kv_cache_bytes(1.5, 10)  # type: ignore[arg-type]
