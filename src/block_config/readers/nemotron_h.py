"""Nemotron-H (``nemotron_h``): hybrid Mamba-2 / attention / MLP / MoE layers, one kind each.

Follows transformers' ``modeling_nemotron_h.py`` (Nemotron-H v1, Nemotron-Nano-v2, and the
MoE layers of Nemotron-3-Nano): ``hybrid_override_pattern`` (or ``layers_block_type``, in the
published names or transformers' ``linear_attention`` / ``full_attention``) gives each
layer's kind:

* ``M``: a Mamba-2 mixer (``ssm_state_size``, ``mamba_num_heads``, ``mamba_head_dim``,
  ``n_groups``; conv1d of ``conv_kernel``), no FFN;
* ``*``: grouped-query attention (``num_key_value_heads``, ``head_dim``: default 128, or
  ``attention_head_dim`` as the first published configs spell it), no FFN;
* ``-``: an ungated MLP of ``intermediate_size`` (up and down projections, relu2), no
  attention;
* ``E``: a mixture of ``n_routed_experts`` ungated experts of ``moe_intermediate_size``,
  ``num_experts_per_tok`` active, and one ungated shared expert of
  ``moe_shared_expert_intermediate_size`` (transformers builds one whatever
  ``n_shared_experts`` says), behind a router with a per-expert score-correction bias, no
  attention.

Every layer has one RMSNorm before its mixer; embeddings untied unless
``tie_word_embeddings``; the Mamba state is kept in ``mamba_ssm_cache_dtype`` when the config
says. A latent MoE (``moe_latent_size``, Nemotron-3-Super) has ``fc1_latent_proj`` and
``fc2_latent_proj`` around experts that work in the latent width. The multi-token-prediction
layers (``num_nextn_predict_layers`` of ``mtp_layers_block_type`` /
``mtp_hybrid_override_pattern``, default attention then MoE), which transformers does not
build, are read as :class:`~block_config.MTPLayers` as vLLM's ``nemotron_h_mtp.py`` builds
them (the embedding and head shared with the model) and counted apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader
from block_config._model import MTPLayers
from block_config.readers._common import (
    GQA_PER_LAYER,
    MAX_BLOCKS,
    NO_OP,
    attention,
    homogeneous,
    model_fields,
    routed_experts,
)
from block_config.readers._registry import PerLayer, ReadOptions, register

__all__ = ["read_nemotron_h"]

#: Layer kinds: pattern character -> ``layers_block_type`` name.
_PATTERN_KINDS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}
#: ``layers_block_type`` names: the published ones and transformers' newer spelling.
_NAMES = {
    "mamba": "mamba",
    "attention": "attention",
    "mlp": "mlp",
    "moe": "moe",
    "linear_attention": "mamba",
    "full_attention": "attention",
}


def _named_kinds(keys: ConfigReader, key: str, names: list[Any]) -> list[str]:
    """The layer kinds a ``layers_block_type``-style list names, problems recorded in
    ``keys`` at each item that names none."""
    kinds = []
    for index, name in enumerate(names):
        if type(name) is not str or name not in _NAMES:
            keys.problems.append(
                Problem(
                    (key, index),
                    f"expected one of {', '.join(sorted(_NAMES))}, got {describe(name)}",
                )
            )
        else:
            kinds.append(_NAMES[name])
    return kinds


def _pattern_key(config: Mapping[str, Any]) -> tuple[str]:
    if config.get("hybrid_override_pattern") is not None:
        return ("hybrid_override_pattern",)
    return ("layers_block_type",)


def _kinds(config: Mapping[str, Any], keys: ConfigReader) -> list[str]:
    """The layer kinds ("mamba", "attention", "mlp", "moe"), problems recorded in ``keys``."""
    if config.get("hybrid_override_pattern") is not None:
        pattern = config["hybrid_override_pattern"]
        if type(pattern) is not str:
            keys.problems.append(
                Problem(("hybrid_override_pattern",), f"expected str, got {describe(pattern)}")
            )
            return []
        kinds = []
        for position, char in enumerate(pattern):
            if char not in _PATTERN_KINDS:
                keys.problems.append(
                    Problem(
                        ("hybrid_override_pattern",),
                        f"unknown layer kind {char!r} at position {position} "
                        "(expected M, -, * or E)",
                    )
                )
            kinds.append(_PATTERN_KINDS.get(char, "?"))
        return kinds
    if config.get("layers_block_type") is not None:
        names = config["layers_block_type"]
        if not isinstance(names, list):
            keys.problems.append(
                Problem(("layers_block_type",), f"expected a list of str, got {describe(names)}")
            )
            return []
        return _named_kinds(keys, "layers_block_type", names)
    keys.problems.append(
        Problem(
            ("hybrid_override_pattern",),
            "missing required key (or layers_block_type): the kind of every layer",
        )
    )
    return []


def _items(keys: ConfigReader, kinds: list[str], heads: int | None) -> list[dict[str, Any]]:
    present = set(kinds)
    items: dict[str, dict[str, Any]] = {}
    if "mamba" in present:
        mamba = {
            "state_dim": keys.integer("ssm_state_size", required=True),
            "num_heads": keys.integer("mamba_num_heads", required=True),
            "head_dim": keys.integer("mamba_head_dim", required=True),
            "num_groups": keys.integer("n_groups", required=True),
        }
        items["mamba"] = {"attention": {"mamba": mamba}, "ffn": NO_OP}
    if "attention" in present:
        items["attention"] = {"attention": attention(keys, heads, kv_absent=8), "ffn": NO_OP}
    if "mlp" in present:
        size = keys.integer("intermediate_size", required=True)
        items["mlp"] = {"attention": NO_OP, "ffn": {"intermediate_size": size, "gated": False}}
    if "moe" in present:
        # One shared expert of this width, whatever n_shared_experts says (transformers'
        # NemotronHMOE builds exactly one).
        shared = keys.integer("moe_shared_expert_intermediate_size", required=True, minimum=0)
        # A latent MoE (Nemotron-3-Super): the experts work in moe_latent_size values.
        extra = {"gated": False, "latent_dim": keys.integer("moe_latent_size", default=None)}
        items["moe"] = {
            "attention": NO_OP,
            "ffn": routed_experts(
                keys, "n_routed_experts", "moe_intermediate_size", shared, extra=extra
            ),
        }
    return [items[kind] for kind in kinds if kind in items]


#: What a Nemotron-H layer may override in ``per_layer_config``; its one mixer is skipped
#: as a whole (``skip: ["mixer"]``).
PER_LAYER = PerLayer(
    GQA_PER_LAYER
    | {
        "intermediate_size",
        "n_routed_experts",
        "num_experts_per_tok",
        "moe_intermediate_size",
        "moe_shared_expert_intermediate_size",
        "moe_latent_size",
        "ssm_state_size",
        "mamba_num_heads",
        "mamba_head_dim",
        "n_groups",
    },
    skips=("mixer",),
    aliases={"num_local_experts": "n_routed_experts"},
    moe_names={
        "experts": "n_routed_experts",
        "per_token": "num_experts_per_tok",
        "expert_size": "moe_intermediate_size",
        "shared_size": "moe_shared_expert_intermediate_size",
        "latent": "moe_latent_size",
    },
    globals_from_blocks=lambda blocks: {
        "layers_block_type": layer_kinds(blocks),
        "hybrid_override_pattern": None,
    },
)


def _kind(block: BlockConfig) -> str | None:
    attention, ffn = block.attention, block.ffn
    if attention is not None and not attention.no_op:
        return "linear_attention" if attention.mamba is not None else "full_attention"
    if ffn is not None and not ffn.no_op:
        return "moe" if ffn.moe is not None else "mlp"
    return None


def layer_kinds(blocks: tuple[BlockConfig, ...]) -> list[str]:
    """Each block's ``layers_block_type`` name as transformers 5.25 spells it; a block with no
    mixer at all (its ``skip`` removes it) takes the most common kind of the others."""
    kinds = [_kind(block) for block in blocks]
    present = Counter(kind for kind in kinds if kind is not None)
    filler = present.most_common(1)[0][0] if present else "mlp"  # the first seen on a tie
    return [kind or filler for kind in kinds]


@register(
    "nemotron_h",
    per_layer=PER_LAYER,
    architectures={"NemotronHForCausalLM": "nemotron_h"},
    unused=("expand", "n_shared_experts", "intermediate_size"),
)
def read_nemotron_h(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A Nemotron-H config: one block per character of its layer pattern."""
    del options
    keys = ConfigReader(config)
    # head_dim: NemotronHConfig's default is 128; the first published configs, read by their
    # own modelling code, spell it attention_head_dim.
    head_dim = keys.integer("attention_head_dim", default=128)
    # NemotronHAttention builds its projections without biases, whatever attention_bias says.
    fields = {**model_fields(keys, head_dim=head_dim), "attention_bias": False}
    before = len(keys.problems)
    kinds = _kinds(config, keys)
    if len(keys.problems) > before:  # a broken layer pattern: nothing below reads reliably
        raise BlockConfigError(keys.problems)
    layers = keys.integer("num_hidden_layers", default=None, minimum=0)
    if layers is not None and layers != len(kinds):
        (source,) = _pattern_key(config)
        keys.problems.append(
            Problem(("num_hidden_layers",), f"is {layers} but {source} has {len(kinds)} layers")
        )
    if len(kinds) > MAX_BLOCKS:
        keys.problems.append(
            Problem(
                _pattern_key(config),
                f"gives {len(kinds)} layers, more than the limit of {MAX_BLOCKS}",
            )
        )
        raise BlockConfigError(keys.problems)
    mtp_layers = keys.integer("num_nextn_predict_layers", default=0, minimum=0)
    mtp_kinds = mtp_layer_kinds(config, keys) if mtp_layers else []
    if "mamba" in kinds or "mamba" in mtp_kinds:
        _check_mamba_biases(keys)
    if "moe" in kinds or "moe" in mtp_kinds:
        fields["router_score_correction_bias"] = True
    items = _items(keys, [*kinds, *mtp_kinds], fields["num_attention_heads"])
    read = homogeneous(keys, fields, items)
    if mtp_kinds:
        blocks = read["block_configs"]
        read["block_configs"] = blocks[: len(kinds)]
        read["mtp"] = MTPLayers(num_layers=mtp_layers, block_configs=blocks[len(kinds) :])
    return read


