"""Mixtral (``mixtral``): every layer's FFN a mixture of experts, no shared expert.

Follows transformers' ``modeling_mixtral.py``: Llama attention (``num_key_value_heads``,
``head_dim``), and in every layer ``num_local_experts`` SwiGLU experts of
``intermediate_size``, ``num_experts_per_tok`` of them active per token, behind a router of
``hidden_size x num_local_experts`` without bias. ``sliding_window`` is read by the
attention when set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    attention,
    homogeneous,
    layer_count,
    model_fields,
    moe_per_layer,
    routed_experts,
    windowed,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_mixtral"]


@register(
    "mixtral",
    per_layer=moe_per_layer("num_local_experts", "intermediate_size", "sliding_window"),
    architectures={"MixtralForCausalLM": "mixtral"},
)
def read_mixtral(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Mixtral config: the same MoE block in every layer."""
    del options  # one family
    keys = ConfigReader(config)
    fields = model_fields(keys, attention_bias=None, mlp_bias=False)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    window = keys.integer("sliding_window", default=None)  # MixtralConfig's default: None
    item = {
        "attention": windowed(attention(keys, fields["num_attention_heads"], kv_absent=8), window),
        "ffn": routed_experts(keys, "num_local_experts", "intermediate_size", 0),
    }
    return homogeneous(keys, fields, [item] * layers)
