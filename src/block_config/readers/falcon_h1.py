"""Falcon-H1 (``falcon_h1``): attention and a Mamba-2 mixer side by side in every layer, then
a dense MLP.

Follows transformers' ``configuration_falcon_h1.py`` / ``modeling_falcon_h1.py``, defaults
included. Every layer is the same "hybrid" layer (transformers reads no per-layer list): one
RMSNorm before the two mixers, which run in parallel on its output
(``parallel_blocks_share_input_norm``), then one before the MLP:

* grouped-query attention with ``num_key_value_heads`` (8) KV heads of ``head_dim`` (default
  ``hidden_size // num_attention_heads``), biases on q, k, v and o with ``attention_bias``;
* a Mamba-2 mixer, written as the layer's parallel block, of ``mamba_n_heads`` (128) heads of
  ``mamba_d_head`` (``"auto"``: the inner width over the heads), ``mamba_n_groups`` (1)
  groups, state ``mamba_d_state`` (256) and conv1d of ``mamba_d_conv`` (4) with a bias; its
  inner width is ``mamba_d_ssm`` (1024), or ``mamba_expand * hidden_size`` when that is null;
  its gated RMSNorm only with ``mamba_rms_norm`` (default false: ``mamba_without_norm``);
* a SwiGLU MLP of ``intermediate_size`` (biases with ``mlp_bias``).

The µP multipliers have no parameters (``mup_vector`` is a buffer). Biases on the Mamba
in_proj (``mamba_proj_bias``) or out_proj (``projectors_bias``), and a conv1d without bias,
are refused rather than miscounted. Every layer keeps a KV cache and a Mamba state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    NO_OP,
    attention,
    homogeneous,
    layer_count,
    model_fields,
    refused_per_layer,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_falcon_h1"]

#: FalconH1Config's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 128000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "mamba_d_ssm": 1024,
    "mamba_n_heads": 128,
    "mamba_n_groups": 1,
    "mamba_d_state": 256,
    "mamba_d_conv": 4,
    "mamba_expand": 2,
}
#: Switches of the Mamba mixer this reader does not count: key, value that is modelled,
#: what the other value means.
_UNMODELLED = (
    ("mamba_proj_bias", False, "a bias on the Mamba in_proj"),
    ("projectors_bias", False, "a bias on the Mamba out_proj"),
    ("mamba_conv_bias", True, "a Mamba conv1d without bias"),
)


def _mamba(keys: ConfigReader, hidden: Any) -> dict[str, Any]:
    heads = keys.integer("mamba_n_heads", required=True)
    if keys.config.get("mamba_d_ssm") is None:
        expand = keys.integer("mamba_expand", required=True)
        inner = expand * hidden if is_count(expand) and is_count(hidden) else None
        inner_key = "mamba_expand x hidden_size"
    else:
        inner = keys.integer("mamba_d_ssm", required=True)
        inner_key = "mamba_d_ssm"
    head_dim: Any = keys.config.get("mamba_d_head", "auto")
    if head_dim == "auto":
        head_dim = inner // heads if is_count(inner) and is_count(heads) else None
    else:
        head_dim = keys.integer("mamba_d_head", required=True)
    if is_count(head_dim) and is_count(heads) and is_count(inner) and head_dim * heads != inner:
        keys.problems.append(
            Problem(
                ("mamba_d_head",),
                f"{head_dim} x mamba_n_heads ({heads}) is not {inner_key} ({inner}), the Mamba "
                "mixer's inner width",
            )
        )
    for key, modelled, meaning in _UNMODELLED:
        if keys.boolean(key, modelled) is not modelled:
            keys.problems.append(Problem((key,), f"not supported: {meaning} is not counted"))
    return {
        "state_dim": keys.integer("mamba_d_state", required=True),
        "num_heads": heads,
        "head_dim": head_dim,
        "num_groups": keys.integer("mamba_n_groups", required=True),
    }


@register(
    "falcon_h1",
    per_layer=refused_per_layer("FalconH1ForCausalLM"),
    architectures={"FalconH1ForCausalLM": "falcon_h1"},
    unused=("mamba_expand",),
)
def read_falcon_h1(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Falcon-H1 config: attention beside Mamba-2, then an MLP, in every layer."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys),
        "mamba_conv_kernel": keys.integer("mamba_d_conv", required=True),
        "parallel_blocks_share_input_norm": True,
        "mamba_without_norm": not keys.boolean("mamba_rms_norm"),
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    mamba = {"attention": {"mamba": _mamba(keys, fields["hidden_size"])}, "ffn": NO_OP}
    item = {
        "attention": attention(keys, fields["num_attention_heads"], kv_absent=8),
        "ffn": {"intermediate_size": keys.integer("intermediate_size", required=True)},
        "parallel_blocks": [mamba],
    }
    return homogeneous(keys, fields, [item] * layers)
