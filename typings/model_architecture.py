"""Typed contract of the model-level API: type-checked by mypy --strict, never executed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

from block_config import (
    BlockConfig,
    Dialect,
    LegacyBlockConfig,
    ModelArchitecture,
    MTPLayers,
    block_configs_json_schema,
    dumps_yaml,
    ffn_mult_to_intermediate_size,
    intermediate_size_to_ffn_mult,
    loads_yaml,
    model_stats,
)

arch = ModelArchitecture.load("models/Llama-3_3-Nemotron-Super-49B-v1")
assert_type(arch, ModelArchitecture)
assert_type(ModelArchitecture.load(Path("config.json"), unknown_keys="warn"), ModelArchitecture)
assert_type(ModelArchitecture.from_mapping({"hidden_size": 8}, dialect="legacy"), ModelArchitecture)
assert_type(ModelArchitecture.from_yaml("hidden_size: 8"), ModelArchitecture)
assert_type(arch.block_configs, tuple[BlockConfig, ...])
assert_type(arch.legacy_block_configs, tuple[LegacyBlockConfig, ...] | None)
assert_type(arch.num_hidden_layers, int)
assert_type(arch.head_dim, int)
assert_type(arch.torch_dtype, str | None)
assert_type(arch.dialect, Dialect)
assert_type(arch.to_mapping("legacy"), dict[str, Any])
assert_type(arch.to_yaml(), str)
assert_type(arch.save("out", dialect="native"), Path)
assert_type(arch.with_block_configs([{"attention": {"no_op": True}}]), ModelArchitecture)
assert_type(block_configs_json_schema(), dict[str, Any])
assert_type(loads_yaml("[]"), list[BlockConfig])
assert_type(dumps_yaml(arch.block_configs), str)
assert_type(ffn_mult_to_intermediate_size(5.25, 8192), int)
assert_type(intermediate_size_to_ffn_mult(28672, 8192), float)

arch.to_mapping("homogeneous")  # type: ignore[arg-type]
ModelArchitecture.load("x", unknown_keys="ignore")  # type: ignore[arg-type]

# Multi-token-prediction layers and the Puzzle dialects.
mtp = MTPLayers(num_layers=1, block_configs=[{"attention": {"num_key_value_heads": 2}}])
assert_type(mtp.num_layers, int)
assert_type(mtp.block_configs, tuple[BlockConfig, ...])
assert_type(mtp.own_embeddings, bool)
assert_type(arch.mtp, MTPLayers | None)
assert_type(arch.to_mapping("gpt_oss_puzzle"), dict[str, Any])
assert_type(arch.save("out", dialect="nemotron_h_puzzle"), Path)
stats = model_stats(arch)
assert_type(stats.mtp_params, int)
assert_type(stats.checkpoint_weight_bytes, int)
MTPLayers(num_layers="1", block_configs=[])  # type: ignore[arg-type]
