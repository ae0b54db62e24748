"""Gemma-3 (``gemma3_text``; ``gemma3``, the multimodal model, through its ``text_config``):
five local sliding-window layers to one global, four norms per layer, QK-norm, tied
embeddings.

Follows transformers' ``configuration_gemma3.py`` / ``modeling_gemma3.py``, defaults
included (the sizes too, which the published multimodal configs partly leave out:
``hidden_size`` 2304, ``intermediate_size`` 9216, 26 layers, 8 heads, ``vocab_size`` 262208):
``head_dim`` 256, ``num_key_value_heads`` 4, ``tie_word_embeddings`` true (the
wrapper's too), ``sliding_window`` 4096, and ``layer_types`` from ``sliding_window_pattern``
(default 6: layer ``i`` is global when ``(i + 1)`` is a multiple of it) unless the config
lists them. Each layer: an RMSNorm before and after the attention and the MLP
(``sandwich_norms``), an RMSNorm of ``head_dim`` on the queries and one on the keys
(``qk_norm``), a gated GeLU MLP of ``intermediate_size``. The vision tower of ``gemma3`` is
not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    GQA_PER_LAYER_FIXED_HEADS,
    homogeneous,
    layer_count,
    model_fields,
)
from block_config.readers._registry import (
    PerLayer,
    ReadOptions,
    register,
    register_text_wrapper,
)
from block_config.readers.gemma2 import gemma_layers

__all__ = ["read_gemma3_text"]

_DEFAULT_PATTERN = 6
#: Gemma3TextConfig's defaults for the sizes: the published multimodal configs leave some
#: out of their ``text_config`` (gemma-3-4b: the head count and the vocabulary).
_DEFAULTS = {
    "vocab_size": 262208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
}


@register(
    "gemma3_text",
    per_layer=PerLayer(GQA_PER_LAYER_FIXED_HEADS | {"intermediate_size", "sliding_window"}),
    architectures={"Gemma3ForCausalLM": "gemma3_text"},
)
def read_gemma3_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Gemma-3 text config: a global layer every ``sliding_window_pattern`` layers."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys, tie_word_embeddings=True, head_dim=256, mlp_bias=False),
        "sandwich_norms": True,
        "qk_norm": True,
    }
    layers = layer_count(keys)
    every = keys.integer("sliding_window_pattern", default=_DEFAULT_PATTERN)
    if layers is None or every is None:
        raise BlockConfigError(keys.problems)
    return homogeneous(keys, fields, gemma_layers(keys, fields, layers, every=every))


register_text_wrapper("gemma3", text_model_type="gemma3_text", tie_word_embeddings=True)
