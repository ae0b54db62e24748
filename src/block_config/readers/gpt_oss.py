"""gpt-oss (``gpt_oss``): every layer a mixture of experts, attention alternating between a
128-token sliding window and full, with sinks and biases.

Follows transformers' ``configuration_gpt_oss.py`` / ``modeling_gpt_oss.py``, defaults
included: ``head_dim`` 64, ``attention_bias`` true (q, k, v and o), ``sliding_window`` 128
on the layers ``layer_types`` marks (by default the even ones: layer ``i`` slides when
``i + 1`` is odd), one learned sink logit per head in every layer (``attention_sinks``);
``num_local_experts`` gated experts of ``intermediate_size`` with biases (``expert_bias``:
``2 * intermediate_size`` on gate/up, ``hidden_size`` on down), ``num_experts_per_tok``
active, a router with a bias (``router_bias``), no shared expert; untied embeddings.
``quantization_config`` (MXFP4 in the published checkpoints) says how the experts are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    SLIDING,
    attention,
    dense_layers,
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
    moe_per_layer,
    routed_experts,
    window_attentions,
    window_types,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_gpt_oss"]

_DEFAULT_WINDOW = 128


@register(
    "gpt_oss",
    per_layer=moe_per_layer(
        "num_local_experts",
        "intermediate_size",
        "sliding_window",
        globals_from_blocks=lambda blocks: {"layer_types": window_types(blocks)},
    ),
    architectures={"GptOssForCausalLM": "gpt_oss"},
    unused=("experts_per_token",),
)
def read_gpt_oss(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A gpt-oss config: the same MoE FFN in every layer, alternating attention windows."""
    del options  # one family
    keys = ConfigReader(config)
    fields = {
        **model_fields(keys, head_dim=64, attention_bias=True, mlp_bias=False),
        "attention_sinks": True,
        "router_bias": True,
        "expert_bias": True,
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    window: int | None = keys.nullable("sliding_window", absent=_DEFAULT_WINDOW)
    types = layer_types(keys, layers)
    if types is None:
        sliding = [(index + 1) % 2 != 0 for index in range(layers)]
    else:
        sliding = [kind == SLIDING for kind in types]
    attn = attention(keys, fields["num_attention_heads"], kv_absent=8)
    windows = [window if flag else None for flag in sliding]
    moe = routed_experts(keys, "num_local_experts", "intermediate_size", 0)
    return homogeneous(keys, fields, dense_layers(window_attentions(attn, windows), moe))
