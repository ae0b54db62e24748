"""Qwen3 (``qwen3``): Llama's dense layer with QK-norm.

Follows transformers' ``modeling_qwen3.py``: an RMSNorm of ``head_dim`` on the queries and
one on the keys in every layer; q/k/v/o biases only when ``attention_bias``; ``head_dim`` from
the config (128 in the published ones); a SwiGLU MLP of ``intermediate_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    GQA_PER_LAYER,
    attention,
    dense_layers,
    homogeneous,
    layer_count,
    model_fields,
    qwen_sliding,
    window_attentions,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = ["read_qwen3"]


#: What a Qwen3 layer may override in ``per_layer_config``.
PER_LAYER = PerLayer(GQA_PER_LAYER | {"intermediate_size", "sliding_window"})


@register(
    "qwen3",
    per_layer=PER_LAYER,
    architectures={"Qwen3ForCausalLM": "qwen3"},
    unused=("sliding_window", "max_window_layers"),
)
def read_qwen3(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen3 config: one dense block per layer."""
    del options
    keys = ConfigReader(config)
    fields = {**model_fields(keys, head_dim=128, mlp_bias=False), "qk_norm": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    attn = attention(keys, fields["num_attention_heads"], kv_absent=32)
    windows = qwen_sliding(keys, layers, max_window_layers=28)
    ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    return homogeneous(keys, fields, dense_layers(window_attentions(attn, windows), ffn))
