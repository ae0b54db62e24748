"""Llama-4 (``llama4_text``; ``llama4``, the multimodal model, through its ``text_config``):
MoE layers with a shared expert, interleaved with dense layers, and chunked attention on the
RoPE layers.

Follows transformers' ``configuration_llama4.py`` / ``modeling_llama4.py``, defaults
included: ``head_dim`` 128; the MoE layers are ``moe_layers`` when given, else every
``interleave_moe_layer_step``-th layer (default 1: all), counting from layer
``step - 1``; an MoE layer has ``num_local_experts`` gated experts of ``intermediate_size``,
``num_experts_per_tok`` active, and a shared expert of ``intermediate_size``, behind a router
without bias; the other layers a dense MLP of ``intermediate_size_mlp``. ``no_rope_layers``
(default: every ``no_rope_layer_interval``-th layer, 4, is NoPE) gives each layer's
``use_rope``; a RoPE layer attends within chunks of ``attention_chunk_size`` (default 8192;
its KV cache holds at most one chunk), a NoPE layer globally (``layer_types`` decides when
given). The weightless L2 QK-norm (``use_qk_norm``, RoPE layers) has no parameters.
Untied embeddings unless the config says. The vision tower of ``llama4`` is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader
from block_config.readers._common import (
    attention,
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
    moe_per_layer,
    routed_experts,
)
from block_config.readers._registry import (
    ReadOptions,
    register,
    register_text_wrapper,
)

__all__ = ["read_llama4_text"]

_CHUNKED, _FULL = "chunked_attention", "full_attention"
_DEFAULT_CHUNK = 8192
_DEFAULT_NO_ROPE_INTERVAL = 4


def _layer_list(keys: ConfigReader, key: str, layers: int, *, flags: bool) -> list[int] | None:
    """``key``: layer indices below ``layers`` (``flags`` False) or one 0/1 flag per layer."""
    values = keys.int_list(key)
    if values is None:
        return None
    if flags and not values:
        # Llama4TextConfig takes an empty list as "the default pattern", as the published
        # Llama-4-Scout config writes it.
        return values
    before = len(keys.problems)
    if flags:
        if len(values) != layers:
            keys.problems.append(
                Problem((key,), f"has {len(values)} items but num_hidden_layers is {layers}")
            )
        for index, value in enumerate(values):
            if value not in (0, 1):
                keys.problems.append(Problem((key, index), f"expected 0 or 1, got {value}"))
    else:
        for index, value in enumerate(values):
            if value >= layers:
                keys.problems.append(
                    Problem(
                        (key, index),
                        f"layer {value} does not exist (num_hidden_layers is {layers})",
                    )
                )
    return values if len(keys.problems) == before else None


@register(
    "llama4_text",
    per_layer=moe_per_layer(
        "num_local_experts",
        "intermediate_size",
        "intermediate_size_mlp",
        "attention_chunk_size",
    ),
    architectures={"Llama4ForCausalLM": "llama4_text"},
)
def read_llama4_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Llama-4 text config: MoE and dense layers, chunked and global attention."""
    del options  # one family
    keys = ConfigReader(config)
    fields = model_fields(keys, head_dim=128, mlp_bias=False)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    step = keys.integer("interleave_moe_layer_step", default=1)
    listed = _layer_list(keys, "moe_layers", layers, flags=False)
    if listed is not None:
        moe_layers = set(listed)
    else:
        moe_layers = set(range(step - 1, layers, step)) if step is not None else set()
    interval = keys.integer("no_rope_layer_interval", default=_DEFAULT_NO_ROPE_INTERVAL)
    rope_flags = _layer_list(keys, "no_rope_layers", layers, flags=True)
    if not rope_flags:  # absent, null or empty: the default pattern
        every = interval if interval is not None else _DEFAULT_NO_ROPE_INTERVAL
        rope_flags = [int((index + 1) % every != 0) for index in range(layers)]
    chunk: int | None = keys.nullable("attention_chunk_size", absent=_DEFAULT_CHUNK)
    use_qk_norm = keys.boolean("use_qk_norm", True)
    types = layer_types(keys, layers, (_CHUNKED, _FULL))
    if types is None:
        types = [_CHUNKED if flag else _FULL for flag in rope_flags]
    kv = attention(keys, fields["num_attention_heads"], kv_absent=8)
    moe = routed_experts(keys, "num_local_experts", "intermediate_size", None)
    moe["moe"]["shared_expert_intermediate_dim"] = moe["moe"]["expert_intermediate_dim"]
    dense: dict[str, Any] = {}
    if len(moe_layers) < layers:
        dense = {"intermediate_size": keys.integer("intermediate_size_mlp", required=True)}
    made: dict[tuple[bool, str, bool], dict[str, Any]] = {}
    items = []
    for index in range(layers):
        rope, kind, sparse = bool(rope_flags[index]), types[index], index in moe_layers
        if (rope, kind, sparse) not in made:
            llama4 = {
                "attention_chunk_size": chunk if kind == _CHUNKED else None,
                "use_rope": rope,
                "use_qk_norm": use_qk_norm and rope,
            }
            made[rope, kind, sparse] = {
                "attention": {**kv, "llama4": llama4},
                "ffn": moe if sparse else dense,
            }
        items.append(made[rope, kind, sparse])
    return homogeneous(keys, fields, items)


register_text_wrapper("llama4", text_model_type="llama4_text")
