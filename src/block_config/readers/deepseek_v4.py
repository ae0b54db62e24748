"""DeepSeek-V4 (``deepseek_v4``): shared-KV attention over a sliding window with compressed
history, hash-routed and score-routed MoE layers, and hyper-connections.

Follows transformers 5.25's ``configuration_deepseek_v4.py`` / ``modeling_deepseek_v4.py``,
defaults included. Every layer's attention (:class:`~block_config.CompressedAttentionConfig`)
has ``num_attention_heads`` (64) heads of ``head_dim`` (512) and one key-value head that is
both key and value, queries through a latent of ``q_lora_rank`` (1024), an output projected
in ``o_groups`` (8) groups of ``o_lora_rank`` (1024), one sink per head, and a window of
``sliding_window`` (128) tokens. ``layer_types`` says what each layer keeps beside the window:
``sliding_attention`` nothing, ``heavily_compressed_attention`` one entry per
``compress_rates["heavily_compressed_attention"]`` (128) tokens, ``compressed_sparse_attention``
one per ``compress_rates["compressed_sparse_attention"]`` (4) tokens with an indexer of
``index_n_heads`` (64) heads of ``index_head_dim`` (128). Without ``layer_types`` the legacy
per-layer ``compress_ratios`` (0, 4 or 128: sliding, compressed sparse, heavily compressed;
the published configs list the MTP layer's too, read only for the model's layers) give them,
else the class's default: two heavily compressed layers, then heavily compressed and
compressed sparse in turn. ``compress_rate_csa`` / ``compress_rate_hca`` replace the rates.

Every layer's FFN is ``n_routed_experts`` (256) experts of ``moe_intermediate_size`` (2048),
``num_experts_per_tok`` (6) active, and one shared expert as wide (transformers builds one
whatever ``n_shared_experts`` says, so another count is refused); ``intermediate_size`` and
``num_local_experts``, when given, replace the width and the count, as the class's attribute
map does. ``mlp_layer_types`` (else the first ``num_hash_layers`` (3) layers) marks the
``hash_moe`` layers, routed by a table of expert ids per token id (``MoEConfig.hash_routed``:
a buffer, no score-correction bias); the ``moe`` layers' routers have the score-correction
bias (a buffer). ``swiglu_limit``, ``scoring_func`` and the RoPE settings change no count.
The residual stream is ``hc_mult`` (4) hyper-connection streams
(``ModelArchitecture.hyper_connections``, with DeepSeek-V4's learned ``hc_head``).

Refused at their keys: ``num_key_value_heads`` other than 1, ``n_shared_experts`` other than
1, ``mlp_bias`` (transformers would put biases on the shared expert only), a ``head_dim``
times heads that ``o_groups`` does not divide, a layer type whose rate ``compress_rates``
lacks. The multi-token-prediction layers (``num_nextn_predict_layers``) are not counted:
transformers builds none, and no published description of their tensors was found to count
them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, check_int, is_count
from block_config.readers._common import (
    NO_PER_LAYER,
    homogeneous,
    layer_count,
    model_fields,
    routed_experts,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_deepseek_v4"]

#: DeepseekV4Config's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 129280,
    "hidden_size": 4096,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 43,
    "num_attention_heads": 64,
    "head_dim": 512,
    "q_lora_rank": 1024,
    "num_experts_per_tok": 6,
    "n_routed_experts": 256,
    "hc_mult": 4,
    "sliding_window": 128,
    "o_groups": 8,
    "o_lora_rank": 1024,
    "index_n_heads": 64,
    "index_head_dim": 128,
}
SLIDING = "sliding_attention"
CSA = "compressed_sparse_attention"
HCA = "heavily_compressed_attention"
_LAYER_TYPES = (SLIDING, CSA, HCA)
#: The legacy per-layer ``compress_ratios`` values and the layer types they stand for.
_RATIO_TYPES = {0: SLIDING, 4: CSA, 128: HCA}
_DEFAULT_RATES = {CSA: 4, HCA: 128}
_DEFAULT_HASH_LAYERS = 3
_MLP_TYPES = ("hash_moe", "moe")


def _layer_types(keys: ConfigReader, layers: int) -> list[str] | None:
    """Each layer's attention type: ``layer_types``, the legacy ``compress_ratios``, or the
    class's default (None after a problem)."""
    if keys.config.get("layer_types") is not None:
        return keys.name_list("layer_types", layers, _LAYER_TYPES, cut=True)
    ratios = keys.config.get("compress_ratios")
    if ratios is None:
        interleave = [CSA if index % 2 else HCA for index in range(max(layers - 2, 0))]
        return [HCA] * min(layers, 2) + interleave
    if not isinstance(ratios, list):
        keys.problems.append(
            Problem(("compress_ratios",), f"expected a list of int, got {describe(ratios)}")
        )
        return None
    if len(ratios) < layers:
        keys.problems.append(
            Problem(
                ("compress_ratios",), f"has {len(ratios)} items but num_hidden_layers is {layers}"
            )
        )
        return None
    types = []
    for index, ratio in enumerate(ratios):
        kind = _RATIO_TYPES.get(ratio) if type(ratio) is int else None
        if kind is None:
            keys.problems.append(
                Problem(("compress_ratios", index), f"expected 0, 4 or 128, got {describe(ratio)}")
            )
        types.append(kind or SLIDING)
    return types[:layers]


