"""Nemotron-H-Puzzle (``model_type: "nemotron_h_puzzle"``, ``NemotronHPuzzleForCausalLM``):
Nemotron-H whose layers each carry their own sizes.

Published as NVIDIA-Nemotron-Labs-3-Puzzle-75B-A9B (a child of Nemotron-3-Super-120B-A12B),
read by vLLM (``nemotron_h.py``, ``model_arch_config_convertor.py``), Megatron-Bridge
(``nemotronh_puzzle/nemotron_h_puzzle_bridge.py``), TensorRT-LLM and the remote code the
checkpoint brings. ``block_configs`` is a flat list, one object per layer, whose
``block_type`` (``mamba``, ``attention``, ``moe``, ``mlp``) is the layer's kind, with that
kind's own values:

* ``moe``: ``moe_intermediate_size`` and ``num_experts_per_tok`` (Megatron-Bridge's export
  gives only these; ``n_routed_experts`` and ``moe_shared_expert_intermediate_size`` stay
  global), and in other exports also ``n_routed_experts``, ``moe_latent_size``,
  ``moe_shared_expert_intermediate_size``;
* ``attention``: ``sliding_window``; ``mamba``: ``ssm_state_size``; ``mlp``:
  ``intermediate_size``.

The loading code builds each layer as a plain Nemotron-H layer from the global config with
the block's non-null values set on it (``get_nemotron_h_config_for_layer``), so each layer is
read here by the Nemotron-H reader (:mod:`block_config.readers.nemotron_h`) from exactly that
config: a value a block leaves out is the global one. ``num_hidden_layers`` may be null (the
blocks say it); ``layers_block_type`` or ``hybrid_override_pattern``, when given, must agree
with the blocks. ``num_nextn_predict_layers`` MTP layers are made of ``mtp_block_configs``
(or, without them, of ``mtp_hybrid_override_pattern`` / ``mtp_layers_block_type`` as the
Megatron-Bridge reads them), read the same way (:class:`~block_config.MTPLayers`). A block
key the loading code has but this library does not model (routing settings, indexer
settings) is an error at its path, never ignored.

Written (:func:`write_nemotron_h_puzzle`) for Nemotron-H models (a search result on
Nemotron-3-Super, for example), in the Megatron-Bridge export's form: each MoE block with its
``moe_intermediate_size`` and ``num_experts_per_tok``, every other value global where all
layers of its kind share it and in every block of that kind where they do not (the loading
code deletes a value given in any block from the global config), ``layers_block_type`` and
``mtp_layers_block_type`` derived from the blocks. The ``auto_map`` is never invented (a
:class:`ConversionWarning` names the loading code the checkpoint must bring).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, ConversionWarning, Path, Problem, describe
from block_config._json import copy_json
from block_config._keys import ConfigReader, check_int
from block_config.dialects._flat import (
    FlatLayers,
    block_items,
    finish,
    layer_count,
    unknown_block_keys,
    write_scalars,
)
from block_config.dialects._registry import register_reader, register_writer
from block_config.readers._registry import ReadOptions
from block_config.readers.nemotron_h import mtp_layer_kinds, read_nemotron_h

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture

__all__ = ["ARCHITECTURE", "DIALECT", "read_nemotron_h_puzzle", "write_nemotron_h_puzzle"]

DIALECT = "nemotron_h_puzzle"
#: The architecture class the loading code registers.
ARCHITECTURE = "NemotronHPuzzleForCausalLM"
#: The loading code the checkpoint brings (the names Megatron-Bridge's export gives).
_LOADING_CODE = (
    "configuration_nemotron_h_puzzle.NemotronHPuzzleConfig",
    "modeling_nemotron_h_puzzle.NemotronHPuzzleForCausalLM",
)
#: Each block type's pattern symbol, as Nemotron-H's layer pattern spells it.
_SYMBOLS = {"mamba": "M", "attention": "*", "moe": "E", "mlp": "-"}
#: The values each block type may carry.
_BLOCK_KEYS: Mapping[str, tuple[str, ...]] = {
    "mamba": ("ssm_state_size",),
    "attention": ("sliding_window",),
    "moe": (
        "moe_intermediate_size",
        "num_experts_per_tok",
        "n_routed_experts",
        "moe_shared_expert_intermediate_size",
        "moe_latent_size",
    ),
    "mlp": ("intermediate_size",),
}
#: Written in every MoE block: the Megatron-Bridge reads them there only.
_ALWAYS_IN_BLOCK = ("moe_intermediate_size", "num_experts_per_tok")
#: The keys read per layer rather than from the global config.
_LAYER_KEYS = (
    "block_configs",
    "mtp_block_configs",
    "hybrid_override_pattern",
    "layers_block_type",
    "mtp_hybrid_override_pattern",
    "mtp_layers_block_type",
    "num_hidden_layers",
    "num_nextn_predict_layers",
    "model_type",
    "architectures",
)
#: ``layers_block_type`` names as transformers spells some of them.
_NAMES = {"linear_attention": "mamba", "full_attention": "attention"}


def _read_block(
    item: Mapping[str, Any],
    path: Path,
    layers: FlatLayers,
    options: ReadOptions,
    problems: list[Problem],
) -> tuple[str, BlockConfig | None] | None:
    """A block's type and its layer (None after a problem); None for an unknown type."""
    kind = item.get("block_type")
    if type(kind) is not str or kind not in _SYMBOLS:
        problems.append(
            Problem(
                (*path, "block_type"),
                f"expected one of {', '.join(sorted(_SYMBOLS))}, got {describe(kind)}",
            )
        )
        return None
    allowed = _BLOCK_KEYS[kind]
    unknown_block_keys(item, ("block_type", *allowed), path, options, f"a {kind} block", problems)
    values: dict[str, Any] = {"hybrid_override_pattern": _SYMBOLS[kind]}
    given: dict[str, str] = {}
    for name in allowed:
        if name != "sliding_window" and item.get(name) is not None:
            values[name] = item[name]
            given[name] = name
    block = layers.read(values, given, path)
    window = item.get("sliding_window") if kind == "attention" else None
    if (
        window is not None
        and check_int(window, (*path, "sliding_window"), problems)
        and block is not None
        and block.attention is not None
    ):
        block = attrs.evolve(block, attention=attrs.evolve(block.attention, sliding_window=window))
    return kind, block


