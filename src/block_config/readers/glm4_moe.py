"""GLM-4.5 / GLM-4.6 / GLM-4.7 (``glm4_moe``): dense layers first, then routed experts with a
shared expert.

Follows transformers' ``configuration_glm4_moe.py`` / ``modeling_glm4_moe.py``, defaults
included: grouped-query attention with ``num_key_value_heads`` (default 8) KV heads and
``head_dim`` from the config (128 in the published ones, which is not
``hidden_size // num_attention_heads``); biases on q, k and v but never on o when
``attention_bias`` (``qkv_bias``); a per-head RMSNorm on q and on k when ``use_qk_norm``
(``qk_norm``; GLM-4.7, not GLM-4.5-Air); partial RoPE has no parameters. Layer ``i`` has a
SwiGLU MLP of ``intermediate_size`` when ``i < first_k_dense_replace`` (default 1), else
``n_routed_experts`` (128) SwiGLU experts of ``moe_intermediate_size`` (1408),
``num_experts_per_tok`` (8) active, and a shared expert of
``n_shared_experts * moe_intermediate_size`` (1 shared expert), behind a sigmoid router with a
per-expert score-correction bias (a buffer: ``router_score_correction_bias``).

The multi-token-prediction layers (``num_nextn_predict_layers``, which the class also reads as
``num_mtp_layers``; default 1) are read as :class:`~block_config.MTPLayers` and counted apart
from the model, as transformers 5.25 builds them beside it (``MtpModel`` of
``generate(..., use_mtp=True)``, the layers ``model.layers.{num_hidden_layers + k}.*`` of the
checkpoints): ``enorm``, ``hnorm``, ``eh_proj`` (``2h -> h``), one MoE decoder layer (MTP
layers are MoE whatever ``first_k_dense_replace`` says) and the final norm
(``shared_head.norm``); the embedding and the head are the model's. GLM-4.5's and
GLM-4.5-Air's checkpoints also store a copy of both in the MTP layer (``embed_tokens``,
``shared_head.head``), GLM-4.6's and later do not; the config does not say which, so the
copies are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    attention,
    layer_count,
    model_fields,
    refused_per_layer,
    routed_experts,
    with_mtp,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_glm4_moe"]

#: Glm4MoeConfig's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 151552,
    "hidden_size": 4096,
    "intermediate_size": 10944,
    "num_hidden_layers": 46,
    "num_attention_heads": 96,
    "moe_intermediate_size": 1408,
    "num_experts_per_tok": 8,
    "n_routed_experts": 128,
}


@register(
    "glm4_moe",
    per_layer=refused_per_layer(
        "Glm4MoeForCausalLM", {"qkv_bias": "attention_bias", "qk_norm": "use_qk_norm"}
    ),
    architectures={"Glm4MoeForCausalLM": "glm4_moe"},
)
def read_glm4_moe(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A GLM-4.5-style MoE config: ``first_k_dense_replace`` dense layers, then MoE layers."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = model_fields(keys, attention_bias=None, mlp_bias=False)
    fields["qkv_bias"] = keys.boolean("attention_bias")
    fields["qk_norm"] = keys.boolean("use_qk_norm")
    fields["router_score_correction_bias"] = True
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    attn = attention(keys, fields["num_attention_heads"], kv_absent=8)
    first_dense = keys.integer("first_k_dense_replace", default=1, minimum=0)
    shared_count = keys.integer("n_shared_experts", default=1, minimum=0)
    moe = routed_experts(keys, "n_routed_experts", "moe_intermediate_size", None)
    width = moe["moe"]["expert_intermediate_dim"]
    if type(width) is int and type(shared_count) is int:
        moe["moe"]["shared_expert_intermediate_dim"] = shared_count * width
    dense: dict[str, Any] = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    sparse_item = {"attention": attn, "ffn": moe}
    dense_item = {"attention": attn, "ffn": dense}
    first = first_dense if type(first_dense) is int else 0
    items = [dense_item if index < first else sparse_item for index in range(layers)]
    return with_mtp(keys, fields, items, _mtp_layers(keys, [sparse_item]))


def _mtp_layers(
    keys: ConfigReader, items: list[dict[str, Any]]
) -> tuple[str, Any, list[dict[str, Any]]]:
    """The key naming the number of MTP layers (``num_mtp_layers`` is the configuration
    class's other name for ``num_nextn_predict_layers``), the number (default 1) and ``items``,
    the blocks of one."""
    key = "num_nextn_predict_layers"
    if key not in keys.config and "num_mtp_layers" in keys.config:
        key = "num_mtp_layers"
    return key, keys.integer(key, default=1, minimum=0), items
