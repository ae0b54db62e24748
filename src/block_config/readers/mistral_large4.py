"""Mistral-Large-4 (``mistral_large4_text``, the language model of a ``mistral_large4``
wrapper): MLA without a query latent, a sparse-attention indexer, NoPE layers and layers that
read another layer's latent.

Follows transformers' ``configuration_mistral_large4.py`` / ``modeling_mistral_large4.py``,
defaults included (the Mistral-Large-4 sizes: ``hidden_size`` 6144, 72 layers, 64 heads,
``kv_lora_rank`` 512, ``qk_nope_head_dim`` 64, ``qk_rope_head_dim`` 64, ``v_head_dim`` 128,
an indexer of 32 heads of 128, 128 experts of 6144 with 4 active and 1 shared expert, one
dense layer of 24576):

* every layer is MLA with one query projection from the hidden state (there is no
  ``q_lora_rank``; the key is not read), ``kv_a_proj_with_mqa`` and ``o_proj`` biased with
  ``attention_bias``;
* ``no_rope_layers`` (1: RoPE, 0: NoPE; default every ``no_rope_layer_interval``-th layer,
  4, is NoPE): a NoPE layer folds the RoPE slice into the nope part of each head, so its
  latent has no rotary key (``qk_rope_head_dim`` 0, ``qk_nope_head_dim`` the sum);
* ``indexer_types`` (``full`` / ``shared``; default from ``index_topk_pattern``, else
  ``index_topk_freq`` and ``index_skip_topk_offset`` as GLM-5): a ``full`` layer has an
  indexer of ``index_n_heads`` heads of ``index_head_dim`` whose queries come from the hidden
  state through a LayerNorm of its own (``index_from_hidden``); a ``shared`` layer has none
  and keeps no indexer keys;
* ``kv_source_layers`` (default: each layer its own): a layer naming an earlier layer reads
  that layer's latent (``kv_source_layer``), has no ``kv_a_proj_with_mqa`` and no
  ``kv_a_layernorm`` and caches no latent (its indexer keys only, when ``full``). As the
  configuration class checks, a source is an earlier layer that is its own source. transformers
  hands the latent on by RoPE kind (the last shared latent of a RoPE or of a NoPE layer), so a
  source of the other kind, or one another storing layer of the same kind comes between, is
  refused: the layer would not read the latent its entry names;
* each attention and each indexer scales its queries per head by the log of the position
  (``log_position_scaling``: a scale and a bias per head); LeRoPE learns one fp32 scale per
  rotary frequency (``rotary_emb.alpha``: ``learned_rope_frequencies``,
  ``qk_rope_head_dim / 2``);
* ``mlp_layer_types`` (``dense`` / ``sparse``; default the first ``first_k_dense_replace``
  layers dense): a SwiGLU MLP of ``intermediate_size``, or ``n_routed_experts`` experts
  (``num_experts``, then ``num_local_experts``, take its place when given, as in the class)
  of ``moe_intermediate_size``, ``num_experts_per_tok`` active, a shared expert of
  ``n_shared_experts * moe_intermediate_size``, behind a router without bias whose weights
  transformers keeps in fp32 (``router_fp32``).

``final_logit_softcapping`` has no parameters. transformers keeps ``indexer.weights_proj`` in
fp32 only when the model is loaded in fp16 (``_keep_in_fp32_modules``), so its weight bytes
are counted at the model's dtype. ``layer_types`` other than
``indexed_attention``, a ``partial_rotary_factor`` other than 1 in ``rope_parameters`` and
``qk_rope_head_dim`` 0 are refused. A config of another ``model_type`` read as this family
(``family=``) gets none of the defaults: it must state every size. The multi-token-prediction
head the checkpoint ships (``mtp_dspark``) is not built by transformers and not counted, nor
is the wrapper's vision tower.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader
from block_config.readers._common import (
    homogeneous,
    layer_count,
    layer_types,
    model_fields,
    refused_per_layer,
    routed_experts,
)
from block_config.readers._registry import ReadOptions, register, register_text_wrapper
from block_config.readers.glm_moe_dsa import indexer_flags

__all__ = ["read_mistral_large4_text"]

#: MistralLarge4TextConfig's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 204800,
    "hidden_size": 6144,
    "intermediate_size": 24576,
    "moe_intermediate_size": 6144,
    "num_hidden_layers": 72,
    "num_attention_heads": 64,
    "n_routed_experts": 128,
    "num_experts_per_tok": 4,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 64,
    "index_n_heads": 32,
    "index_head_dim": 128,
}


def _int_list(keys: ConfigReader, key: str, layers: int, *, exact: bool) -> list[int] | None:
    """A list of ints, one per layer (at least one per layer unless ``exact``); None when
    absent or null, or after recording a problem."""
    value = keys.config.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        keys.problems.append(Problem((key,), f"expected a list of int, got {describe(value)}"))
        return None
    before = len(keys.problems)
    if len(value) < layers or (exact and len(value) != layers):
        keys.problems.append(
            Problem((key,), f"has {len(value)} items but num_hidden_layers is {layers}")
        )
    for index, item in enumerate(value):
        if type(item) is not int:
            keys.problems.append(Problem((key, index), f"expected int, got {describe(item)}"))
    return value if len(keys.problems) == before else None


def _uses_rope(keys: ConfigReader, layers: int) -> list[bool]:
    """Whether each layer applies RoPE (``no_rope_layers``, or every
    ``no_rope_layer_interval``-th layer NoPE)."""
    flags = _int_list(keys, "no_rope_layers", layers, exact=False)
    if flags is not None:
        for index, flag in enumerate(flags):
            if flag not in (0, 1):
                keys.problems.append(
                    Problem(("no_rope_layers", index), f"expected 0 (NoPE) or 1 (RoPE), got {flag}")
                )
        return [flag == 1 for flag in flags[:layers]]
    interval = keys.integer("no_rope_layer_interval", default=4)
    every = interval if type(interval) is int else 4
    return [(index + 1) % every != 0 for index in range(layers)]


def _kv_sources(keys: ConfigReader, layers: int, rope: list[bool]) -> list[int]:
    """Each layer's ``kv_source_layers`` entry (its own index by default), checked as the
    configuration class checks it and against how the modelling code hands latents on."""
    sources = _int_list(keys, "kv_source_layers", layers, exact=True)
    if sources is None:
        return list(range(layers))
    ok = True
    for index, source in enumerate(sources):
        where = ("kv_source_layers", index)
        if source < 0 or source > index or sources[source] != source:
            keys.problems.append(
                Problem(
                    where,
                    f"layer {index} must read the K/V of an earlier layer that owns its cache "
                    f"(is its own source), got {source}",
                )
            )
            ok = False
    if not ok:
        return list(range(layers))
    for index, source in enumerate(sources):
        if source == index:
            continue
        where = ("kv_source_layers", index)
        if rope[source] != rope[index]:
            kinds = ("RoPE", "NoPE") if rope[index] else ("NoPE", "RoPE")
            keys.problems.append(
                Problem(
                    where,
                    f"not supported: {kinds[0]} layer {index} reading the latent of {kinds[1]} "
                    f"layer {source}; transformers hands latents on by RoPE kind",
                )
            )
            continue
        # The layers of the same RoPE kind between the source and this layer that store a
        # latent for a later layer: transformers reads the last one stored.
        for between in range(source + 1, index):
            stores = sources[between] == between and between in sources[between + 1 :]
            if stores and rope[between] == rope[index]:
                keys.problems.append(
                    Problem(
                        where,
                        f"not supported: layer {between} stores its latent after layer "
                        f"{source}, so transformers' layer {index} would read layer "
                        f"{between}'s, not layer {source}'s",
                    )
                )
                break
    return sources


def _mlp_types(keys: ConfigReader, layers: int) -> list[str]:
    """``dense`` or ``sparse`` per layer: ``mlp_layer_types``, else the first
    ``first_k_dense_replace`` (1) layers dense."""
    value = keys.config.get("mlp_layer_types")
    if value is None:
        first = keys.integer("first_k_dense_replace", default=1, minimum=0)
        dense = min(first, layers) if type(first) is int else 0
        return ["dense"] * dense + ["sparse"] * (layers - dense)
    if not isinstance(value, list):
        keys.problems.append(
            Problem(("mlp_layer_types",), f"expected a list of str, got {describe(value)}")
        )
        return ["sparse"] * layers
    if len(value) != layers:
        keys.problems.append(
            Problem(
                ("mlp_layer_types",),
                f"has {len(value)} items but num_hidden_layers is {layers}",
            )
        )
    for index, item in enumerate(value):
        if item not in ("dense", "sparse") or type(item) is not str:
            keys.problems.append(
                Problem(
                    ("mlp_layer_types", index), f"expected dense or sparse, got {describe(item)}"
                )
            )
    return [item if item == "dense" else "sparse" for item in value]


def _rope_frequencies(keys: ConfigReader, rope_dim: int | None) -> int | None:
    """LeRoPE's learned scales: one per rotary frequency of ``qk_rope_head_dim``."""
    parameters = keys.config.get("rope_parameters")
    if isinstance(parameters, Mapping):
        factor = parameters.get("partial_rotary_factor", 1.0)
        if factor != 1.0 or type(factor) is bool:
            keys.problems.append(
                Problem(
                    ("rope_parameters", "partial_rotary_factor"),
                    f"not supported: {describe(factor)} (LeRoPE's scales are counted for the "
                    "whole rotary slice)",
                )
            )
    elif parameters is not None:
        keys.problems.append(
            Problem(("rope_parameters",), f"expected an object or null, got {describe(parameters)}")
        )
    return None if rope_dim is None else (rope_dim + 1) // 2


