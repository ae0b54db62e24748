"""Kimi-Linear (``kimi_linear``): Kimi Delta Attention and MLA layers, dense then MoE MLPs.

Follows transformers' ``configuration_kimi_linear.py`` and ``modeling_kimi_linear.py``:

* each layer's mixer from ``layer_types`` (``full_attention`` or ``linear_attention``) when
  given; else from ``linear_attn_config``'s ``full_attn_layers`` and ``kda_layers``, which
  number layers **from 1**, as the published checkpoints do (a layer in neither list, or
  a number past the last layer, is refused); else transformers' default (layer ``i`` full
  when ``i`` is a non-zero multiple of 4);
* a linear-attention layer is Kimi Delta Attention: ``num_heads`` heads of ``head_dim`` and a
  short convolution of ``short_conv_kernel_size`` from ``linear_attn_config`` (else
  ``linear_num_heads``, ``linear_head_dim``, ``linear_conv_kernel_dim``: 32, 128, 4); no KV
  cache, a fixed-size state;
* a full-attention layer is MLA (``kv_lora_rank`` 512, ``q_lora_rank`` null: one query
  projection, ``qk_nope_head_dim`` 128, ``qk_rope_head_dim`` 64, ``v_head_dim`` 128), over
  ``num_attention_heads`` heads; its cache is the latent;
* the MLP of each layer from ``mlp_layer_types`` (``dense`` or ``sparse``) when given, else
  dense for the first ``first_k_dense_replace`` (default 1) layers: a dense SwiGLU MLP of
  ``intermediate_size``, or ``num_experts`` (default 256) SwiGLU experts of
  ``moe_intermediate_size``, ``num_experts_per_token`` (default 8) active, and a shared
  expert of ``num_shared_experts`` (default 1) times ``moe_intermediate_size``, behind a
  sigmoid router with a score-correction bias.

``num_nextn_predict_layers`` (0 in the published config) is not read: the configuration class
keeps it without using it and no public modelling code builds a Kimi-Linear MTP layer, so a
non-zero value is left uncounted (``mtp_params`` 0) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import FULL, homogeneous, layer_count, model_fields
from block_config.readers._registry import PerLayer, ReadOptions, register
from block_config.readers.qwen3_next import LINEAR, mixer_kinds

__all__ = ["read_kimi_linear"]

_LINEAR_CONFIG = "linear_attn_config"


def _nested(keys: ConfigReader) -> ConfigReader | None:
    """A reader of ``linear_attn_config`` (its problems land in ``keys``), or None."""
    value = keys.config.get(_LINEAR_CONFIG)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        keys.problems.append(
            Problem((_LINEAR_CONFIG,), f"expected an object, got {describe(value)}")
        )
        return None
    return ConfigReader(value)


def _one_based(nested: ConfigReader, layers: int) -> list[str] | None:
    """Each layer's mixer from ``full_attn_layers`` / ``kda_layers`` (numbered from 1)."""
    full = nested.int_list("full_attn_layers", minimum=1)
    kda = nested.int_list("kda_layers", minimum=1)
    if full is None or kda is None:
        return None
    kinds: list[str | None] = [None] * layers
    for name, listed, kind in (("full_attn_layers", full, FULL), ("kda_layers", kda, LINEAR)):
        for index, number in enumerate(listed):
            if number > layers:
                nested.problems.append(
                    Problem(
                        (name, index),
                        f"layer {number} does not exist (layers are numbered from 1 to {layers})",
                    )
                )
            else:
                kinds[number - 1] = kind
    missing = [str(index + 1) for index, kind in enumerate(kinds) if kind is None]
    if missing and not nested.problems:
        which = (
            f"layer {missing[0]} is" if len(missing) == 1 else f"layers {', '.join(missing)} are"
        )
        nested.problems.append(
            Problem(("kda_layers",), f"{which} in neither full_attn_layers nor kda_layers")
        )
    return [kind or LINEAR for kind in kinds]


def _layer_types(keys: ConfigReader, nested: ConfigReader | None, layers: int) -> list[str]:
    value = keys.config.get("layer_types")
    if value is not None:
        if not isinstance(value, list) or len(value) != layers:
            keys.problems.append(
                Problem(("layer_types",), f"expected a list of {layers} str, got {describe(value)}")
            )
            return []
        for index, item in enumerate(value):
            if item not in (FULL, LINEAR):
                keys.problems.append(
                    Problem(
                        ("layer_types", index),
                        f"expected one of {FULL}, {LINEAR}, got {describe(item)}",
                    )
                )
        return list(value)
    if nested is not None:
        kinds = _one_based(nested, layers)
        if kinds is not None:
            return kinds
    return [FULL if index and index % 4 == 0 else LINEAR for index in range(layers)]


def _mlp_types(keys: ConfigReader, layers: int) -> list[bool]:
    """Whether each layer's MLP is sparse (MoE)."""
    value = keys.config.get("mlp_layer_types")
    if value is not None:
        if not isinstance(value, list) or len(value) != layers:
            keys.problems.append(
                Problem(
                    ("mlp_layer_types",), f"expected a list of {layers} str, got {describe(value)}"
                )
            )
            return []
        for index, item in enumerate(value):
            if item not in ("dense", "sparse"):
                keys.problems.append(
                    Problem(
                        ("mlp_layer_types", index),
                        f"expected one of dense, sparse, got {describe(item)}",
                    )
                )
        return [item == "sparse" for item in value]
    first = keys.integer("first_k_dense_replace", default=1, minimum=0)
    return [first is not None and index >= first for index in range(layers)]