def _rates(keys: ConfigReader, types: list[str]) -> dict[str, int]:
    """The compression rate of each compressed layer type the model uses."""
    given = keys.config.get("compress_rates")
    if given is None:
        rates: Mapping[str, Any] = dict(_DEFAULT_RATES)
    elif isinstance(given, Mapping):
        rates = given
    else:
        keys.problems.append(
            Problem(("compress_rates",), f"expected an object, got {describe(given)}")
        )
        return {}
    legacy = {CSA: "compress_rate_csa", HCA: "compress_rate_hca"}
    found: dict[str, int] = {}
    for kind in (CSA, HCA):
        if kind not in types:
            continue
        if keys.config.get(legacy[kind]) is not None:
            rate = keys.integer(legacy[kind])
        elif kind not in rates:
            keys.problems.append(
                Problem(
                    ("compress_rates", kind),
                    f"missing: layer {types.index(kind)} is {kind}, which needs its rate",
                )
            )
            continue
        else:
            rate = rates[kind]
            if not check_int(rate, ("compress_rates", kind), keys.problems):
                continue
        if type(rate) is int:
            found[kind] = rate
    return found


def _mlp_types(keys: ConfigReader, layers: int) -> list[str] | None:
    """Each layer's MoE kind: ``mlp_layer_types``, else the first ``num_hash_layers`` layers
    hash-routed."""
    if keys.config.get("mlp_layer_types") is not None:
        return keys.name_list("mlp_layer_types", layers, _MLP_TYPES, cut=True)
    hashed = keys.integer("num_hash_layers", default=_DEFAULT_HASH_LAYERS, minimum=0)
    if type(hashed) is not int:
        return None
    return ["hash_moe" if index < hashed else "moe" for index in range(layers)]


def _attentions(
    keys: ConfigReader, types: list[str], rates: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """One attention item per layer type."""
    heads = keys.integer("num_attention_heads", required=True)
    head_dim = keys.integer("head_dim", required=True)
    groups = keys.integer("o_groups", required=True)
    if is_count(heads) and is_count(head_dim) and is_count(groups) and (heads * head_dim) % groups:
        keys.problems.append(
            Problem(
                ("o_groups",),
                f"{groups} does not divide num_attention_heads * head_dim ({heads * head_dim}): "
                "the output projection's groups would not be whole",
            )
        )
    shape = {
        "q_lora_rank": keys.integer("q_lora_rank", required=True),
        "o_groups": groups,
        "o_lora_rank": keys.integer("o_lora_rank", required=True),
    }
    window = keys.integer("sliding_window", required=True)
    made: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(types):
        compressed: dict[str, Any] = dict(shape)
        if kind in (CSA, HCA):
            compressed["compress_rate"] = rates.get(kind)
        if kind == CSA:
            compressed["index_n_heads"] = keys.integer("index_n_heads", required=True)
            compressed["index_head_dim"] = keys.integer("index_head_dim", required=True)
        made[kind] = {
            "num_key_value_heads": 1,
            "sliding_window": window,
            "compressed_attention": compressed,
        }
    return made


def _refusals(keys: ConfigReader) -> None:
    """The settings transformers would not build as the config says, refused at their keys."""
    kv = keys.integer("num_key_value_heads", default=1)
    if kv is not None and kv != 1:
        keys.problems.append(
            Problem(
                ("num_key_value_heads",),
                f"not supported: {kv}; DeepSeek-V4's attention has one key-value head "
                "(transformers builds one whatever this says)",
            )
        )
    shared = keys.integer("n_shared_experts", default=1, minimum=0)
    if shared is not None and shared != 1:
        keys.problems.append(
            Problem(
                ("n_shared_experts",),
                f"not supported: {shared}; transformers builds one shared expert whatever "
                "this says",
            )
        )
    if keys.boolean("mlp_bias") is True:
        keys.problems.append(
            Problem(
                ("mlp_bias",),
                "not supported: true; transformers would put biases on the shared expert only, "
                "which is not modelled",
            )
        )


@register(
    "deepseek_v4",
    per_layer=NO_PER_LAYER,
    architectures={"DeepseekV4ForCausalLM": "deepseek_v4"},
    # RoPE's slice has no parameters; the MTP layers are not built (see above).
    unused=("qk_rope_head_dim", "num_nextn_predict_layers"),
)
def read_deepseek_v4(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A DeepSeek-V4 config: each layer's attention type and MoE kind, hyper-connections."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys, attention_bias=None, mlp_bias=False),
        "attention_sinks": True,
        "router_score_correction_bias": True,
        "hyper_connections": keys.integer("hc_mult", required=True),
    }
    _refusals(keys)
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    types = _layer_types(keys, layers)
    mlp_types = _mlp_types(keys, layers)
    size_key = "intermediate_size" if "intermediate_size" in keys.config else None
    experts_key = "num_local_experts" if "num_local_experts" in keys.config else None
    moe = routed_experts(
        keys, experts_key or "n_routed_experts", size_key or "moe_intermediate_size", None
    )
    moe["moe"]["shared_expert_intermediate_dim"] = moe["moe"]["expert_intermediate_dim"]
    hashed = {"moe": {**moe["moe"], "hash_routed": True}}
    if types is None or mlp_types is None:
        raise BlockConfigError(keys.problems)
    attentions = _attentions(keys, types, _rates(keys, types))
    made: dict[tuple[str, str], dict[str, Any]] = {}
    items = [
        made.setdefault(
            (kind, mlp),
            {"attention": attentions[kind], "ffn": hashed if mlp == "hash_moe" else moe},
        )
        for kind, mlp in zip(types, mlp_types, strict=True)
    ]
    return homogeneous(keys, fields, items)
