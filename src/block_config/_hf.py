"""Homogeneous Hugging Face configs (no ``block_configs``) as per-layer block lists.

Each layer gets the block its family's modelling code builds for it:

* Llama, Qwen2, Qwen3, Mistral and alike: grouped-query attention with
  ``num_key_value_heads`` (``num_attention_heads`` when absent or null) and a dense FFN of
  ``intermediate_size``.
* Mixtral-style MoE (``num_local_experts``): every FFN is a mixture of ``num_local_experts``
  experts of width ``intermediate_size``, ``num_experts_per_tok`` active, no shared expert.
* Qwen-MoE-style (``num_experts``): layer ``i`` is MoE (``moe_intermediate_size`` wide
  experts, ``shared_expert_intermediate_size`` for the shared expert, 0 when the config has
  none, as in Qwen3-MoE) when ``i`` is not in ``mlp_only_layers`` and ``(i + 1)`` is a
  multiple of ``decoder_sparse_step``; other layers are dense (``intermediate_size``).
* Nemotron-H hybrids: ``hybrid_override_pattern`` (or ``layers_block_type``) gives each
  layer's kind: ``M`` Mamba-2 (``ssm_state_size``, ``mamba_num_heads``, ``mamba_head_dim``,
  ``n_groups``), ``*`` attention only, ``-`` dense FFN only, ``E`` MoE only
  (``n_routed_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``,
  ``moe_shared_expert_intermediate_size`` times ``n_shared_experts``).

Every problem is reported at the ``config.json`` key it comes from (``$.num_key_value_heads``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._converter import MAX_BLOCKS, structure_block_configs
from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count

__all__ = ["homogeneous_block_configs"]

_NO_OP = {"no_op": True}

#: Nemotron-H layer kinds: pattern character -> ``layers_block_type`` name.
_PATTERN_KINDS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}

#: Keys of families this module does not translate; reading them as dense would be wrong.
_UNSUPPORTED = {
    "n_routed_experts": "DeepSeek-style MoE without a Nemotron-H layer pattern",
    "text_config": "a multimodal config with a nested text_config (pass that mapping instead)",
}


def homogeneous_block_configs(
    config: Mapping[str, Any], *, num_attention_heads: int | None
) -> list[BlockConfig]:
    """One block per layer of a homogeneous Hugging Face config (see the module docs).

    ``num_attention_heads`` is the already-checked head count (None if it was invalid: then
    only the other keys are checked). Raises :class:`BlockConfigError` listing every problem.
    """
    reader = ConfigReader(config)
    kinds = _nemotron_h_kinds(config, reader)
    if reader.problems:  # a broken layer pattern: nothing below can be read reliably
        raise BlockConfigError(reader.problems)
    for key, what in _UNSUPPORTED.items():
        if key in config and (kinds is None or key != "n_routed_experts"):
            reader.problems.append(Problem((key,), f"not supported: {what}"))
    layers = reader.integer("num_hidden_layers", required=kinds is None, minimum=0)
    if kinds is not None and layers is not None and layers != len(kinds):
        (source,) = _pattern_key(config)
        reader.problems.append(
            Problem(("num_hidden_layers",), f"is {layers} but {source} has {len(kinds)} layers")
        )
    if kinds is not None:
        layers = len(kinds)
    if layers is not None and layers > MAX_BLOCKS:
        reader.problems.append(
            Problem(
                ("num_hidden_layers",) if kinds is None else _pattern_key(config),
                f"gives {layers} layers, more than the limit of {MAX_BLOCKS}",
            )
        )
    if reader.problems or layers is None:
        raise BlockConfigError(reader.problems)

    if kinds is not None:
        items = _nemotron_h(reader, kinds, num_attention_heads)
    elif "num_local_experts" in config:
        items = _mixtral(reader, layers, num_attention_heads)
    elif config.get("num_experts") not in (None, 0):
        items = _qwen_moe(reader, layers, num_attention_heads)
    else:
        items = _dense(reader, layers, num_attention_heads)
    if reader.problems:
        raise BlockConfigError(reader.problems)
    # One object per distinct layer shape, shared by the layers that have it.
    distinct: dict[int, BlockConfig] = {}
    blocks = []
    for item in items:
        if id(item) not in distinct:
            (distinct[id(item)],) = structure_block_configs([item])
        blocks.append(distinct[id(item)])
    return blocks


def _pattern_key(config: Mapping[str, Any]) -> tuple[str]:
    if "hybrid_override_pattern" in config:
        return ("hybrid_override_pattern",)
    return ("layers_block_type",)


def _attention(reader: ConfigReader, heads: int | None) -> dict[str, Any]:
    kv = reader.integer("num_key_value_heads", default=heads)
    if is_count(heads) and is_count(kv) and heads % kv:
        reader.problems.append(
            Problem(("num_key_value_heads",), f"{kv} does not divide num_attention_heads ({heads})")
        )
    return {"num_key_value_heads": kv}


def _moe(
    reader: ConfigReader, experts_key: str, size_key: str, shared: int | None
) -> dict[str, Any]:
    experts = reader.integer(experts_key, required=True)
    per_token = reader.integer("num_experts_per_tok", required=True)
    if is_count(experts) and is_count(per_token) and per_token > experts:
        reader.problems.append(
            Problem(
                ("num_experts_per_tok",),
                f"must not exceed {experts_key} ({experts}), got {per_token}",
            )
        )
    return {
        "moe": {
            "num_local_experts": experts,
            "num_experts_per_tok": per_token,
            "expert_intermediate_dim": reader.integer(size_key, required=True),
            "shared_expert_intermediate_dim": shared,
        }
    }


def _dense(reader: ConfigReader, layers: int, heads: int | None) -> list[dict[str, Any]]:
    item = {
        "attention": _attention(reader, heads),
        "ffn": {"intermediate_size": reader.integer("intermediate_size", required=True)},
    }
    return [item] * layers


def _mixtral(reader: ConfigReader, layers: int, heads: int | None) -> list[dict[str, Any]]:
    item = {
        "attention": _attention(reader, heads),
        "ffn": _moe(reader, "num_local_experts", "intermediate_size", 0),
    }
    return [item] * layers


def _qwen_moe(reader: ConfigReader, layers: int, heads: int | None) -> list[dict[str, Any]]:
    config = reader.config
    # Qwen2-MoE always has a shared expert (its config class defaults the width); Qwen3-MoE
    # has none, and its configs carry no such key.
    shared_required = config.get("model_type") == "qwen2_moe"
    shared = reader.integer(
        "shared_expert_intermediate_size", required=shared_required, default=0, minimum=0
    )
    step = reader.integer("decoder_sparse_step", default=1)
    listed = reader.int_list("mlp_only_layers") or []
    for index, layer in enumerate(listed):
        if layer >= layers:
            reader.problems.append(
                Problem(
                    ("mlp_only_layers", index),
                    f"layer {layer} does not exist (num_hidden_layers is {layers})",
                )
            )
    attention = _attention(reader, heads)
    sparse = {
        "attention": attention,
        "ffn": _moe(reader, "num_experts", "moe_intermediate_size", shared),
    }
    mlp_only = set(listed)  # asked once per layer: a list would make this quadratic
    is_sparse = [
        index not in mlp_only and is_count(step) and (index + 1) % step == 0
        for index in range(layers)
    ]
    dense: dict[str, Any] = {}
    if not all(is_sparse):
        size = reader.integer("intermediate_size", required=True)
        dense = {"attention": attention, "ffn": {"intermediate_size": size}}
    return [sparse if flag else dense for flag in is_sparse]


def _nemotron_h_kinds(config: Mapping[str, Any], reader: ConfigReader) -> list[str] | None:
    """The layer kinds ("mamba", "attention", "mlp", "moe") of a Nemotron-H config, if it is one."""
    if "hybrid_override_pattern" in config and config["hybrid_override_pattern"] is not None:
        pattern = config["hybrid_override_pattern"]
        if type(pattern) is not str:
            reader.problems.append(
                Problem(("hybrid_override_pattern",), f"expected str, got {describe(pattern)}")
            )
            return []
        kinds = []
        for position, char in enumerate(pattern):
            if char not in _PATTERN_KINDS:
                reader.problems.append(
                    Problem(
                        ("hybrid_override_pattern",),
                        f"unknown layer kind {char!r} at position {position} "
                        "(expected M, -, * or E)",
                    )
                )
            kinds.append(_PATTERN_KINDS.get(char, "?"))
        return kinds
    if "layers_block_type" in config and config["layers_block_type"] is not None:
        names = config["layers_block_type"]
        if not isinstance(names, list):
            reader.problems.append(
                Problem(("layers_block_type",), f"expected a list of str, got {describe(names)}")
            )
            return []
        known = set(_PATTERN_KINDS.values())
        for index, name in enumerate(names):
            if type(name) is not str or name not in known:
                reader.problems.append(
                    Problem(
                        ("layers_block_type", index),
                        f"expected one of {', '.join(sorted(known))}, got {describe(name)}",
                    )
                )
        return list(names)
    return None


def _nemotron_h(reader: ConfigReader, kinds: list[str], heads: int | None) -> list[dict[str, Any]]:
    present = set(kinds)
    items: dict[str, dict[str, Any]] = {}
    if "mamba" in present:
        mamba = {
            "state_dim": reader.integer("ssm_state_size", required=True),
            "num_heads": reader.integer("mamba_num_heads", required=True),
            "head_dim": reader.integer("mamba_head_dim", required=True),
            "num_groups": reader.integer("n_groups", required=True),
        }
        items["mamba"] = {"attention": {"mamba": mamba}, "ffn": _NO_OP}
    if "attention" in present:
        items["attention"] = {"attention": _attention(reader, heads), "ffn": _NO_OP}
    if "mlp" in present:
        size = reader.integer("intermediate_size", required=True)
        items["mlp"] = {"attention": _NO_OP, "ffn": {"intermediate_size": size}}
    if "moe" in present:
        shared_size = reader.integer("moe_shared_expert_intermediate_size", default=0, minimum=0)
        shared_count = reader.integer("n_shared_experts", default=1, minimum=0)
        shared = None
        if type(shared_size) is int and type(shared_count) is int:
            shared = shared_size * shared_count
        items["moe"] = {
            "attention": _NO_OP,
            "ffn": _moe(reader, "n_routed_experts", "moe_intermediate_size", shared),
        }
    return [items[kind] for kind in kinds if kind in items]
