"""DeepSeek-V3.2 (``deepseek_v32``): DeepSeek-V3's MLA and MoE layers, with a DeepSeek Sparse
Attention indexer in every layer.

Follows transformers' ``configuration_deepseek_v32.py`` / ``modeling_deepseek_v32.py``,
defaults included: MLA with ``q_lora_rank`` (1536; transformers always projects the queries
through this latent, so null is refused), ``kv_lora_rank`` (512), ``qk_nope_head_dim`` (128),
``qk_rope_head_dim`` (64), ``v_head_dim`` (128); an indexer of ``index_n_heads`` (64) heads of
``index_head_dim`` (128) that reads the query latent (``wq_b``), projects one key
(``wk``, LayerNorm ``k_norm`` with bias) and weighs its heads (``weights_proj``); its key
cache adds ``index_head_dim`` values per token to the layer's latent. ``mlp_layer_types``
(``dense`` / ``sparse``; default: the first ``first_k_dense_replace`` (3) layers dense) gives
each layer's FFN: a SwiGLU MLP of ``intermediate_size``, or ``n_routed_experts`` (256)
experts of ``moe_intermediate_size`` (2048), ``num_experts_per_tok`` (8) active, a shared
expert of ``n_shared_experts * moe_intermediate_size`` (1 shared expert) and the router's
score-correction bias (a buffer). ``layer_types`` other than ``indexed_attention`` are refused.

The multi-token-prediction layers (``num_nextn_predict_layers``, default 0: the configuration
class has none), which transformers does not build, are read as
:class:`~block_config.MTPLayers` as vLLM's ``deepseek_mtp.py`` builds them and DeepSeek's
checkpoints store them (``model.layers.61.*``), as DeepSeek-V3's
(:mod:`block_config.readers.deepseek`): ``enorm``, ``hnorm``, ``eh_proj``, one MoE decoder
layer with its indexer (vLLM gives the MTP layer of a config with ``index_topk`` the indexer
of the others), ``shared_head.norm``, and its own copy of the embedding and the head; counted
apart from the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader
from block_config.readers._common import (
    layer_count,
    model_fields,
    refused_per_layer,
    routed_experts,
    with_mtp,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["dsa_layers", "read_deepseek_v32"]

#: DeepseekV32Config's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 129280,
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 128,
    "n_routed_experts": 256,
    "num_experts_per_tok": 8,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "index_n_heads": 64,
    "index_head_dim": 128,
}
#: ``layer_types`` values of an indexed (DSA) layer: transformers' and the published one.
_INDEXED = ("indexed_attention", "deepseek_sparse_attention")


def _mla(keys: ConfigReader) -> dict[str, Any]:
    if keys.config.get("q_lora_rank", 0) is None:
        keys.problems.append(
            Problem(
                ("q_lora_rank",),
                "not supported: null (one query projection); transformers builds the query "
                "latent, which the indexer reads, in every layer",
            )
        )
    return {
        "kv_lora_rank": keys.integer("kv_lora_rank", required=True),
        "qk_nope_head_dim": keys.integer("qk_nope_head_dim", required=True),
        "qk_rope_head_dim": keys.integer("qk_rope_head_dim", required=True),
        "v_head_dim": keys.integer("v_head_dim", required=True),
        "q_lora_rank": keys.integer("q_lora_rank", default=None),
    }


def dsa_layers(
    keys: ConfigReader, indexed: list[bool] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The layers of a DeepSeek-V3.2-shaped config: MLA with an indexer where ``indexed``
    says (every layer when None), dense or MoE FFNs by ``mlp_layer_types`` or
    ``first_k_dense_replace`` (default 3); and the layer of an MTP layer (an indexer and
    an MoE)."""
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    keys.name_list("layer_types", layers, _INDEXED)
    mla = _mla(keys)
    with_indexer = {
        "mla": {
            **mla,
            "index_n_heads": keys.integer("index_n_heads", required=True),
            "index_head_dim": keys.integer("index_head_dim", required=True),
        }
    }
    without_indexer = {"mla": mla}
    mlp_types = keys.name_list("mlp_layer_types", layers, ("dense", "sparse"))
    if mlp_types is None:
        first = keys.integer("first_k_dense_replace", default=3, minimum=0)
        first = first if type(first) is int else 0
        mlp_types = ["dense" if index < first else "sparse" for index in range(layers)]
    shared_count = keys.integer("n_shared_experts", default=1, minimum=0)
    moe = routed_experts(keys, "n_routed_experts", "moe_intermediate_size", None)
    width = moe["moe"]["expert_intermediate_dim"]
    if type(width) is int and type(shared_count) is int:
        moe["moe"]["shared_expert_intermediate_dim"] = shared_count * width
    dense: dict[str, Any] = {}
    if "dense" in mlp_types:
        dense = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    flags = indexed if indexed is not None else [True] * layers
    made: dict[tuple[bool, bool], dict[str, Any]] = {}
    items = [
        made.setdefault(
            (flag, kind == "sparse"),
            {
                "attention": with_indexer if flag else without_indexer,
                "ffn": moe if kind == "sparse" else dense,
            },
        )
        for flag, kind in zip(flags, mlp_types, strict=False)
    ]
    return items, made.setdefault((True, True), {"attention": with_indexer, "ffn": moe})


@register(
    "deepseek_v32",
    per_layer=refused_per_layer("DeepseekV32ForCausalLM"),
    architectures={"DeepseekV32ForCausalLM": "deepseek_v32"},
    unused=("num_key_value_heads", "moe_layer_freq"),
)
def read_deepseek_v32(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A DeepSeek-V3.2 config: MLA with an indexer in every layer, dense then MoE layers."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {**model_fields(keys, mlp_bias=False), "router_score_correction_bias": True}
    items, mtp_item = dsa_layers(keys)
    key = "num_nextn_predict_layers"
    mtp = (key, keys.integer(key, default=0, minimum=0), [mtp_item])
    return with_mtp(keys, fields, items, mtp, own_embeddings=True)