def _check_pattern(config: Mapping[str, Any], kinds: list[str], problems: list[Problem]) -> None:
    """``layers_block_type`` / ``hybrid_override_pattern``, when given, name the blocks' types."""
    names = config.get("layers_block_type")
    if names is not None:
        if not isinstance(names, list) or len(names) != len(kinds):
            problems.append(
                Problem(
                    ("layers_block_type",),
                    f"expected the {len(kinds)} block types of block_configs, got "
                    f"{describe(names)}",
                )
            )
            return
        for index, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            if (_NAMES.get(name, name) if type(name) is str else name) != kind:
                problems.append(
                    Problem(
                        ("layers_block_type", index),
                        f"is {describe(name)} but block_configs[{index}] is a {kind} block",
                    )
                )
    pattern = config.get("hybrid_override_pattern")
    if pattern is not None:
        expected = "".join(_SYMBOLS[kind] for kind in kinds)
        if pattern != expected:
            problems.append(
                Problem(
                    ("hybrid_override_pattern",),
                    f"is {describe(pattern)} but block_configs gives {expected!r}",
                )
            )


def _read_mtp(
    config: Mapping[str, Any], layers: FlatLayers, options: ReadOptions, problems: list[Problem]
) -> dict[str, Any] | None:
    """The MTP layers' keyword arguments, or None when there are none."""
    keys = ConfigReader(config)
    depth = keys.integer("num_nextn_predict_layers", default=0, minimum=0)
    problems.extend(keys.problems)
    raw = config.get("mtp_block_configs")
    if not depth:
        if raw:
            problems.append(
                Problem(
                    ("num_nextn_predict_layers",),
                    f"is {depth} but mtp_block_configs describes an MTP layer: say "
                    "how many there are (nothing is read while ignoring them)",
                )
            )
        return None
    blocks: list[BlockConfig] = []
    before = len(problems)
    if raw:
        items = block_items(config, "mtp_block_configs", problems)
        for index, item in enumerate(items or ()):
            read = _read_block(item, ("mtp_block_configs", index), layers, options, problems)
            if read is not None and read[1] is not None:
                blocks.append(read[1])
    else:
        kinds = mtp_layer_kinds(config, keys)
        problems.extend(keys.problems)
        for kind in kinds:
            block = layers.read({"hybrid_override_pattern": _SYMBOLS[kind]}, {}, ())
            if block is not None:
                blocks.append(block)
    if len(problems) > before:
        return None
    return {"num_layers": depth, "block_configs": tuple(blocks)}