def _either(
    keys: ConfigReader, names: tuple[str, str], *, required: bool = False, default: int = 1
) -> Any:
    """The published spelling, else the other one (transformers maps one to the other)."""
    name = names[0] if names[0] in keys.config or names[1] not in keys.config else names[1]
    minimum = 0 if "shared" in name else 1
    return keys.integer(name, required=required, default=default, minimum=minimum)


def _moe(keys: ConfigReader) -> dict[str, Any]:
    experts = _either(keys, ("num_experts", "num_local_experts"), required=True)
    per_token = _either(keys, ("num_experts_per_token", "num_experts_per_tok"), required=True)
    shared = _either(keys, ("num_shared_experts", "n_shared_experts"), default=1)
    width = keys.integer("moe_intermediate_size", required=True)
    if is_count(experts) and is_count(per_token) and per_token > experts:
        keys.problems.append(
            Problem(("num_experts_per_token",), f"must not exceed {experts} experts")
        )
    return {
        "moe": {
            "num_local_experts": experts,
            "num_experts_per_tok": per_token,
            "expert_intermediate_dim": width,
            "shared_expert_intermediate_dim": shared * width
            if type(shared) is int and type(width) is int
            else None,
        }
    }


def _mlp_kinds(blocks: tuple[BlockConfig, ...]) -> list[str]:
    return [
        "sparse" if block.ffn is not None and block.ffn.moe is not None else "dense"
        for block in blocks
    ]


#: What a Kimi-Linear layer may override in ``per_layer_config``: its MLA widths and its MLP
#: or experts. Not its KDA widths: ``linear_attn_config``'s own values win over the top-level
#: ``linear_*`` keys when a config is read, and a layer's override over both, which one
#: merged config cannot tell apart; such an override is refused. Written with
#: ``layer_types`` and ``mlp_layer_types``, which win over the 1-based lists.
PER_LAYER = PerLayer(
    {
        "num_attention_heads",
        "kv_lora_rank",
        "q_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "v_head_dim",
        "intermediate_size",
        "moe_intermediate_size",
        "num_experts",
        "num_experts_per_token",
    },
    skips=(),
    moe_names={
        "experts": "num_experts",
        "per_token": "num_experts_per_token",
        "expert_size": "moe_intermediate_size",
    },
    globals_from_blocks=lambda blocks: {
        "layer_types": mixer_kinds(blocks),
        "mlp_layer_types": _mlp_kinds(blocks),
    },
)


@register(
    "kimi_linear",
    per_layer=PER_LAYER,
    architectures={"KimiLinearForCausalLM": "kimi_linear"},
    unused=("num_key_value_heads", "moe_layer_freq"),
)
def read_kimi_linear(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Kimi-Linear config: KDA and MLA layers, each with a dense MLP or an MoE."""
    del options
    keys = ConfigReader(config)
    fields = {**model_fields(keys, mlp_bias=False), "router_score_correction_bias": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    nested = _nested(keys)
    kinds = _layer_types(keys, nested, layers)
    sparse = _mlp_types(keys, layers)
    linear = nested or keys
    heads = linear.integer("num_heads" if nested else "linear_num_heads", default=32)
    head_dim = linear.integer("head_dim" if nested else "linear_head_dim", default=128)
    kernel = linear.integer(
        "short_conv_kernel_size" if nested else "linear_conv_kernel_dim", default=4
    )
    if nested is not None:
        keys.problems += [problem.under((_LINEAR_CONFIG,)) for problem in nested.problems]
    q_lora_rank = keys.integer("q_lora_rank", default=None)
    mixers = {
        LINEAR: {
            "linear_attention": {
                "kind": "kda",
                "num_key_heads": heads,
                "key_head_dim": head_dim,
                "num_value_heads": heads,
                "value_head_dim": head_dim,
                "conv_kernel": kernel,
            }
        },
        FULL: {
            "mla": {
                "kv_lora_rank": keys.integer("kv_lora_rank", default=512),
                "qk_nope_head_dim": keys.integer("qk_nope_head_dim", default=128),
                "qk_rope_head_dim": keys.integer("qk_rope_head_dim", default=64),
                "v_head_dim": keys.integer("v_head_dim", default=128),
                "q_lora_rank": q_lora_rank,
            }
        },
    }
    ffns: dict[bool, dict[str, Any]] = {}
    if any(sparse):
        ffns[True] = _moe(keys)
    if not all(sparse):
        ffns[False] = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    made: dict[tuple[str, bool], dict[str, Any]] = {}
    items = [
        made.setdefault((kind, flag), {"attention": mixers[kind], "ffn": ffns[flag]})
        for kind, flag in zip(kinds, sparse, strict=False)
        if kind in mixers
    ]
    return homogeneous(keys, fields, items)
