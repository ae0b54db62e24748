"""Olmo-Hybrid (``olmo_hybrid``): Gated DeltaNet layers and OLMo-3 attention layers.

Follows transformers' ``configuration_olmo_hybrid.py`` / ``modeling_olmo_hybrid.py``,
defaults included:

* ``layer_types`` gives each layer's mixer, ``linear_attention`` or ``full_attention``;
  without it, layer ``i`` is full attention when ``i % 4 == 3`` and linear otherwise, and
  the last layer is full attention when that leaves none. The configuration class refuses a
  model without a linear-attention layer or without a full-attention layer, and so does
  this reader.
* a linear-attention layer is Gated DeltaNet with one projection per tensor (``q_proj``,
  ``k_proj``, ``v_proj``, the output gate ``g_proj``, ``a_proj``, ``b_proj``, ``o_proj``,
  no biases): ``linear_num_key_heads`` key heads (default ``num_attention_heads``) of
  ``linear_key_head_dim`` (default ``int(0.75 * hidden_size / linear_num_key_heads)``),
  ``linear_num_value_heads`` value heads (default ``num_attention_heads``) of
  ``linear_value_head_dim`` (default twice the key width), a causal convolution of
  ``linear_conv_kernel_dim`` (default 4) without bias, and a gated RMSNorm of the value
  width; no KV cache, a fixed-size state. ``linear_allow_neg_eigval`` scales the betas and
  holds no parameters.
* a full-attention layer is OLMo-3's: q/k/v/o projections (biases on all four with
  ``attention_bias``), ``num_key_value_heads`` (default ``num_attention_heads``) of
  ``head_dim`` (default ``hidden_size // num_attention_heads``), one RMSNorm over all query
  heads and one over all key heads (``qk_norm_across_heads``, which the model states for
  its attention layers: Gated DeltaNet layers have no such norms).
* every layer: a SwiGLU MLP of ``intermediate_size`` without biases and two RMSNorms of
  ``hidden_size``. Gated DeltaNet layers put them before the mixer and the MLP, attention
  layers (OLMo-3's post-norm) after: the same parameters either way.

The released checkpoint runs its attention without rotary embeddings (``rope_parameters``
without a ``rope_theta``); rotary embeddings hold no parameters and change no count.

A config of another ``model_type`` read as Olmo-Hybrid (``family="olmo_hybrid"``) must state
the four linear-attention widths (``linear_num_key_heads``, ``linear_key_head_dim``,
``linear_num_value_heads``, ``linear_value_head_dim``): the defaults are OlmoHybridConfig's,
and would turn any config into a hybrid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    FULL,
    GQA_PER_LAYER,
    attention,
    homogeneous,
    layer_count,
    model_fields,
)
from block_config.readers._registry import PerLayer, ReadOptions, register
from block_config.readers.qwen3_next import LINEAR, QWEN_LINEAR_NAMES, mixer_kinds

__all__ = ["read_olmo_hybrid"]

#: OlmoHybridConfig's defaults for the sizes a config may leave out.
_DEFAULTS = {
    "vocab_size": 100352,
    "hidden_size": 3840,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 30,
}

#: What an Olmo-Hybrid layer may override in ``per_layer_config``: its attention and linear
#: attention widths and its MLP width (no ``skip``: transformers' Olmo-Hybrid layers have no
#: subblock to leave out). transformers 5.25's configuration class reads such overrides, but
#: its Olmo-Hybrid modelling code reads the global config in every layer and raises on a
#: config whose layers differ, so a per-layer model's count is not checked against it.
PER_LAYER = PerLayer(
    GQA_PER_LAYER | set(QWEN_LINEAR_NAMES.values()) | {"intermediate_size"},
    skips=(),
    linear_names=QWEN_LINEAR_NAMES,
    globals_from_blocks=lambda blocks: {"layer_types": mixer_kinds(blocks)},
)


def _layer_types(keys: ConfigReader, layers: int) -> list[str]:
    """Each layer's mixer as OlmoHybridConfig sets it, or [] after a problem."""
    value = keys.config.get("layer_types")
    if value is None:
        kinds = [FULL if index % 4 == 3 else LINEAR for index in range(layers)]
        if kinds and FULL not in kinds:
            kinds[-1] = FULL
    elif not isinstance(value, list):
        keys.problems.append(
            Problem(("layer_types",), f"expected a list of str, got {describe(value)}")
        )
        return []
    else:
        if len(value) != layers:
            keys.problems.append(
                Problem(
                    ("layer_types",), f"has {len(value)} items but num_hidden_layers is {layers}"
                )
            )
        kinds = []
        for index, item in enumerate(value):
            if type(item) is str and item in (LINEAR, FULL):
                kinds.append(item)
            else:
                keys.problems.append(
                    Problem(
                        ("layer_types", index),
                        f"expected one of {LINEAR}, {FULL}, got {describe(item)}",
                    )
                )
    for kind, what in ((LINEAR, "linear-attention"), (FULL, "full-attention")):
        if layers and kind not in kinds and not keys.problems:
            keys.problems.append(
                Problem(
                    ("layer_types",),
                    f"Olmo-Hybrid needs at least one {what} layer ({kind!r}), found none",
                )
            )
    return kinds