def _experts_key(config: Mapping[str, Any]) -> str:
    """The key the expert count is read from: ``num_experts`` when given (the class's
    alias), else ``num_local_experts`` (its attribute map), else ``n_routed_experts``."""
    if config.get("num_experts") is not None:
        return "num_experts"
    if "num_local_experts" in config:
        return "num_local_experts"
    return "n_routed_experts"


# transformers 5.25 has no causal-LM class of the text model alone: no architecture is named.
# Its modelling code never reads num_key_value_heads (MLA expands one latent for every head).
@register(
    "mistral_large4_text",
    per_layer=refused_per_layer("MistralLarge4TextModel"),
    unused=("num_key_value_heads",),
)
def read_mistral_large4_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Mistral-Large-4 text config: MLA with an indexer, NoPE and KV-sharing layers, dense
    then MoE FFNs."""
    # The class's defaults fill in a Mistral-Large-4 config; one of another family read as
    # Mistral-Large-4 (family=...) must state every size the family needs.
    own = config.get("model_type", options.model_type) == "mistral_large4_text"
    keys = ConfigReader({**_DEFAULTS, **config} if own else dict(config))
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    fields = {**model_fields(keys, mlp_bias=False), "log_position_scaling": True}
    layer_types(keys, layers, ("indexed_attention",))
    rope_dim = keys.integer("qk_rope_head_dim", required=True)
    nope_dim = keys.integer("qk_nope_head_dim", required=True)
    fields["learned_rope_frequencies"] = _rope_frequencies(keys, rope_dim)
    indexer = {
        "index_n_heads": keys.integer("index_n_heads", required=True),
        "index_head_dim": keys.integer("index_head_dim", required=True),
        "index_from_hidden": True,
    }
    kv_lora_rank = keys.integer("kv_lora_rank", required=True)
    v_head_dim = keys.integer("v_head_dim", required=True)
    rope = _uses_rope(keys, layers)
    full = indexer_flags(keys, layers)
    sources = _kv_sources(keys, layers, rope)
    kinds = _mlp_types(keys, layers)
    moe = routed_experts(keys, _experts_key(keys.config), "moe_intermediate_size", None)
    shared_count = keys.integer("n_shared_experts", default=1, minimum=0)
    width = moe["moe"]["expert_intermediate_dim"]
    if type(width) is int and type(shared_count) is int:
        moe["moe"]["shared_expert_intermediate_dim"] = shared_count * width
    dense: dict[str, Any] = {}
    if "dense" in kinds:
        dense = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    fields["router_fp32"] = "sparse" in kinds
    if keys.problems or rope_dim is None or nope_dim is None:
        raise BlockConfigError(keys.problems)
    made: dict[tuple[bool, bool, int | None, bool], dict[str, Any]] = {}
    items = []
    for index in range(layers):
        uses_rope = rope[index] if index < len(rope) else True
        indexed = full[index] if index < len(full) else True
        source = sources[index] if sources[index] != index else None
        key = (uses_rope, indexed, source, kinds[index] == "dense")
        if key not in made:
            mla: dict[str, Any] = {
                "kv_lora_rank": kv_lora_rank,
                # A NoPE layer's key is all "nope": the rotary slice is folded into it.
                "qk_nope_head_dim": nope_dim + (0 if uses_rope else rope_dim),
                "qk_rope_head_dim": rope_dim if uses_rope else 0,
                "v_head_dim": v_head_dim,
                "q_lora_rank": None,
                **(indexer if indexed else {}),
            }
            attention: dict[str, Any] = {"mla": mla}
            if source is not None:
                attention["kv_source_layer"] = source
            made[key] = {"attention": attention, "ffn": dense if key[3] else moe}
        items.append(made[key])
    return homogeneous(keys, fields, items)


register_text_wrapper("mistral_large4", text_model_type="mistral_large4_text")
