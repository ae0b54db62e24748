"""The typed contract of block-config's public API, as a downstream pipeline uses it.

This file is never executed: ``mypy --strict`` checks it (the ``typecheck`` nox session),
with ``warn_unused_ignores`` on, so every ``# type: ignore[...]`` line below must stay an error.
A loosened API (an ``Any`` leaking out, a field that becomes assignable) fails the check.
"""

from __future__ import annotations

from typing import Any, assert_type

from hypothesis.strategies import SearchStrategy

from block_config import (
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MoEConfig,
    Problem,
    SubblockConfig,
    converter,
    dumps,
    loads,
    maybe_cast_block_configs,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config.strategies import attention_configs, block_configs, ffn_configs

# --- Building configs -------------------------------------------------------------------

attention = AttentionConfig(num_key_value_heads=8, sparsify=["q_proj"])
ffn = FFNConfig(moe=MoEConfig(num_local_experts=8, num_experts_per_tok=2))
mamba = AttentionConfig(mamba=MambaConfig(state_dim=128, num_heads=64, head_dim=64, num_groups=8))
block = BlockConfig(
    attention=attention, ffn=ffn, parallel_blocks=[{"ffn": {"intermediate_size": 4}}]
)
from_mappings = BlockConfig(attention={"no_op": True}, ffn={"intermediate_size": 5632})

assert_type(block.attention, AttentionConfig | None)
assert_type(block.ffn, FFNConfig | None)
assert_type(block.parallel_blocks, tuple[BlockConfig, ...] | None)
assert_type(attention.num_key_value_heads, int | None)
assert_type(attention.sparsify, tuple[str, ...] | None)
assert_type(attention.weights_precision, str | None)
assert_type(attention.llama4, Llama4AttentionConfig | None)
assert_type(attention.mamba, MambaConfig | None)
assert_type(attention.is_mamba, bool)
assert_type(attention.is_llama4, bool)
assert_type(ffn.is_moe, bool)
assert_type(ffn.intermediate_size, int | None)
assert_type(ffn.moe, MoEConfig | None)
assert_type(Llama4AttentionConfig(attn_scale=0.5).attn_scale, float | None)
assert_type(MoEConfig().shared_expert_intermediate_dim, int)
assert_type(attention.to_blockconfig(), BlockConfig)
assert_type(ffn.to_blockconfig(), BlockConfig)
assert_type(SUBBLOCK_CLS_DICT["attention"], type[SubblockConfig])

# --- Reading and writing ----------------------------------------------------------------

assert_type(BlockConfig.from_dict({"ffn": {"no_op": True}}), BlockConfig)
assert_type(MoEConfig.from_dict({"num_local_experts": 4}), MoEConfig)
assert_type(block.to_dict(), dict[str, Any])
assert_type(structure_block_configs([{"ffn": {"no_op": True}}]), list[BlockConfig])
assert_type(structure_block_configs([block], unknown_keys="warn"), list[BlockConfig])
assert_type(unstructure_block_configs([block]), list[dict[str, Any]])
assert_type(maybe_cast_block_configs([block, {"ffn": {"no_op": True}}]), list[BlockConfig] | None)
assert_type(maybe_cast_block_configs(None), list[BlockConfig] | None)
assert_type(loads(b"[]"), list[BlockConfig])
assert_type(dumps([block], indent=2), str)
assert_type(converter.structure({"ffn": {"no_op": True}}, BlockConfig), BlockConfig)

# --- Errors -------------------------------------------------------------------------------

try:
    loads("[]")
except BlockConfigError as error:
    assert_type(error.problems, tuple[Problem, ...])
    assert_type(error.problems[0].message, str)

# --- Hashing and ordering ----------------------------------------------------------------

statistics: dict[BlockConfig, float] = {block: 1.0}
unique: set[AttentionConfig] = {attention, AttentionConfig(no_op=True)}
ordered: list[BlockConfig] = sorted([block, from_mappings])
assert_type(block < from_mappings, bool)

# --- Strategies -----------------------------------------------------------------------------

assert_type(block_configs(), SearchStrategy[BlockConfig])
assert_type(attention_configs(), SearchStrategy[AttentionConfig])
assert_type(ffn_configs(), SearchStrategy[FFNConfig])

# --- What the API must refuse -------------------------------------------------------------

block.attention = None  # type: ignore[misc]
attention.num_key_value_heads = 4  # type: ignore[misc]
AttentionConfig(num_key_value_heads="8")  # type: ignore[arg-type]
FFNConfig(intermediate_size=3.7)  # type: ignore[arg-type]
AttentionConfig(no_op="false")  # type: ignore[arg-type]
BlockConfig(attention=3)  # type: ignore[arg-type]
AttentionConfig(True)  # type: ignore[call-arg]
MambaConfig(state_dim=1, num_heads=1, head_dim=1)  # type: ignore[call-arg]
BlockConfig(colour="red")  # type: ignore[call-arg]
structure_block_configs([], unknown_keys="ignore")  # type: ignore[arg-type]
dumps([block], indent="2")  # type: ignore[arg-type]
loads(3)  # type: ignore[arg-type]
