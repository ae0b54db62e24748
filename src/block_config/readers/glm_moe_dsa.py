"""GLM-5 (``glm_moe_dsa``): DeepSeek-V3.2's layers with GLM's sizes, the indexer in the layers
``indexer_types`` marks ``full``.

Follows transformers' ``configuration_glm_moe_dsa.py`` / ``modeling_glm_moe_dsa.py``,
defaults included (the GLM-5 sizes: ``hidden_size`` 6144, 78 layers, 64 heads,
``q_lora_rank`` 2048, ``kv_lora_rank`` 512, ``qk_nope_head_dim`` 192, ``qk_rope_head_dim`` 64,
``v_head_dim`` 256, 256 experts of 2048 with 8 active and 1 shared, 3 dense layers of 12288,
an indexer of 32 heads of 128). Layers and FFNs as
:mod:`block_config.readers.deepseek_v32`; a layer whose ``indexer_types`` entry is ``shared``
reuses an earlier layer's token choice and has no indexer of its own, no indexer parameters
and no indexer keys. ``indexer_types`` defaults to ``index_topk_pattern`` (a string of ``F``
and ``S``, or a list), else to a schedule: layer ``i`` is full when
``max(i - index_skip_topk_offset + 1, 0)`` (offset 2) is a multiple of ``index_topk_freq``
(1, so every layer).

The multi-token-prediction layers (``num_nextn_predict_layers``, default 0: the configuration
class has none), which transformers does not build, are read as
:class:`~block_config.MTPLayers` as vLLM builds GLM-5's (``deepseek_mtp.py``; the checkpoint's
``model.layers.78.*``): ``enorm``, ``hnorm``, ``eh_proj``, one MoE decoder layer with its own
indexer whatever ``indexer_types`` says of the others, and ``shared_head.norm``; counted apart
from the model. Their embedding and head are counted as the model's, as for GLM-4.5
(:mod:`block_config.readers.glm4_moe`): no published index of GLM-5's checkpoint was located
to say whether it stores copies in the MTP layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader
from block_config.readers._common import layer_count, model_fields, refused_per_layer, with_mtp
from block_config.readers._registry import ReadOptions, register
from block_config.readers.deepseek_v32 import dsa_layers

__all__ = ["indexer_flags", "read_glm_moe_dsa"]

#: GlmMoeDsaConfig's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 154880,
    "hidden_size": 6144,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 78,
    "num_attention_heads": 64,
    "n_routed_experts": 256,
    "num_experts_per_tok": 8,
    "kv_lora_rank": 512,
    "q_lora_rank": 2048,
    "qk_rope_head_dim": 64,
    "v_head_dim": 256,
    "qk_nope_head_dim": 192,
    "index_n_heads": 32,
    "index_head_dim": 128,
}
_PATTERN = {"F": "full", "S": "shared"}


def indexer_flags(keys: ConfigReader, layers: int) -> list[bool]:
    """Whether each layer runs its own indexer (``full``); problems recorded in ``keys``."""
    config = keys.config
    key = "indexer_types"
    names: Any = config.get(key)
    if names is None and config.get("index_topk_pattern") is not None:
        key = "index_topk_pattern"
        names = config[key]
        if type(names) is str:  # "FSSF...": one letter per layer
            for index, char in enumerate(names):
                if char not in _PATTERN:
                    keys.problems.append(
                        Problem((key, index), f"expected F or S, got {describe(char)}")
                    )
            names = [_PATTERN.get(char, "full") for char in names]
    if names is None:
        freq = keys.integer("index_topk_freq", default=1, minimum=0)
        offset = keys.integer("index_skip_topk_offset", default=2, minimum=0)
        freq = max(freq, 1) if type(freq) is int else 1
        offset = offset if type(offset) is int else 2
        return [max(index - offset + 1, 0) % freq == 0 for index in range(layers)]
    if not isinstance(names, list):
        keys.problems.append(Problem((key,), f"expected a list of str, got {describe(names)}"))
        return [True] * layers
    if len(names) != layers:
        keys.problems.append(
            Problem((key,), f"has {len(names)} items but num_hidden_layers is {layers}")
        )
    for index, name in enumerate(names):
        if name not in ("full", "shared"):
            keys.problems.append(
                Problem((key, index), f"expected full or shared, got {describe(name)}")
            )
    return [name == "full" for name in names]


@register(
    "glm_moe_dsa",
    per_layer=refused_per_layer("GlmMoeDsaForCausalLM"),
    architectures={"GlmMoeDsaForCausalLM": "glm_moe_dsa"},
    unused=("num_key_value_heads",),
)
def read_glm_moe_dsa(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A GLM-5 config: MLA, the indexer where ``indexer_types`` says, dense then MoE layers."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {**model_fields(keys, mlp_bias=False), "router_score_correction_bias": True}
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    items, mtp_item = dsa_layers(keys, indexer_flags(keys, layers))
    key = "num_nextn_predict_layers"
    return with_mtp(keys, fields, items, (key, keys.integer(key, default=0, minimum=0), [mtp_item]))