#: The linear-attention widths a config read as Olmo-Hybrid under another ``model_type``
#: must state: without them, any config would read as a hybrid of OlmoHybridConfig's defaults.
_LINEAR_WIDTHS = (
    "linear_num_key_heads",
    "linear_key_head_dim",
    "linear_num_value_heads",
    "linear_value_head_dim",
)


def _gated_delta_net(keys: ConfigReader, fields: dict[str, Any], *, own: bool) -> dict[str, Any]:
    """The Gated DeltaNet, with OlmoHybridConfig's defaults for its widths when the config
    is ``own`` (its ``model_type`` is ``olmo_hybrid``), else with its widths required."""
    if not own:
        widths = [keys.integer(name, required=True) for name in _LINEAR_WIDTHS]
    else:
        heads = fields["num_attention_heads"]
        key_heads = keys.integer("linear_num_key_heads", default=heads)
        key_width = keys.integer("linear_key_head_dim", default=None)
        if key_width is None and is_count(key_heads) and is_count(fields["hidden_size"]):
            # int(0.75 * hidden_size / key_heads), in integers: floor(3h / (4 * key_heads)).
            key_width = 3 * fields["hidden_size"] // (4 * key_heads)
        value_width = keys.integer(
            "linear_value_head_dim", default=2 * key_width if key_width is not None else None
        )
        value_heads = keys.integer("linear_num_value_heads", default=heads)
        widths = [key_heads, key_width, value_heads, value_width]
    key_heads, key_width, value_heads, value_width = widths
    return {
        "linear_attention": {
            "kind": "gdn",
            "num_key_heads": key_heads,
            "key_head_dim": key_width,
            "num_value_heads": value_heads,
            "value_head_dim": value_width,
            "conv_kernel": keys.integer("linear_conv_kernel_dim", default=4),
            "fused_projections": False,
        }
    }


@register(
    "olmo_hybrid", per_layer=PER_LAYER, architectures={"OlmoHybridForCausalLM": "olmo_hybrid"}
)
def read_olmo_hybrid(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """An Olmo-Hybrid config: Gated DeltaNet and OLMo-3 attention, a dense MLP in each."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {**model_fields(keys, mlp_bias=False), "qk_norm_across_heads": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    kinds = _layer_types(keys, layers)
    ffn = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    own = config.get("model_type") == "olmo_hybrid"
    items = {
        LINEAR: {"attention": _gated_delta_net(keys, fields, own=own), "ffn": ffn},
        FULL: {"attention": attention(keys, fields["num_attention_heads"]), "ffn": ffn},
    }
    return homogeneous(keys, fields, [items[kind] for kind in kinds if kind in items])
