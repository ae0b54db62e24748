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

The multi-token-prediction weights of the checkpoints (``mtp.*``), which transformers does not
build, are read as one :class:`~block_config.MTPLayers` as vLLM's ``qwen3_next_mtp.py`` builds
them: ``pre_fc_norm_embedding`` and ``pre_fc_norm_hidden`` (``enorm`` and ``hnorm``), ``fc``
(``2h -> h``, ``eh_proj``), ``num_nextn_predict_layers`` (else ``mtp_num_hidden_layers``; the
configuration class declares neither, the published config says nothing and vLLM builds 1,
which the published checkpoint total confirms) full-attention decoder layers (gated
attention; layer ``k`` with the FFN of the model's layer ``k``, as vLLM numbers them) and
``norm``; the embedding and the head are the model's. ``mtp_use_dedicated_embeddings`` true
is refused: no public code builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    FULL,
    GQA_PER_LAYER,
    MAX_BLOCKS,
    attention,
    layer_count,
    model_fields,
    routed_experts,
    with_mtp,
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
    "qwen_mtp",
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


def qwen_mtp(
    keys: ConfigReader,
    ffns: Callable[[int], dict[str, Any]],
    attention: dict[str, Any],
    names: tuple[str, ...] = ("mtp_num_hidden_layers",),
) -> tuple[str, Any, list[dict[str, Any]]] | None:
    """The MTP layer of a Qwen3-Next / Qwen3.5 config: as many decoder layers (``attention``
    and the FFN ``ffns`` gives for their index) as the first of ``names`` present says
    (vLLM's default when none is: 1), between one ``fc`` and one ``norm``; None for 0."""
    key = next((name for name in names if name in keys.config), names[0])
    count = keys.integer(key, default=1, minimum=0)
    if not count:
        return None
    if keys.boolean("mtp_use_dedicated_embeddings"):
        keys.problems.append(
            Problem(
                ("mtp_use_dedicated_embeddings",),
                "not supported: MTP layers with their own embedding (no public modelling code "
                "builds them, so their size is not known)",
            )
        )
    if count > MAX_BLOCKS:
        keys.problems.append(Problem((key,), f"is {count}, more than the limit of {MAX_BLOCKS}"))
        count = 1
    # One MTP layer: its fc and norms surround every one of its decoder layers.
    return key, 1, [{"attention": attention, "ffn": ffns(index)} for index in range(count)]


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
    made_ffns: dict[bool, dict[str, Any]] = {}

    def ffn(index: int) -> dict[str, Any]:
        """The FFN of layer ``index``: an MoE or a dense MLP, read once."""
        sparse = (
            index not in mlp_only and experts != 0 and is_count(step) and (index + 1) % step == 0
        )
        if sparse not in made_ffns:
            if sparse:
                shared = keys.integer("shared_expert_intermediate_size", required=True, minimum=0)
                made_ffns[True] = routed_experts(
                    keys, "num_experts", "moe_intermediate_size", shared
                )
            else:
                size = keys.integer("intermediate_size", required=True)
                made_ffns[False] = {"intermediate_size": size}
        return made_ffns[sparse]

    made: dict[tuple[str, int], dict[str, Any]] = {}
    items = []
    for index, kind in enumerate(kinds[:layers]):
        if kind in mixers:
            layer_ffn = ffn(index)
            items.append(
                made.setdefault(
                    (kind, id(layer_ffn)), {"attention": mixers[kind], "ffn": layer_ffn}
                )
            )
    # vLLM builds MTP decoder layer k as the model's layer k would be, with full attention.
    mtp = qwen_mtp(keys, ffn, mixers[FULL], ("num_nextn_predict_layers", "mtp_num_hidden_layers"))
    return with_mtp(keys, fields, items, mtp)
