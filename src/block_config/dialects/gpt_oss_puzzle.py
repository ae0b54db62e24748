"""gpt-oss-puzzle (``model_type: "gpt_oss_puzzle"``, ``GptOssPuzzleForCausalLM``): gpt-oss
whose layers differ in their attention window and their number of experts.

Published as nvidia/gpt-oss-puzzle-88B (a child of gpt-oss-120b), loaded by vLLM's
``gpt_oss_puzzle.py`` and by the remote code the checkpoint brings. ``block_configs`` is a
flat list, one object per layer, with two keys: ``sliding_window`` (a window in tokens, or
null for full attention) and ``num_local_experts``. The loading code builds each layer as a
plain gpt-oss layer from the global config with that layer's values set on it
(``get_gpt_oss_config_for_layer``), so a layer here is read by the gpt-oss reader
(:mod:`block_config.readers.gpt_oss`) from exactly that config, and counted as gpt-oss
counts one of its layers. A key a block leaves out takes the global value (``layer_types``
and gpt-oss's alternation for the window); ``layer_types``, when given, must agree with the
windows; ``num_hidden_layers`` may be null (the blocks say it).

Written (:func:`write_gpt_oss_puzzle`) for gpt-oss models whose layers differ only in those
two values (a search result on gpt-oss-120b, for example): every other per-layer difference
is refused at its layer's path. The written config names this dialect's ``model_type`` and
architecture; its ``auto_map`` is never invented (a :class:`ConversionWarning` says which
loading code the checkpoint must bring).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from block_config._config import BlockConfig
from block_config._errors import BlockConfigError, ConversionWarning, Path, Problem
from block_config._json import copy_json
from block_config._keys import ConfigReader
from block_config.dialects._flat import (
    FlatLayers,
    block_items,
    finish,
    layer_count,
    unknown_block_keys,
    write_scalars,
)
from block_config.dialects._registry import register_reader, register_writer
from block_config.readers._common import FULL, SLIDING, layer_types
from block_config.readers._registry import ReadOptions
from block_config.readers.gpt_oss import read_gpt_oss

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture

__all__ = ["ARCHITECTURE", "DIALECT", "read_gpt_oss_puzzle", "write_gpt_oss_puzzle"]

DIALECT = "gpt_oss_puzzle"
#: The architecture class the loading code registers.
ARCHITECTURE = "GptOssPuzzleForCausalLM"
_BLOCK_KEYS = ("sliding_window", "num_local_experts")
#: The keys read per layer here rather than from the global config.
_LAYER_KEYS = ("block_configs", "layer_types", "num_hidden_layers", "model_type", "architectures")


def _window_kind(index: int, types: list[str] | None) -> str:
    """A layer's attention kind when its block does not say: ``layer_types``, else
    gpt-oss's alternation (layer ``i`` slides when ``i + 1`` is odd)."""
    if types is not None:
        return types[index]
    return SLIDING if (index + 1) % 2 else FULL