@register_reader(DIALECT, model_types=(DIALECT,))
def read_nemotron_h_puzzle(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A nemotron_h_puzzle config: each layer a Nemotron-H layer with its block's values."""
    from block_config._model import MTPLayers

    problems: list[Problem] = []
    items = block_items(config, "block_configs", problems)
    if items is None:
        raise BlockConfigError(problems)
    layer_count(config, len(items), problems)
    base = {key: value for key, value in config.items() if key not in _LAYER_KEYS}
    layers = FlatLayers(
        {**base, "num_hidden_layers": None},
        read_nemotron_h,
        ReadOptions(model_type="nemotron_h", unknown_keys=options.unknown_keys),
    )
    blocks: list[BlockConfig] = []
    kinds: list[str] = []
    for index, item in enumerate(items):
        read = _read_block(item, ("block_configs", index), layers, options, problems)
        if read is None:
            continue
        kinds.append(read[0])
        if read[1] is not None:
            blocks.append(read[1])
    if len(kinds) == len(items):
        _check_pattern(config, kinds, problems)
    mtp = _read_mtp(config, layers, options, problems)
    if not items:
        layers.read_globals({"hybrid_override_pattern": ""})
    problems.extend(layers.problems)
    fields = layers.merged_fields()
    if problems or fields is None:
        raise BlockConfigError(problems)
    if mtp is not None:
        fields["mtp"] = MTPLayers(**mtp)
    return {**fields, "block_configs": tuple(blocks), "dialect": DIALECT, "model_type": DIALECT}


# ----------------------------------------------------------------------------- writing


def _entry(
    block: BlockConfig, path: Path, problems: list[Problem]
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """A layer's block type, its own values, and the values every layer of its kind must
    share (global in this dialect); None after telling what the dialect cannot say."""

    def cannot(where: tuple[str, ...], what: str) -> None:
        problems.append(Problem((*path, *where), f"the {DIALECT} dialect cannot express {what}"))

    if block.parallel_blocks:
        cannot(("parallel_blocks",), "parallel blocks")
        return None
    attention, ffn = block.attention, block.ffn
    has_attention = attention is not None and not attention.no_op
    has_ffn = ffn is not None and not ffn.no_op
    if has_attention and has_ffn:
        cannot((), "a layer with both a mixer and an FFN (a Nemotron-H layer has one)")
        return None
    if not has_attention and not has_ffn:
        cannot((), "a layer without mixer")
        return None
    if has_attention:
        assert attention is not None
        if attention.replace_with_linear:
            cannot(("attention", "replace_with_linear"), "a linear replacement of attention")
            return None
        if attention.mamba is not None:
            mamba = attention.mamba
            shared = {
                "mamba_num_heads": mamba.num_heads,
                "mamba_head_dim": mamba.head_dim,
                "n_groups": mamba.num_groups,
            }
            return "mamba", {"ssm_state_size": mamba.state_dim}, shared
        if attention.mla is not None or attention.llama4 is not None:
            cannot(("attention",), "an attention other than Nemotron-H's")
            return None
        if attention.num_attention_heads is not None or attention.head_dim is not None:
            cannot(("attention",), "a layer's own head count or head width")
            return None
        window = attention.sliding_window
        windowed = {} if window is None else {"sliding_window": window}
        return "attention", windowed, {"num_key_value_heads": attention.num_key_value_heads}
    assert ffn is not None
    if ffn.replace_with_linear:
        cannot(("ffn", "replace_with_linear"), "a linear replacement of the FFN")
        return None
    if ffn.is_gated:
        cannot(("ffn",), "gated MLPs or experts (Nemotron-H's are relu2: up and down)")
        return None
    moe = ffn.moe
    if moe is None:
        return "mlp", {"intermediate_size": ffn.intermediate_size}, {}
    own: dict[str, Any] = {
        "moe_intermediate_size": moe.expert_intermediate_dim,
        "num_experts_per_tok": moe.num_experts_per_tok,
        "n_routed_experts": moe.num_local_experts,
        "moe_shared_expert_intermediate_size": moe.shared_expert_intermediate_dim,
        "moe_latent_size": moe.latent_dim,
    }
    return "moe", own, {}


def _entries(
    blocks: tuple[BlockConfig, ...], where: tuple[str, ...], problems: list[Problem]
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    entries = []
    for index, block in enumerate(blocks):
        entry = _entry(block, (*where, index), problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _split(
    entries: list[tuple[str, dict[str, Any], dict[str, Any]]],
    paths: list[Path],
    problems: list[Problem],
) -> tuple[dict[str, Any], set[str]]:
    """The global values (those every layer of a kind shares) and the names written in every
    block of their kind; a value that must be global but differs is told at its layer."""
    seen: dict[tuple[str, str], list[Any]] = {}
    shared: dict[str, tuple[Any, Path]] = {}
    for (kind, own, common), path in zip(entries, paths, strict=True):
        for name, value in own.items():
            seen.setdefault((kind, name), []).append(value)
        for name, value in common.items():
            if name not in shared:
                shared[name] = (value, path)
            elif shared[name][0] != value:
                problems.append(
                    Problem(
                        path,
                        f"the {DIALECT} dialect cannot express a layer's own {name} ({value}, "
                        f"where {format_first(shared[name][1])} has {shared[name][0]}): it is "
                        "global",
                    )
                )
    globals_ = {name: value for name, (value, _) in shared.items()}
    per_block: set[str] = set(_ALWAYS_IN_BLOCK)
    for (_, name), values in seen.items():
        if name in _ALWAYS_IN_BLOCK or name == "sliding_window":
            continue
        if all(value == values[0] for value in values):
            globals_[name] = values[0]
        else:
            per_block.add(name)
    return globals_, per_block


def format_first(path: Path) -> str:
    """A layer's path as text (``block_configs[3]``)."""
    head, *rest = path
    return f"{head}" + "".join(f"[{part}]" if type(part) is int else f".{part}" for part in rest)


def _block_dict(kind: str, own: dict[str, Any], per_block: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"block_type": kind}
    for name, value in own.items():
        if value is not None and (name in per_block or name == "sliding_window"):
            item[name] = value
    return item


@register_writer(DIALECT)
def write_nemotron_h_puzzle(model: ModelArchitecture) -> dict[str, Any]:
    """The model as a nemotron_h_puzzle config: one object per layer (and per MTP block)
    over Nemotron-H's global keys.

    Raises :class:`BlockConfigError` at each layer's path for what the dialect cannot say
    (a layer with both attention and an FFN or with neither, gated MLPs, another attention
    kind, a layer's own KV heads or Mamba heads, MTP layers with their own embeddings);
    every written form reads back to an equal model, or nothing is returned.
    """
    if model.source.get("text_config") is not None:
        raise BlockConfigError.at(
            ("text_config",), f"a multimodal wrapper is not written as {DIALECT}"
        )
    problems: list[Problem] = []
    main = _entries(model.block_configs, ("block_configs",), problems)
    paths: list[Path] = [("block_configs", i) for i in range(len(model.block_configs))]
    mtp = model.mtp
    extra: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if mtp is not None:
        if mtp.own_embeddings:
            problems.append(
                Problem(
                    ("mtp", "own_embeddings"),
                    f"the {DIALECT} dialect cannot express MTP layers with their own "
                    "embedding and head (Nemotron-H's share the model's)",
                )
            )
        extra = _entries(mtp.block_configs, ("mtp", "block_configs"), problems)
        paths += [("mtp", "block_configs", i) for i in range(len(mtp.block_configs))]
    if problems:
        raise BlockConfigError(problems)
    globals_, per_block = _split([*main, *extra], paths, problems)
    if problems:
        raise BlockConfigError(problems)
    out = copy_json(model.source)
    for key in (
        "per_layer_config",
        "hybrid_override_pattern",
        "mtp_hybrid_override_pattern",
        *(_ALWAYS_IN_BLOCK),
        *per_block,
    ):
        out.pop(key, None)
    optional = write_scalars(model, out)
    out["model_type"] = DIALECT
    out["architectures"] = [ARCHITECTURE]
    out.update(globals_)
    out["num_hidden_layers"] = len(main)
    out["layers_block_type"] = [kind for kind, _, _ in main]
    out["block_configs"] = [_block_dict(kind, own, per_block) for kind, own, _ in main]
    if mtp is not None:
        out["num_nextn_predict_layers"] = mtp.num_layers
        out["mtp_layers_block_type"] = [kind for kind, _, _ in extra]
        out["mtp_block_configs"] = [_block_dict(kind, own, per_block) for kind, own, _ in extra]
    else:
        for key in ("mtp_layers_block_type", "mtp_block_configs"):
            out.pop(key, None)
        if out.get("num_nextn_predict_layers"):
            out["num_nextn_predict_layers"] = 0
    finish(model, out, DIALECT, optional)
    _warn_of_loading_code(out)
    return out


def _warn_of_loading_code(out: Mapping[str, Any]) -> None:
    auto_map = out.get("auto_map")
    kept = (
        f"; the auto_map kept ({auto_map!r}) names code that may not read block_configs"
        if auto_map
        else ""
    )
    warnings.warn(
        ConversionWarning(
            f"{DIALECT} is loaded by code the checkpoint must bring ({', '.join(_LOADING_CODE)}"
            f", with get_nemotron_h_config_for_layer; transformers has none) and an auto_map "
            f"naming it, which is not invented here{kept}"
        ),
        stacklevel=4,
    )
