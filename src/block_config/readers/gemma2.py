"""Gemma-2 (``gemma2``): local sliding-window and global layers alternating, four norms per
layer, tied embeddings.

Follows transformers' ``configuration_gemma2.py`` / ``modeling_gemma2.py``, defaults
included (the sizes too, when absent: ``hidden_size`` 2304, ``intermediate_size`` 9216,
26 layers, 8 heads, ``vocab_size`` 256000): ``head_dim`` 256, ``num_key_value_heads`` 4,
``tie_word_embeddings`` true, ``sliding_window`` 4096, and ``layer_types`` alternating from
a sliding layer 0 (layer ``i`` slides when ``i + 1`` is odd) unless the config lists them.
Each layer: an RMSNorm before and one after the attention and the MLP (``sandwich_norms``);
q/k/v/o biases only with ``attention_bias``; a gated GeLU MLP of ``intermediate_size``
(three matrices). A sliding layer's KV cache holds at most ``sliding_window`` tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    GQA_PER_LAYER_FIXED_HEADS,
    SLIDING,
    attention,
    dense_layers,
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
    window_attentions,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = ["gemma_layers", "read_gemma2"]

_GEMMA_DEFAULT_WINDOW = 4096
_GEMMA_DEFAULT_KV_HEADS = 4
#: Gemma2Config's defaults for the sizes (the published configs state them all).
_DEFAULTS = {
    "vocab_size": 256000,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
}


def gemma_layers(
    keys: ConfigReader, fields: dict[str, Any], layers: int, *, every: int
) -> list[dict[str, Any]]:
    """The layers of a Gemma-2 or Gemma-3 config: a full-attention layer every ``every``
    layers (the ``(i + 1) % every == 0`` ones), sliding ones between, unless ``layer_types``
    says."""
    window: int | None = keys.nullable("sliding_window", absent=_GEMMA_DEFAULT_WINDOW)
    types = layer_types(keys, layers)
    if types is None:
        sliding = [(index + 1) % every != 0 for index in range(layers)]
    else:
        sliding = [kind == SLIDING for kind in types]
    attn = attention(keys, fields["num_attention_heads"], kv_default=_GEMMA_DEFAULT_KV_HEADS)
    windows = [window if flag else None for flag in sliding]
    ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    return dense_layers(window_attentions(attn, windows), ffn)


@register(
    "gemma2",
    per_layer=PerLayer(GQA_PER_LAYER_FIXED_HEADS | {"intermediate_size", "sliding_window"}),
    architectures={"Gemma2ForCausalLM": "gemma2"},
)
def read_gemma2(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Gemma-2 config: sliding and global layers alternating."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys, tie_word_embeddings=True, head_dim=256, mlp_bias=False),
        "sandwich_norms": True,
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    return homogeneous(keys, fields, gemma_layers(keys, fields, layers, every=2))
