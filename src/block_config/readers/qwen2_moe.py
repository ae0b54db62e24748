"""Qwen2-MoE (``qwen2_moe``): sparse layers with routed experts and a gated shared expert.

Follows transformers' ``modeling_qwen2_moe.py``: layer ``i`` is sparse when ``i`` is not in
``mlp_only_layers`` (a set of layer indices: order and repeats do not matter) and
``(i + 1)`` is a multiple of ``decoder_sparse_step`` (default 1); a sparse layer has
``num_experts`` SwiGLU experts of ``moe_intermediate_size``, ``num_experts_per_tok`` active,
a shared SwiGLU expert of ``shared_expert_intermediate_size`` always active, and a
``hidden_size -> 1`` sigmoid gate on the shared expert; other layers have a dense SwiGLU MLP
of ``intermediate_size``. Attention as Qwen2: q, k and v projections with bias; with
``use_sliding_window``, ``sliding_window`` on the even layers below ``max_window_layers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    attention,
    homogeneous,
    layer_count,
    model_fields,
    moe_per_layer,
    qwen_sliding,
    routed_experts,
    window_attentions,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["qwen_moe_items", "read_qwen2_moe"]


def qwen_moe_items(
    keys: ConfigReader,
    fields: dict[str, Any],
    *,
    shared_key: str | None,
    max_window_layers: int | None,
    alternate: bool = False,
    kv_absent: int,
) -> list[dict[str, Any]]:
    """The layers of a Qwen-MoE config (Qwen2-MoE, Qwen3-MoE); the shared expert's width is
    ``shared_key`` (required), none when ``shared_key`` is None; ``kv_absent`` KV heads when
    ``num_key_value_heads`` is absent."""
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    shared = 0
    if shared_key is not None:
        shared = keys.integer(shared_key, required=True, minimum=0)
    step = keys.integer("decoder_sparse_step", default=1)
    listed = keys.int_list("mlp_only_layers") or []
    mlp_only = set(listed)
    for index, layer in enumerate(listed):
        if layer >= layers:
            keys.problems.append(
                Problem(
                    ("mlp_only_layers", index),
                    f"layer {layer} does not exist (num_hidden_layers is {layers})",
                )
            )
    attentions = window_attentions(
        attention(keys, fields["num_attention_heads"], kv_absent=kv_absent),
        qwen_sliding(keys, layers, max_window_layers=max_window_layers, alternate=alternate),
    )
    moe = routed_experts(keys, "num_experts", "moe_intermediate_size", shared)
    is_sparse = [
        index not in mlp_only and is_count(step) and (index + 1) % step == 0
        for index in range(layers)
    ]
    dense: dict[str, Any] = {}
    if not all(is_sparse):
        dense = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    made: dict[tuple[int, bool], dict[str, Any]] = {}
    return [
        made.setdefault((id(attn), flag), {"attention": attn, "ffn": moe if flag else dense})
        for attn, flag in zip(attentions, is_sparse, strict=True)
    ]


@register(
    "qwen2_moe",
    per_layer=moe_per_layer(
        "num_experts",
        "moe_intermediate_size",
        "intermediate_size",
        "sliding_window",
        shared_size="shared_expert_intermediate_size",
    ),
    architectures={"Qwen2MoeForCausalLM": "qwen2_moe"},
    unused=("intermediate_size", "sliding_window", "max_window_layers"),
)
def read_qwen2_moe(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen2-MoE config: sparse and dense layers as the sparse step and mlp_only_layers say."""
    del options
    keys = ConfigReader(config)
    fields = {
        **model_fields(keys, attention_bias=None, mlp_bias=False),
        "qkv_bias": True,
        "shared_expert_gate": True,
    }
    items = qwen_moe_items(
        keys,
        fields,
        shared_key="shared_expert_intermediate_size",
        max_window_layers=28,
        alternate=True,
        kv_absent=16,
    )
    return homogeneous(keys, fields, items)
