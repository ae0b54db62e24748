"""Llama and Mistral (``llama``, ``mistral``): every layer the same dense decoder layer.

Follows transformers' ``modeling_llama.py`` / ``modeling_mistral.py``: grouped-query
attention with ``num_key_value_heads`` KV heads (``num_attention_heads`` when absent or
null), ``head_dim`` from the config or ``hidden_size // num_attention_heads``, q/k/v/o biases
when ``attention_bias``, a SwiGLU MLP of ``intermediate_size`` (biases when ``mlp_bias``),
an RMSNorm before attention and before the MLP, a final norm, untied embeddings unless
``tie_word_embeddings``. Mistral attends to the last ``sliding_window`` tokens in every
layer when that is set (its configuration class defaults it to 4096 when the key is absent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    GQA_PER_LAYER,
    GQA_PER_LAYER_FIXED_HEADS,
    attention,
    homogeneous,
    layer_count,
    model_fields,
    windowed,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = ["read_llama"]


@register(
    "mistral",
    per_layer=PerLayer(GQA_PER_LAYER | {"intermediate_size", "sliding_window"}),
    architectures={"MistralForCausalLM": "mistral"},
)
@register(
    "llama",
    per_layer=PerLayer(GQA_PER_LAYER_FIXED_HEADS | {"intermediate_size"}),
    architectures={"LlamaForCausalLM": "llama"},
)
def read_llama(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Llama- or Mistral-shaped config: one dense block per layer."""
    keys = ConfigReader(config)
    # MistralModel reads neither attention_bias nor mlp_bias: no biases.
    if options.model_type == "mistral":
        fields = model_fields(keys, attention_bias=None, mlp_bias=False)
    else:
        fields = model_fields(keys)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    # MistralConfig defaults to 8 KV heads; LlamaConfig to one per query head.
    kv_absent = 8 if options.model_type == "mistral" else None
    attn = attention(keys, fields["num_attention_heads"], kv_absent=kv_absent)
    if options.model_type == "mistral":
        # MistralConfig's default window; null (most published configs): full attention.
        window = keys.nullable("sliding_window", absent=4096)
        attn = windowed(attn, window)
    item = {
        "attention": attn,
        "ffn": {"intermediate_size": keys.integer("intermediate_size", required=True)},
    }
    return homogeneous(keys, fields, [item] * layers)
