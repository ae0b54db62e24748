"""OLMo-3 (``olmo3``): sliding-window and full layers, post-norm, QK-norm across all heads.

Follows transformers' ``configuration_olmo3.py`` / ``modeling_olmo3.py``, defaults included:
``num_key_value_heads`` defaults to ``num_attention_heads`` (the 7B model is multi-head),
``head_dim`` to ``hidden_size // num_attention_heads``, ``sliding_window`` to 4096, and
``layer_types`` to three sliding layers then a full one (layer ``i`` is full when ``i + 1`` is
a multiple of 4) unless the config lists them. Each layer: q/k/v/o projections (biases on all
four with ``attention_bias``), one RMSNorm over all query heads (``H * head_dim``) and one over
all key heads (``kv * head_dim``: ``qk_norm_across_heads``), a SwiGLU MLP of
``intermediate_size`` without biases, and two RMSNorms of ``hidden_size``: OLMo-3 puts them
after the attention and after the MLP rather than before, which holds the same parameters.
A sliding layer's KV cache holds at most ``sliding_window`` tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    FULL,
    SLIDING,
    attention,
    dense_layers,
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
    refused_per_layer,
    window_attentions,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_olmo3"]

_DEFAULT_WINDOW = 4096
#: Olmo3Config's defaults for the sizes the published configs may leave out.
_DEFAULTS = {
    "vocab_size": 50304,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
}


@register(
    "olmo3",
    per_layer=refused_per_layer("Olmo3ForCausalLM"),
    architectures={"Olmo3ForCausalLM": "olmo3"},
)
def read_olmo3(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """An OLMo-3 config: sliding and full layers, three to one unless ``layer_types`` says."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {**model_fields(keys, mlp_bias=False), "qk_norm_across_heads": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    window: int | None = keys.nullable("sliding_window", absent=_DEFAULT_WINDOW)
    types = layer_types(keys, layers, (FULL, SLIDING))
    if types is None:
        sliding = [(index + 1) % 4 != 0 for index in range(layers)]
    else:
        sliding = [kind == SLIDING for kind in types]
    attn = attention(keys, fields["num_attention_heads"])
    windows = [window if flag else None for flag in sliding]
    ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    return homogeneous(keys, fields, dense_layers(window_attentions(attn, windows), ffn))
