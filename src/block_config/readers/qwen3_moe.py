"""Qwen3-MoE (``qwen3_moe``): Qwen3 attention (QK-norm) with routed experts, no shared expert.

Follows transformers' ``modeling_qwen3_moe.py``: layer ``i`` is sparse when ``i`` is not in
``mlp_only_layers`` and ``(i + 1)`` is a multiple of ``decoder_sparse_step`` (default 1); a
sparse layer has ``num_experts`` SwiGLU experts of ``moe_intermediate_size``,
``num_experts_per_tok`` active, and no shared expert; other layers have a dense SwiGLU MLP of
``intermediate_size``. An RMSNorm of ``head_dim`` on queries and keys in every layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._keys import ConfigReader
from block_config.readers._common import homogeneous, model_fields, moe_per_layer
from block_config.readers._registry import ReadOptions, register
from block_config.readers.qwen2_moe import qwen_moe_items

__all__ = ["read_qwen3_moe"]


#: What a Qwen3-MoE layer may override in ``per_layer_config``.
PER_LAYER = moe_per_layer(
    "num_experts", "moe_intermediate_size", "intermediate_size", "sliding_window"
)


@register(
    "qwen3_moe",
    per_layer=PER_LAYER,
    architectures={"Qwen3MoeForCausalLM": "qwen3_moe"},
    unused=("intermediate_size", "sliding_window", "max_window_layers"),
)
def read_qwen3_moe(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen3-MoE config: sparse and dense layers as the sparse step and mlp_only_layers say."""
    del options
    keys = ConfigReader(config)
    fields = {**model_fields(keys, mlp_bias=False), "qk_norm": True}
    return homogeneous(
        keys,
        fields,
        qwen_moe_items(keys, fields, shared_key=None, max_window_layers=None, kv_absent=4),
    )