@register_reader(DIALECT, model_types=(DIALECT,))
def read_gpt_oss_puzzle(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A gpt_oss_puzzle config: each layer a gpt-oss layer with its block's values."""
    problems: list[Problem] = []
    items = block_items(config, "block_configs", problems)
    if items is None:
        raise BlockConfigError(problems)
    layer_count(config, len(items), problems)
    keys = ConfigReader(config)
    types = layer_types(keys, len(items))
    problems.extend(keys.problems)
    base = {key: value for key, value in config.items() if key not in _LAYER_KEYS}
    layers = FlatLayers(
        {**base, "num_hidden_layers": 1},
        read_gpt_oss,
        ReadOptions(model_type="gpt_oss", unknown_keys=options.unknown_keys),
    )
    blocks: list[BlockConfig] = []
    for index, item in enumerate(items):
        path: Path = ("block_configs", index)
        unknown_block_keys(item, _BLOCK_KEYS, path, options, "a gpt_oss_puzzle block", problems)
        values: dict[str, Any] = {}
        given: dict[str, str] = {}
        kind = _window_kind(index, types)
        if "sliding_window" in item:
            window = item["sliding_window"]
            kind = FULL if window is None else SLIDING
            if window is not None:
                values["sliding_window"] = window
                given["sliding_window"] = "sliding_window"
            if types is not None and types[index] != kind:
                problems.append(
                    Problem(
                        ("layer_types", index),
                        f"is {types[index]!r} but block_configs[{index}].sliding_window is "
                        f"{window!r}",
                    )
                )
        values["layer_types"] = [kind]
        if item.get("num_local_experts") is not None:
            values["num_local_experts"] = item["num_local_experts"]
            given["num_local_experts"] = "num_local_experts"
        block = layers.read(values, given, path)
        if block is not None:
            blocks.append(block)
    if not items:
        layers.read_globals({"num_hidden_layers": 0})
    problems.extend(layers.problems)
    fields = layers.merged_fields()
    if problems or fields is None:
        raise BlockConfigError(problems)
    return {**fields, "block_configs": tuple(blocks), "dialect": DIALECT, "model_type": DIALECT}


# ----------------------------------------------------------------------------- writing


def _layer_values(
    block: BlockConfig, path: Path, problems: list[Problem]
) -> tuple[int | None, int, tuple[int | None, int, int]] | None:
    """A layer's window and expert count, and the values every layer must share (KV heads,
    expert width, experts per token); None after telling what the dialect cannot say."""

    def cannot(where: tuple[str, ...], what: str) -> None:
        problems.append(Problem((*path, *where), f"the {DIALECT} dialect cannot express {what}"))

    before = len(problems)
    if block.parallel_blocks:
        cannot(("parallel_blocks",), "parallel blocks")
    attention, ffn = block.attention, block.ffn
    if attention is None or attention.no_op:
        cannot(("attention", "no_op"), "a layer without attention")
    elif attention.replace_with_linear:
        cannot(("attention", "replace_with_linear"), "a linear replacement of attention")
    elif attention.mamba is not None or attention.mla is not None or attention.llama4 is not None:
        cannot(("attention",), "an attention other than gpt-oss's")
    elif attention.num_attention_heads is not None or attention.head_dim is not None:
        cannot(("attention",), "a layer's own head count or head width")
    if ffn is None or ffn.no_op:
        cannot(("ffn", "no_op"), "a layer without experts")
    elif ffn.replace_with_linear:
        cannot(("ffn", "replace_with_linear"), "a linear replacement of the FFN")
    elif ffn.moe is None:
        cannot(("ffn",), "a dense FFN (every gpt-oss layer is a mixture of experts)")
    elif ffn.moe.shared_expert_intermediate_dim or ffn.moe.latent_dim is not None:
        cannot(("ffn", "moe"), "a shared expert or a latent MoE")
    if len(problems) > before:
        return None
    assert attention is not None
    assert ffn is not None
    assert ffn.moe is not None
    moe = ffn.moe
    shared = (attention.num_key_value_heads, moe.expert_intermediate_dim, moe.num_experts_per_tok)
    return attention.sliding_window, moe.num_local_experts, shared


@register_writer(DIALECT)
def write_gpt_oss_puzzle(model: ModelArchitecture) -> dict[str, Any]:
    """The model as a gpt_oss_puzzle config: one ``{sliding_window, num_local_experts}``
    object per layer over gpt-oss's global keys.

    Raises :class:`BlockConfigError` at each layer's path for what the dialect cannot say
    (a layer without attention or experts, a dense or linear layer, another attention kind,
    a layer's own KV heads, expert width or experts per token); every written form reads
    back to an equal model, or nothing is returned.
    """
    if model.source.get("text_config") is not None:
        raise BlockConfigError.at(
            ("text_config",), f"a multimodal wrapper is not written as {DIALECT}"
        )
    problems: list[Problem] = []
    layers: list[tuple[int | None, int]] = []
    shared_values: list[tuple[Path, tuple[int | None, int, int]]] = []
    for index, block in enumerate(model.block_configs):
        path: Path = ("block_configs", index)
        read = _layer_values(block, path, problems)
        if read is not None:
            window, experts, shared = read
            layers.append((window, experts))
            shared_values.append((path, shared))
    # The global values: those most layers have (the first seen on a tie).
    counts = Counter(shared for _, shared in shared_values)
    common = counts.most_common(1)[0][0] if counts else None
    names = (
        "attention.num_key_value_heads",
        "ffn.moe.expert_intermediate_dim",
        "ffn.moe.num_experts_per_tok",
    )
    for path, shared in shared_values:
        if common is not None and shared != common:
            differing = [
                f"{name} {mine} (most layers: {theirs})"
                for name, mine, theirs in zip(names, shared, common, strict=True)
                if mine != theirs
            ]
            problems.append(
                Problem(
                    path,
                    f"the {DIALECT} dialect cannot express a layer's own "
                    f"{', '.join(differing)}: its blocks give only sliding_window and "
                    "num_local_experts, the rest is global",
                )
            )
    if problems:
        # Layer by layer, whichever check told it.
        problems.sort(key=lambda problem: problem.path[1])
        raise BlockConfigError(problems)
    out = copy_json(model.source)
    out.pop("per_layer_config", None)
    optional = write_scalars(model, out)
    out["model_type"] = DIALECT
    out["architectures"] = [ARCHITECTURE]
    out["num_hidden_layers"] = len(layers)
    if common is not None:
        kv, width, per_token = common
        out["num_key_value_heads"] = kv
        out["intermediate_size"] = width
        out["num_experts_per_tok"] = per_token
    out["layer_types"] = [FULL if window is None else SLIDING for window, _ in layers]
    out["block_configs"] = [
        {"sliding_window": window, "num_local_experts": experts} for window, experts in layers
    ]
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
            f"{DIALECT} is loaded by code the checkpoint must bring: a configuration class "
            "with get_gpt_oss_config_for_layer (transformers has none; vLLM's "
            f"{ARCHITECTURE} calls it) and an auto_map naming it, which is not invented "
            f"here{kept}"
        ),
        stacklevel=4,
    )
