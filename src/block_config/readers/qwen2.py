"""Qwen2 (``qwen2``): Llama's dense layer with biases on the q, k and v projections.

Follows transformers' ``modeling_qwen2.py``: q, k and v projections with bias, o without;
grouped-query attention with ``num_key_value_heads``; a SwiGLU MLP of ``intermediate_size``;
untied embeddings unless ``tie_word_embeddings`` (the small models tie them).
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

__all__ = ["read_qwen2"]


@register(
    "qwen2",
    per_layer=PerLayer(GQA_PER_LAYER | {"intermediate_size", "sliding_window"}),
    architectures={"Qwen2ForCausalLM": "qwen2"},
    unused=("sliding_window", "max_window_layers"),
)
def read_qwen2(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen2 config: one dense block per layer."""
    del options
    keys = ConfigReader(config)
    fields = {**model_fields(keys, attention_bias=None, mlp_bias=False), "qkv_bias": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    attn = attention(keys, fields["num_attention_heads"], kv_absent=32)
    windows = qwen_sliding(keys, layers, max_window_layers=28)
    ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    return homogeneous(keys, fields, dense_layers(window_attentions(attn, windows), ffn))