def _check_mamba_biases(keys: ConfigReader) -> None:
    """The Mamba mixer counted here has a conv1d bias and unbiased projections (transformers'
    defaults: ``use_conv_bias`` true, spelt ``mamba_conv_bias`` by the first configs, and
    ``use_bias`` false); another value is refused at its key, never miscounted."""
    conv_key = "mamba_conv_bias" if "mamba_conv_bias" in keys.config else "use_conv_bias"
    if keys.boolean(conv_key, True) is not True:
        keys.problems.append(
            Problem((conv_key,), "not supported: a Mamba conv1d without bias is not counted")
        )
    if keys.boolean("use_bias", False) is not False:
        keys.problems.append(
            Problem(
                ("use_bias",),
                "not supported: biases on the Mamba in_proj and out_proj are not counted",
            )
        )


#: transformers' default MTP layer pattern (``NemotronHConfig.mtp_layers_block_type``).
_MTP_DEFAULT = ("attention", "moe")


def mtp_layer_kinds(config: Mapping[str, Any], keys: ConfigReader) -> list[str]:
    """The kinds of the blocks of one MTP layer: ``mtp_layers_block_type``, else
    ``mtp_hybrid_override_pattern``, else transformers' default (attention, then MoE)."""
    names = config.get("mtp_layers_block_type")
    if names is not None:
        if not isinstance(names, list) or not names:
            keys.problems.append(
                Problem(
                    ("mtp_layers_block_type",),
                    f"expected a non-empty list of str, got {describe(names)}",
                )
            )
            return []
        return _named_kinds(keys, "mtp_layers_block_type", names)
    pattern = config.get("mtp_hybrid_override_pattern")
    if pattern is None:
        return list(_MTP_DEFAULT)
    if type(pattern) is not str or not pattern:
        keys.problems.append(
            Problem(
                ("mtp_hybrid_override_pattern",),
                f"expected a non-empty str, got {describe(pattern)}",
            )
        )
        return []
    kinds = []
    for position, char in enumerate(pattern):
        if char not in _PATTERN_KINDS:
            keys.problems.append(
                Problem(
                    ("mtp_hybrid_override_pattern",),
                    f"unknown layer kind {char!r} at position {position} (expected M, -, * or E)",
                )
            )
        else:
            kinds.append(_PATTERN_KINDS[char])
    return kinds
