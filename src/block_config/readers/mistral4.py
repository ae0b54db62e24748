"""Mistral-Small-4 (``mistral4``, the language model of a ``mistral3`` wrapper): MLA with small
latents and routed experts with a shared expert.

Follows transformers' ``configuration_mistral4.py`` / ``modeling_mistral4.py``, defaults
included (the Mistral-Small-4 sizes: ``hidden_size`` 4096, 36 layers, 32 heads,
``q_lora_rank`` 1024 (null: one query projection), ``kv_lora_rank`` 256,
``qk_nope_head_dim`` 64, ``qk_rope_head_dim`` 64, ``v_head_dim`` 128). Layer ``i`` has a
SwiGLU MLP of ``intermediate_size`` when ``i < first_k_dense_replace`` (default 0), else
``n_routed_experts`` (128) SwiGLU experts of ``moe_intermediate_size`` (2048),
``num_experts_per_tok`` (4) active, and a shared expert of
``n_shared_experts * moe_intermediate_size`` (1 shared expert), behind a softmax router
without score-correction bias. Biases on q_a_proj, kv_a_proj_with_mqa and o_proj with
``attention_bias``. YaRN and Llama-4 scaling have no parameters. A ``mistral3`` config is
read through its ``text_config``. The configuration class declares no multi-token-prediction
layer and the published config names none: none is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config.readers._common import (
    homogeneous,
    layer_count,
    model_fields,
    refused_per_layer,
    routed_experts,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_mistral4"]

#: Mistral4Config's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 131072,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "n_routed_experts": 128,
    "num_experts_per_tok": 4,
    "kv_lora_rank": 256,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 64,
}


@register(
    "mistral4",
    per_layer=refused_per_layer("Mistral4ForCausalLM"),
    architectures={"Mistral4ForCausalLM": "mistral4"},
    unused=("num_key_value_heads",),
)
def read_mistral4(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Mistral-Small-4 config: MLA in every layer, dense layers first (none by default)."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = model_fields(keys, mlp_bias=False)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    q_lora_rank: int | None = keys.nullable("q_lora_rank", absent=1024)
    mla = {
        "kv_lora_rank": keys.integer("kv_lora_rank", required=True),
        "qk_nope_head_dim": keys.integer("qk_nope_head_dim", required=True),
        "qk_rope_head_dim": keys.integer("qk_rope_head_dim", required=True),
        "v_head_dim": keys.integer("v_head_dim", required=True),
        "q_lora_rank": q_lora_rank,
    }
    first_dense = keys.integer("first_k_dense_replace", default=0, minimum=0)
    first = first_dense if type(first_dense) is int else 0
    shared_count = keys.integer("n_shared_experts", default=1, minimum=0)
    moe = routed_experts(keys, "n_routed_experts", "moe_intermediate_size", None)
    width = moe["moe"]["expert_intermediate_dim"]
    if type(width) is int and type(shared_count) is int:
        moe["moe"]["shared_expert_intermediate_dim"] = shared_count * width
    dense: dict[str, Any] = {}
    if first > 0:
        dense = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    sparse_item = {"attention": {"mla": mla}, "ffn": moe}
    dense_item = {"attention": {"mla": mla}, "ffn": dense}
    return homogeneous(
        keys, fields, [dense_item if index < first else sparse_item for index in range(layers)]
    )
