"""MiniMax-M2 (``minimax_m2``; M2.1, M2.5 and M2.7 share the architecture): routed experts in
every layer, QK-norm across all heads.

Follows transformers' ``configuration_minimax_m2.py`` / ``modeling_minimax_m2.py``, defaults
included: grouped-query attention with ``num_key_value_heads`` (8) KV heads of ``head_dim``
(128), no biases; one RMSNorm over all query heads and one over all key heads in every layer
(``qk_norm_across_heads``: transformers builds them whatever ``use_qk_norm`` says); partial
RoPE (``rotary_dim``) has no parameters. Every layer is a mixture of ``num_local_experts``
(256) SwiGLU experts of ``intermediate_size`` (1536), ``num_experts_per_tok`` (8) active,
behind a sigmoid router with a per-expert score-correction bias (a buffer:
``router_score_correction_bias``); no shared expert. The multi-token-prediction modules
(``num_mtp_modules`` of ``mtp_transformer_layers``) are not part of the model transformers
builds and are left uncounted (``mtp_params`` 0): neither transformers, vLLM nor SGLang has
code that builds them and no index of their tensors was located, so what they hold is not
established.

What transformers does not build is refused at its key rather than miscounted: lightning
(linear) attention layers (``attn_type_list`` entries 0, MiniMax-01's), a shared expert
(``shared_intermediate_size`` above 0) and a per-head QK-norm (``qk_norm_type`` other than
``per_layer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader
from block_config.readers._common import (
    attention,
    homogeneous,
    layer_count,
    model_fields,
    refused_per_layer,
    routed_experts,
)
from block_config.readers._registry import ReadOptions, register

__all__ = ["read_minimax_m2"]

#: MiniMaxM2Config's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 200064,
    "hidden_size": 3072,
    "intermediate_size": 1536,
    "num_hidden_layers": 62,
    "num_attention_heads": 48,
    "head_dim": 128,
    "num_experts_per_tok": 8,
    "num_local_experts": 256,
}


def _refuse_unbuilt(keys: ConfigReader) -> None:
    """Record a problem for each mechanism the published configs can name but transformers
    does not build."""
    config = keys.config
    types = config.get("attn_type_list")
    if types is not None:
        if not isinstance(types, list):
            keys.problems.append(
                Problem(("attn_type_list",), f"expected a list of 0 or 1, got {describe(types)}")
            )
        else:
            for index, kind in enumerate(types):
                if type(kind) is not int or kind not in (0, 1):
                    keys.problems.append(
                        Problem(("attn_type_list", index), f"expected 0 or 1, got {describe(kind)}")
                    )
                elif kind == 0:
                    keys.problems.append(
                        Problem(
                            ("attn_type_list", index),
                            "not supported: lightning (linear) attention layers are not built "
                            "by transformers' MiniMax-M2 and are not counted",
                        )
                    )
    shared = keys.integer("shared_intermediate_size", default=0, minimum=0)
    if type(shared) is int and shared > 0:
        keys.problems.append(
            Problem(
                ("shared_intermediate_size",),
                f"not supported: a shared expert ({shared} wide) is not built by transformers' "
                "MiniMax-M2 and is not counted",
            )
        )
    norm_type = config.get("qk_norm_type", "per_layer")
    if norm_type != "per_layer":
        keys.problems.append(
            Problem(
                ("qk_norm_type",),
                f"not supported: {describe(norm_type)}; transformers' MiniMax-M2 builds one "
                "QK-norm across all heads ('per_layer')",
            )
        )


@register(
    "minimax_m2",
    per_layer=refused_per_layer("MiniMaxM2ForCausalLM"),
    architectures={"MiniMaxM2ForCausalLM": "minimax_m2"},
    unused=("use_qk_norm", "use_routing_bias"),
)
def read_minimax_m2(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A MiniMax-M2 config: the same MoE layer in every layer."""
    del options  # one family
    keys = ConfigReader({**_DEFAULTS, **config})
    fields = {
        **model_fields(keys, attention_bias=None, mlp_bias=False),
        "qk_norm_across_heads": True,
        "router_score_correction_bias": True,
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    _refuse_unbuilt(keys)
    item = {
        "attention": attention(keys, fields["num_attention_heads"], kv_absent=8),
        "ffn": routed_experts(keys, "num_local_experts", "intermediate_size", 0),
    }
    return homogeneous(keys, fields, [item] * layers)
