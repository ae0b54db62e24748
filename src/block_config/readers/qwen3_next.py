"""Qwen3-Next (``qwen3_next``): Gated DeltaNet and gated-attention layers, each with an MoE.

Follows transformers' ``configuration_qwen3_next.py`` and ``modeling_qwen3_next.py``:

* ``layer_types`` gives each layer's mixer, ``linear_attention`` or ``full_attention`` (the
  legacy spellings ``mamba`` and ``attention`` are read as those, as the configuration class
  remaps them); without it, every ``full_attention_interval``-th layer (default 4; layer
  ``i`` when ``(i + 1) % interval == 0``) is full attention, the others linear.
* a linear-attention layer is Gated DeltaNet with fused input projections (``in_proj_qkvz``,
  ``in_proj_ba``): ``linear_num_key_heads`` key heads of ``linear_key_head_dim``,
  ``linear_num_value_heads`` value heads of ``linear_value_head_dim``, a causal convolution
  of ``linear_conv_kernel_dim`` (default 4); no KV cache, a fixed-size state;
* a full-attention layer is grouped-query attention with an output gate (``q_proj`` twice as
  wide), ``head_dim`` (default 256) per head, ``num_key_value_heads`` (default 2), an RMSNorm
  of ``head_dim`` on queries and keys, biases with ``attention_bias``;
* layer ``i`` is MoE when it is not in ``mlp_only_layers``, ``num_experts`` is not 0 and
  ``(i + 1)`` is a multiple of ``decoder_sparse_step`` (default 1): ``num_experts`` SwiGLU
  experts of ``moe_intermediate_size``, ``num_experts_per_tok`` active, a shared expert of
  ``shared_expert_intermediate_size`` behind a ``hidden_size -> 1`` sigmoid gate; other layers
  a dense SwiGLU MLP of ``intermediate_size``.

The multi-token-prediction weights of the checkpoints (``mtp.*``) are not part of the model
transformers builds and are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    FULL,
    GQA_PER_LAYER,
    attention,
    homogeneous,
    layer_count,
    model_fields,
    routed_experts,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = [
    "LINEAR",
    "PER_LAYER",
    "QWEN_LINEAR_NAMES",
    "gated_attention",
    "gated_delta_net",
    "hybrid_layer_types",
    "mixer_kinds",
    "read_qwen3_next",
]

#: ``layer_types`` value of a linear-attention layer.
LINEAR = "linear_attention"
#: The legacy ``layer_types`` spellings ``Qwen3NextConfig`` renames (transformers'
#: ``remap_legacy_layer_types``).
_LEGACY_NAMES = {"mamba": LINEAR, "attention": FULL}


def hybrid_layer_types(
    keys: ConfigReader, layers: int, *, remap: Mapping[str, str] | None = None
) -> list[str]:
    """Each layer's mixer, ``linear_attention`` or ``full_attention``: from ``layer_types``
    (its values renamed by ``remap`` first), else from ``full_attention_interval``."""
    remap = remap or {}
    value = keys.config.get("layer_types")
    if value is None:
        interval = keys.integer("full_attention_interval", default=4)
        if not is_count(interval):
            return []
        return [FULL if (index + 1) % interval == 0 else LINEAR for index in range(layers)]
    if not isinstance(value, list):
        keys.problems.append(
            Problem(("layer_types",), f"expected a list of str, got {describe(value)}")
        )
        return []
    if len(value) != layers:
        keys.problems.append(
            Problem(("layer_types",), f"has {len(value)} items but num_hidden_layers is {layers}")
        )
    kinds = []
    for index, item in enumerate(value):
        kind = remap.get(item, item) if type(item) is str else item
        if kind not in (LINEAR, FULL):
            allowed = ", ".join((LINEAR, FULL, *remap))
            keys.problems.append(
                Problem(("layer_types", index), f"expected one of {allowed}, got {describe(item)}")
            )
        kinds.append(kind)
    return kinds


def mixer_kinds(blocks: tuple[BlockConfig, ...]) -> list[str]:
    """Each block's ``layer_types`` value: ``linear_attention`` for a linear-attention
    block, else ``full_attention``."""
    return [
        LINEAR
        if block.attention is not None and block.attention.linear_attention is not None
        else FULL
        for block in blocks
    ]


#: The Qwen families' names of a linear attention's widths (``linear_*``).
QWEN_LINEAR_NAMES = {
    "num_key_heads": "linear_num_key_heads",
    "key_head_dim": "linear_key_head_dim",
    "num_value_heads": "linear_num_value_heads",
    "value_head_dim": "linear_value_head_dim",
    "conv_kernel": "linear_conv_kernel_dim",
}
#: What a Qwen3-Next layer may override in ``per_layer_config``: its attention and linear
#: attention widths, its MLP or experts (no ``skip``: transformers' Qwen3-Next layers have
#: no subblock to leave out).
PER_LAYER = PerLayer(
    GQA_PER_LAYER
    | set(QWEN_LINEAR_NAMES.values())
    | {
        "intermediate_size",
        "moe_intermediate_size",
        "shared_expert_intermediate_size",
        "num_experts",
        "num_experts_per_tok",
    },
    skips=(),
    moe_names={
        "experts": "num_experts",
        "per_token": "num_experts_per_tok",
        "expert_size": "moe_intermediate_size",
        "shared_size": "shared_expert_intermediate_size",
    },
    linear_names=QWEN_LINEAR_NAMES,
    globals_from_blocks=lambda blocks: {
        "layer_types": mixer_kinds(blocks),
        "full_attention_interval": None,
    },
)


def gated_delta_net(keys: ConfigReader, *, fused: bool) -> dict[str, Any]:
    """The Gated DeltaNet of a Qwen-style config (``linear_*`` keys)."""
    return {
        "linear_attention": {
            "kind": "gdn",
            "num_key_heads": keys.integer("linear_num_key_heads", required=True),
            "key_head_dim": keys.integer("linear_key_head_dim", required=True),
            "num_value_heads": keys.integer("linear_num_value_heads", required=True),
            "value_head_dim": keys.integer("linear_value_head_dim", required=True),
            "conv_kernel": keys.integer("linear_conv_kernel_dim", default=4),
            "fused_projections": fused,
        }
    }


def gated_attention(keys: ConfigReader, heads: int | None, *, kv_absent: int) -> dict[str, Any]:
    """Grouped-query attention with an output gate (``q_proj`` twice as wide)."""
    return {**attention(keys, heads, kv_absent=kv_absent), "output_gate": True}


@register(
    "qwen3_next",
    per_layer=PER_LAYER,
    architectures={"Qwen3NextForCausalLM": "qwen3_next"},
    unused=("intermediate_size",),
)
def read_qwen3_next(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Qwen3-Next config: Gated DeltaNet and gated attention, MoE or dense MLP per layer."""
    del options
    keys = ConfigReader(config)
    fields = {
        **model_fields(keys, head_dim=256, mlp_bias=False),
        "qk_norm": True,
        "shared_expert_gate": True,
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    kinds = hybrid_layer_types(keys, layers, remap=_LEGACY_NAMES)
    mixers = {
        LINEAR: gated_delta_net(keys, fused=True),
        FULL: gated_attention(keys, fields["num_attention_heads"], kv_absent=2),
    }
    experts = keys.integer("num_experts", default=512, minimum=0)
    step = keys.integer("decoder_sparse_step", default=1)
    listed = keys.int_list("mlp_only_layers") or []
    for index, layer in enumerate(listed):
        if layer >= layers:
            keys.problems.append(
                Problem(
                    ("mlp_only_layers", index),
                    f"layer {layer} does not exist (num_hidden_layers is {layers})",
                )
            )
    mlp_only = set(listed)
    is_sparse = [
        index not in mlp_only and experts != 0 and is_count(step) and (index + 1) % step == 0
        for index in range(layers)
    ]
    ffns: dict[bool, dict[str, Any]] = {}
    if any(is_sparse):
        shared = keys.integer("shared_expert_intermediate_size", required=True, minimum=0)
        ffns[True] = routed_experts(keys, "num_experts", "moe_intermediate_size", shared)
    if not all(is_sparse):
        ffns[False] = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    made: dict[tuple[str, bool], dict[str, Any]] = {}
    items = [
        made.setdefault((kind, sparse), {"attention": mixers[kind], "ffn": ffns[sparse]})
        for kind, sparse in zip(kinds, is_sparse, strict=False)
        if kind in mixers
    ]
    return homogeneous(keys, fields, items)
