"""Granite-4.0-H (``granitemoehybrid``): Mamba-2 and attention layers, each followed by a
mixture of experts beside a shared MLP.

Follows transformers' ``configuration_granitemoehybrid.py`` / ``modeling_granitemoehybrid.py``,
defaults included. ``layer_types`` (or ``layers_block_type``; ``mamba`` / ``attention`` as
published, or transformers' ``linear_attention`` / ``full_attention``; default: every layer
Mamba) gives each layer's mixer:

* a Mamba-2 mixer of ``mamba_n_heads`` (128) heads of ``mamba_d_head`` (``"auto"``:
  ``mamba_expand * hidden_size / mamba_n_heads``), ``mamba_n_groups`` (1) groups, state
  ``mamba_d_state`` (256), conv1d of ``mamba_d_conv`` (4) with a bias, and the gated norm;
* grouped-query attention with ``num_key_value_heads`` KV heads (default: one per head),
  biases on q, k, v and o with ``attention_bias``; NoPE or RoPE, neither with parameters.

Every layer then has ``num_local_experts`` (8) SwiGLU experts of ``intermediate_size``,
``num_experts_per_tok`` (2) active, behind a router without bias, and a SwiGLU shared MLP of
``shared_intermediate_size`` (1024) always active: the MoE's shared expert. With
``num_local_experts`` 0 the shared MLP is the layer's dense FFN. Two RMSNorms per layer; the
µP multipliers have no parameters. A Mamba mixer whose inner width is not
``mamba_expand * hidden_size``, or that has projection biases (``mamba_proj_bias``) or no conv
bias (``mamba_conv_bias`` false), is refused rather than miscounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    attention,
    homogeneous,
    layer_count,
    model_fields,
    refused_per_layer,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_granitemoehybrid"]

#: GraniteMoeHybridConfig's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "shared_intermediate_size": 1024,
    "mamba_n_heads": 128,
    "mamba_n_groups": 1,
    "mamba_d_state": 256,
    "mamba_d_conv": 4,
    "mamba_expand": 2,
}
#: Layer kinds as published and as transformers renames them.
_KINDS = {
    "mamba": "mamba",
    "linear_attention": "mamba",
    "attention": "attention",
    "full_attention": "attention",
}


def _kinds(keys: ConfigReader, layers: int) -> list[str]:
    """Each layer's mixer ("mamba" or "attention"); problems recorded in ``keys``."""
    key = "layer_types" if keys.config.get("layer_types") is not None else "layers_block_type"
    names = keys.config.get(key)
    if names is None:
        return ["mamba"] * layers
    if not isinstance(names, list):
        keys.problems.append(Problem((key,), f"expected a list of str, got {describe(names)}"))
        return []
    if len(names) != layers:
        keys.problems.append(
            Problem((key,), f"has {len(names)} items but num_hidden_layers is {layers}")
        )
    kinds = []
    for index, name in enumerate(names):
        if type(name) is not str or name not in _KINDS:
            keys.problems.append(
                Problem((key, index), f"expected one of {', '.join(_KINDS)}, got {describe(name)}")
            )
        else:
            kinds.append(_KINDS[name])
    return kinds


def _mamba(keys: ConfigReader, hidden: Any) -> dict[str, Any]:
    heads = keys.integer("mamba_n_heads", required=True)
    expand = keys.integer("mamba_expand", required=True)
    inner = expand * hidden if is_count(expand) and is_count(hidden) else None
    head_dim: Any = keys.config.get("mamba_d_head", "auto")
    if head_dim == "auto":
        head_dim = inner // heads if inner is not None and is_count(heads) else None
    else:
        head_dim = keys.integer("mamba_d_head", required=True)
    if is_count(head_dim) and is_count(heads) and inner is not None and head_dim * heads != inner:
        keys.problems.append(
            Problem(
                ("mamba_d_head",),
                f"{head_dim} x mamba_n_heads ({heads}) is not mamba_expand x hidden_size "
                f"({inner}), the Mamba mixer's inner width",
            )
        )
    if keys.boolean("mamba_proj_bias"):
        keys.problems.append(
            Problem(
                ("mamba_proj_bias",),
                "not supported: biases on the Mamba in_proj and out_proj are not counted",
            )
        )
    if not keys.boolean("mamba_conv_bias", True):
        keys.problems.append(
            Problem(
                ("mamba_conv_bias",), "not supported: a Mamba conv1d without bias is not counted"
            )
        )
    return {
        "state_dim": keys.integer("mamba_d_state", required=True),
        "num_heads": heads,
        "head_dim": head_dim,
        "num_groups": keys.integer("mamba_n_groups", required=True),
    }


def _ffn(keys: ConfigReader) -> dict[str, Any]:
    experts = keys.integer("num_local_experts", required=True, minimum=0)
    shared = keys.integer("shared_intermediate_size", required=True, minimum=0)
    if experts == 0:
        return {"intermediate_size": shared}
    per_token = keys.integer("num_experts_per_tok", required=True)
    if is_count(experts) and is_count(per_token) and per_token > experts:
        keys.problems.append(
            Problem(
                ("num_experts_per_tok",),
                f"must not exceed num_local_experts ({experts}), got {per_token}",
            )
        )
    return {
        "moe": {
            "num_local_experts": experts,
            "num_experts_per_tok": per_token,
            "expert_intermediate_dim": keys.integer("intermediate_size", required=True),
            "shared_expert_intermediate_dim": shared,
        }
    }


@register(
    "granitemoehybrid",
    per_layer=refused_per_layer("GraniteMoeHybridForCausalLM"),
    architectures={"GraniteMoeHybridForCausalLM": "granitemoehybrid"},
)
def read_granitemoehybrid(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Granite-4.0-H config: Mamba or attention per layer, each with MoE and a shared MLP."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = model_fields(keys, mlp_bias=False)
    fields["mamba_conv_kernel"] = keys.integer("mamba_d_conv", required=True)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    kinds = _kinds(keys, layers)
    ffn = _ffn(keys)
    items: dict[str, dict[str, Any]] = {}
    if "mamba" in kinds:
        items["mamba"] = {"attention": {"mamba": _mamba(keys, fields["hidden_size"])}, "ffn": ffn}
    if "attention" in kinds:
        attn = attention(keys, fields["num_attention_heads"])
        items["attention"] = {"attention": attn, "ffn": ffn}
    return homogeneous(keys, fields, [items[kind] for kind in kinds])
