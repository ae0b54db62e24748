"""Qwen3.5 (``qwen3_5``, ``qwen3_5_moe``): read through the language model's ``text_config``
(``qwen3_5_text``, ``qwen3_5_moe_text``): Gated DeltaNet and gated-attention layers.

Follows transformers' ``configuration_qwen3_5.py`` / ``configuration_qwen3_5_moe.py`` and
their modelling code for the text model (the vision tower is not counted):

* the layer mix as Qwen3-Next (``layer_types``, else every ``full_attention_interval``-th
  layer, default 4, is full attention); ``layer_types`` values are not remapped;
* Gated DeltaNet with one input projection per tensor (``in_proj_qkv``, ``in_proj_z``,
  ``in_proj_b``, ``in_proj_a``), the ``linear_*`` keys and ``linear_conv_kernel_dim``
  (default 4);
* full attention always with an output gate: transformers 5.25 builds ``q_proj`` twice as
  wide whatever ``attn_output_gate`` says, and so does this reader; ``head_dim`` (default
  256), ``num_key_value_heads`` (default 4 dense, 2 MoE), QK-norm of ``head_dim``;
* ``qwen3_5``: a dense SwiGLU MLP of ``intermediate_size`` in every layer; ``qwen3_5_moe``:
  every layer an MoE of ``num_experts`` experts of ``moe_intermediate_size``,
  ``num_experts_per_tok`` active, a shared expert of ``shared_expert_intermediate_size``
  behind a sigmoid gate (no ``mlp_only_layers``, no sparse step).

``mamba_ssm_dtype`` (``float32`` in the published configs) is read as the dtype of the
recurrent state. ``tie_word_embeddings`` is the wrapper's (default False) when it says, else
the text part's.

The multi-token-prediction layers (``mtp_num_hidden_layers``, default 1 as vLLM reads it; the
checkpoints' ``mtp.*``),
which transformers does not build, are read as one :class:`~block_config.MTPLayers` as vLLM's
``qwen3_5_mtp.py`` builds them and as Qwen3-Next's (:mod:`block_config.readers.qwen3_next`):
``pre_fc_norm_embedding``, ``pre_fc_norm_hidden``, ``fc`` (``2h -> h``), that many
full-attention decoder layers with the model's MLP or MoE, and ``norm``; the embedding and
the head are the model's (``mtp_use_dedicated_embeddings`` true is refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    FULL,
    layer_count,
    model_fields,
    routed_experts,
    with_mtp,
)
from block_config.readers._registry import (
    PerLayer,
    ReadOptions,
    register,
    register_text_wrapper,
)
from block_config.readers.qwen3_next import (
    LINEAR,
    PER_LAYER,
    gated_attention,
    gated_delta_net,
    hybrid_layer_types,
    qwen_mtp,
)

__all__ = ["read_qwen3_5_text"]

_MOE_TYPES = ("qwen3_5_moe_text", "qwen3_5_moe")


#: What a Qwen3.5 text layer may override in ``per_layer_config``: as Qwen3-Next, without
#: its sparse step (every layer of ``qwen3_5`` is dense, of ``qwen3_5_moe`` an MoE).
_PER_LAYER = PerLayer(
    PER_LAYER.attributes - {"decoder_sparse_step"},
    skips=(),
    moe_names=PER_LAYER.moe_names,
    linear_names=PER_LAYER.linear_names,
)


@register("qwen3_5_text", "qwen3_5_moe_text", per_layer=_PER_LAYER)
def read_qwen3_5_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen3.5 text config: Gated DeltaNet and gated attention, dense or MoE MLPs."""
    moe = options.model_type in _MOE_TYPES
    keys = ConfigReader(config)
    fields = {
        **model_fields(keys, head_dim=256, mlp_bias=False),
        "qk_norm": True,
        "shared_expert_gate": moe,
    }
    if fields["mamba_ssm_cache_dtype"] is None:
        fields["mamba_ssm_cache_dtype"] = keys.string("mamba_ssm_dtype")
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    kinds = hybrid_layer_types(keys, layers)
    mixers = {
        LINEAR: gated_delta_net(keys, fused=False),
        FULL: gated_attention(keys, fields["num_attention_heads"], kv_absent=2 if moe else 4),
    }
    if moe:
        shared = keys.integer("shared_expert_intermediate_size", required=True, minimum=0)
        ffn = routed_experts(keys, "num_experts", "moe_intermediate_size", shared)
    else:
        ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    items = {kind: {"attention": mixer, "ffn": ffn} for kind, mixer in mixers.items()}
    mtp = qwen_mtp(keys, lambda index: ffn, mixers[FULL])
    return with_mtp(keys, fields, [items[kind] for kind in kinds if kind in items], mtp)


register_text_wrapper("qwen3_5", text_model_type="qwen3_5_text")
register_text_wrapper("qwen3_5_moe", text_model_type="qwen3_5_moe_text")
