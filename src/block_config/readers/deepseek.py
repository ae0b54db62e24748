"""DeepSeek-V2 and DeepSeek-V3 (``deepseek_v2``, ``deepseek_v3``): Multi-head Latent
Attention in every layer, dense layers first, then DeepSeek-MoE layers.

Follows transformers' ``configuration_deepseek_v2.py`` / ``configuration_deepseek_v3.py``
and their modelling code, defaults included: MLA with ``kv_lora_rank`` (512),
``q_lora_rank`` (1536; null: q is one full projection, as in DeepSeek-V2-Lite),
``qk_nope_head_dim`` (128), ``qk_rope_head_dim`` (64) and ``v_head_dim`` (128), over
``num_attention_heads`` heads; layer ``i`` is MoE when ``i >= first_k_dense_replace``
(default 0 for V2, 3 for V3) and ``i % moe_layer_freq == 0`` (default 1), with
``n_routed_experts`` gated experts of ``moe_intermediate_size``, ``num_experts_per_tok``
active, and a shared expert of ``n_shared_experts * moe_intermediate_size`` (default 2 shared
experts for V2, 1 for V3); other layers a dense MLP of ``intermediate_size``. V3's router
carries a per-expert score-correction bias (``router_score_correction_bias``). The
multi-token-prediction layers (``num_nextn_predict_layers``: DeepSeek-V3's
``model.layers.61``) are not part of the model transformers builds: they are read as
:class:`~block_config.MTPLayers`, each one MoE decoder layer with its own copy of the
embedding and the head (as the published checkpoint stores them), and counted apart.

``n_routed_experts`` is required: a config without it is refused rather than read as dense.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config._model import MTPLayers
from block_config.readers._common import (
    homogeneous,
    layer_count,
    model_fields,
    routed_experts,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = ["read_deepseek"]

#: Per version: (first_k_dense_replace, n_shared_experts) defaults.
_DEFAULTS = {"deepseek_v2": (0, 2), "deepseek_v3": (3, 1)}


def _mla(keys: ConfigReader) -> dict[str, Any]:
    q_lora_rank: int | None = keys.nullable("q_lora_rank", absent=1536)
    return {
        "kv_lora_rank": keys.integer("kv_lora_rank", default=512),
        "qk_nope_head_dim": keys.integer("qk_nope_head_dim", default=128),
        "qk_rope_head_dim": keys.integer("qk_rope_head_dim", default=64),
        "v_head_dim": keys.integer("v_head_dim", default=128),
        "q_lora_rank": q_lora_rank,
    }


#: What a DeepSeek-V3 layer may override in ``per_layer_config`` (DeepSeek-V2's class checks
#: the global head count, so a V2 layer has none of its own).
_PER_LAYER_V3 = PerLayer(
    {
        "num_attention_heads",
        "intermediate_size",
        "moe_intermediate_size",
        "n_routed_experts",
        "num_experts_per_tok",
        "n_shared_experts",
        "q_lora_rank",
        "kv_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "v_head_dim",
    },
    moe_names={
        "experts": "n_routed_experts",
        "per_token": "num_experts_per_tok",
        "expert_size": "moe_intermediate_size",
    },
)


@register(
    "deepseek_v2",
    per_layer=attrs.evolve(
        _PER_LAYER_V3, attributes=_PER_LAYER_V3.attributes - {"num_attention_heads"}
    ),
    architectures={"DeepseekV2ForCausalLM": "deepseek_v2"},
    unused=("num_key_value_heads",),
)
@register(
    "deepseek_v3",
    per_layer=_PER_LAYER_V3,
    architectures={"DeepseekV3ForCausalLM": "deepseek_v3"},
    unused=("num_key_value_heads",),
)
def read_deepseek(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A DeepSeek-V2/V3 config: MLA everywhere, dense then MoE layers."""
    version = options.model_type if options.model_type in _DEFAULTS else "deepseek_v3"
    first_dense_default, shared_default = _DEFAULTS[version]
    keys = ConfigReader(config)
    fields = model_fields(keys)
    if version == "deepseek_v3":
        fields["router_score_correction_bias"] = True
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    attn = {"mla": _mla(keys)}
    first_dense = keys.integer("first_k_dense_replace", default=first_dense_default, minimum=0)
    freq = keys.integer("moe_layer_freq", default=1)
    shared_count = keys.integer("n_shared_experts", default=shared_default, minimum=0)
    moe = routed_experts(keys, "n_routed_experts", "moe_intermediate_size", None)
    width = moe["moe"]["expert_intermediate_dim"]
    if type(width) is int and type(shared_count) is int:
        moe["moe"]["shared_expert_intermediate_dim"] = shared_count * width
    is_moe = [
        first_dense is not None and freq is not None and index >= first_dense and index % freq == 0
        for index in range(layers)
    ]
    dense_ffn: dict[str, Any] = {}
    if not all(is_moe):
        dense_ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    sparse = {"attention": attn, "ffn": moe}
    dense = {"attention": attn, "ffn": dense_ffn}
    mtp_layers = keys.integer("num_nextn_predict_layers", default=0, minimum=0)
    mtp = [sparse] if mtp_layers else []
    items = [sparse if flag else dense for flag in is_moe]
    read = homogeneous(keys, fields, items + mtp)
    if mtp:
        blocks = read["block_configs"]
        read["block_configs"] = blocks[:layers]
        read["mtp"] = MTPLayers(
            num_layers=mtp_layers, block_configs=blocks[layers:], own_embeddings=True
        )
    return read
