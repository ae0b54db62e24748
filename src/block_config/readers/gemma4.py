"""Gemma 4 (``gemma4_text``; ``gemma4``, the multimodal model, through its ``text_config``):
sliding-window and global layers, wider heads on the global ones, the last layers reading
an earlier layer's K/V, per-layer embeddings, and routed experts beside the dense MLP.

Follows transformers' ``configuration_gemma4.py`` / ``modeling_gemma4.py`` (5.25), defaults
included: ``vocab_size`` 262144, ``hidden_size`` 2304, ``intermediate_size`` 9216, 30
layers, 8 heads, ``num_key_value_heads`` 4, ``head_dim`` 256, ``sliding_window`` 512,
``tie_word_embeddings`` true (the wrapper's too), ``hidden_size_per_layer_input`` 256,
``vocab_size_per_layer_input`` 262144, ``num_kv_shared_layers`` 0. ``layer_types`` default
to five sliding layers to one global; the last layer is always global.

* A global layer's head width is ``global_head_dim`` (default 512) unless the config carries
  ``per_layer_config``, which the class then reads instead (it turns the legacy key into
  per-layer overrides of the global layers).
* The last ``num_kv_shared_layers`` layers read the K/V of the last earlier layer of their
  type that computes its own (``kv_source_layer``): no k/v projections, no key norm, no KV
  cache. With ``use_double_wide_mlp`` their MLP is ``2 * intermediate_size`` wide.
* Each layer: four RMSNorms (``sandwich_norms``), an RMSNorm of the head width on q and on k
  (``qk_norm``; the value norm has no weight), a gated GeLU MLP, and the per-layer-embedding
  gate, projection and norm (``per_layer_input_size``).
* ``use_bidirectional_attention`` ``"all"`` halves the window as the class does
  (``window // 2 + 1``).
* ``enable_moe_block``: every layer adds ``num_experts`` gated GeLU experts of
  ``moe_intermediate_size`` (``top_k_experts`` per token; the class has no defaults for the
  three) beside its dense MLP, read as an MoE whose shared expert is that MLP (no gate on it;
  double-wide where the MLP is). The router's input scale and per-expert scales
  (``router_scales``) and the three norms around the two branches (``moe_branch_norms``)
  are model-wide facts.
* ``attention_k_eq_v``: the global layers have no ``v_proj``; their values are their keys
  (``values_from_keys``), and they have ``num_global_key_value_heads`` KV heads where the
  config gives it and has no ``per_layer_config`` (without ``attention_k_eq_v`` the class
  ignores that key, and so does the reader). Their cache still holds keys and values apart.
  A KV-sharing layer has no k/v projections either way.

The vision and audio towers of ``gemma4`` are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    FULL,
    GQA_PER_LAYER_FIXED_HEADS,
    SLIDING,
    attention,
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
)
from block_config.readers._registry import (
    PerLayer,
    ReadOptions,
    register,
    register_text_wrapper,
)

__all__ = ["read_gemma4_text"]

#: Gemma4TextConfig's defaults for the sizes.
_DEFAULTS = {
    "vocab_size": 262144,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 30,
    "num_attention_heads": 8,
}
_DEFAULT_PATTERN = 6
_DEFAULT_WINDOW = 512
_DEFAULT_KV_HEADS = 4
_DEFAULT_GLOBAL_HEAD_DIM = 512
_DEFAULT_PER_LAYER_INPUT = 256
_DEFAULT_PER_LAYER_VOCAB = 262144


@register(
    "gemma4_text",
    per_layer=PerLayer(GQA_PER_LAYER_FIXED_HEADS | {"sliding_window"}),
    architectures={"Gemma4ForCausalLM": "gemma4_text"},
)
def read_gemma4_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Gemma 4 text config: its layer types, KV sharing and per-layer embeddings."""
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys, tie_word_embeddings=True, head_dim=256, mlp_bias=False),
        "sandwich_norms": True,
        "qk_norm": True,
    }
    per_layer_input = keys.integer(
        "hidden_size_per_layer_input", default=_DEFAULT_PER_LAYER_INPUT, minimum=0
    )
    per_layer_vocab = keys.integer("vocab_size_per_layer_input", default=_DEFAULT_PER_LAYER_VOCAB)
    moe_block = keys.boolean("enable_moe_block") is True
    if moe_block:
        fields["router_scales"] = True
        fields["moe_branch_norms"] = True
    if per_layer_input:  # 0 or null: the model has none
        fields["per_layer_input_size"] = per_layer_input
        fields["per_layer_input_vocab_size"] = per_layer_vocab
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    return homogeneous(keys, fields, _layers(keys, fields, layers, options))


