"""Llama and Mistral (``llama``, ``mistral``): every layer the same dense decoder layer.

Follows transformers' ``modeling_llama.py`` / ``modeling_mistral.py``: grouped-query
attention with ``num_key_value_heads`` KV heads (``num_attention_heads`` when absent or
null), ``head_dim`` from the config or ``hidden_size // num_attention_heads``, q/k/v/o biases
when ``attention_bias``, a SwiGLU MLP of ``intermediate_size`` (biases when ``mlp_bias``),
an RMSNorm before attention and before the MLP, a final norm, untied embeddings unless
``tie_word_embeddings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import attention, homogeneous, layer_count, model_fields
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_llama"]


@register("llama", "mistral")
def read_llama(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Llama- or Mistral-shaped config: one dense block per layer."""
    del options
    keys = ConfigReader(config)
    fields = model_fields(keys)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    item = {
        "attention": attention(keys, fields["num_attention_heads"]),
        "ffn": {"intermediate_size": keys.integer("intermediate_size", required=True)},
    }
    return homogeneous(keys, fields, [item] * layers)