def _layers(
    keys: ConfigReader, fields: dict[str, Any], layers: int, options: ReadOptions
) -> list[dict[str, Any]]:
    """One item per layer: window, head width, K/V source and MLP width."""
    types = layer_types(keys, layers)
    if types is None:
        types = [FULL if (i + 1) % _DEFAULT_PATTERN == 0 else SLIDING for i in range(layers)]
    if types:
        types[-1] = FULL  # as the class forces it
    window = keys.integer("sliding_window", default=_DEFAULT_WINDOW)
    if keys.config.get("use_bidirectional_attention") == "all" and window is not None:
        window = window // 2 + 1
    global_head_dim = keys.integer("global_head_dim", default=_DEFAULT_GLOBAL_HEAD_DIM)
    shared = keys.integer("num_kv_shared_layers", default=0, minimum=0) or 0
    double_wide = keys.boolean("use_double_wide_mlp") is True
    width = keys.integer("intermediate_size", required=True)
    base = attention(keys, fields["num_attention_heads"], kv_default=_DEFAULT_KV_HEADS)
    moe = _moe(keys) if fields.get("router_scales") else None
    global_attention = dict(base)
    if keys.boolean("attention_k_eq_v") is True:
        # The class reads num_global_key_value_heads only then, and only when it builds the
        # global layers' overrides itself (no per_layer_config).
        global_kv = keys.integer("num_global_key_value_heads", default=None)
        heads = fields["num_attention_heads"]
        if is_count(global_kv) and is_count(heads) and heads % global_kv:
            message = f"{global_kv} does not divide num_attention_heads ({heads})"
            keys.problems.append(Problem(("num_global_key_value_heads",), message))
            raise BlockConfigError(keys.problems)
        if global_kv is not None and not options.has_per_layer_config:
            global_attention["num_key_value_heads"] = global_kv
        global_attention["values_from_keys"] = True
    sources = _kv_sources(keys, types, shared)
    items = []
    for index, kind in enumerate(types):
        attn = dict(base if kind == SLIDING else global_attention)
        if kind == SLIDING:
            attn["sliding_window"] = window
        elif not options.has_per_layer_config:
            attn["head_dim"] = global_head_dim
        source = sources[index]
        if source is not None:
            # No k/v projections at all: the layer reads its source's keys and values.
            attn.pop("values_from_keys", None)
            attn["kv_source_layer"] = source
        wide = double_wide and source is not None and width is not None
        mlp = 2 * width if wide and width is not None else width
        ffn: dict[str, Any] = {"intermediate_size": mlp}
        if moe is not None:  # the dense MLP runs beside the experts: the shared expert
            ffn = {"moe": {**moe, "shared_expert_intermediate_dim": mlp}}
        items.append({"attention": attn, "ffn": ffn})
    return items


def _moe(keys: ConfigReader) -> dict[str, Any]:
    """The routed experts of ``enable_moe_block``: ``num_experts`` of
    ``moe_intermediate_size``, ``top_k_experts`` per token (the class has no defaults for
    them, and the model cannot be built without them)."""
    experts = keys.integer("num_experts", required=True)
    per_token = keys.integer("top_k_experts", required=True)
    if is_count(experts) and is_count(per_token) and per_token > experts:
        keys.problems.append(
            Problem(("top_k_experts",), f"must not exceed num_experts ({experts}), got {per_token}")
        )
    return {
        "num_local_experts": experts,
        "num_experts_per_tok": per_token,
        "expert_intermediate_dim": keys.integer("moe_intermediate_size", required=True),
    }


def _kv_sources(keys: ConfigReader, types: list[str], shared: int) -> list[int | None]:
    """Each layer's K/V source: for the last ``shared`` layers, the last earlier layer of
    the same type that computes its own; None for the others."""
    layers = len(types)
    if shared > layers or (shared and shared == layers):
        keys.problems.append(
            Problem(
                ("num_kv_shared_layers",),
                f"is {shared} of {layers} layers: the layers reading another's K/V need an "
                "earlier one of their type computing its own",
            )
        )
        return [None] * layers
    first = layers - shared
    last_own: dict[str, int] = {}
    for index in range(first):
        last_own[types[index]] = index
    sources: list[int | None] = [None] * layers
    for index in range(first, layers):
        source = last_own.get(types[index])
        if source is None:
            keys.problems.append(
                Problem(
                    ("num_kv_shared_layers",),
                    f"layer {index} ({types[index]}) would read the K/V of an earlier "
                    f"{types[index]} layer, and none of the first {first} is one",
                )
            )
        sources[index] = source
    return sources


register_text_wrapper("gemma4", text_model_type="gemma4_text", tie_word_embeddings=True)
