"""``subblock_stats.json``: the measurement scenarios, and the stats of a block in one.

The reference pipeline's ``calc_subblock_stats`` writes a list of scenarios, each
``{"args": {...}, "non_block": {...}, "subblocks": [...]}``: ``args`` the measurement
settings (``batch_size``, ``generation_seq_len``, dtypes, GPU...), ``non_block`` the stats of
what lies outside the blocks (embeddings, head), and one entry per measured attention or FFN
(``subblock_config``, ``subblock_config_class``, ``parent_layer_index`` and its stats:
``runtime_ms``, ``memory_mib``, ``num_params``, ``kv_cache_memory_mib``...; a stat that was
not measured is null).

A block's stats in a scenario are its attention's plus its FFN's (null if either is null),
with ``attention_*`` and ``ffn_*`` copies and the indicators ``has_attention``, ``has_ffn``,
``has_moe``, ``not_no_op``, ``num_kv_heads`` and ``num_local_experts``; a parallel block adds
its members' memory and parameters and takes the largest of the rest, as the reference does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from block_config._config import AttentionConfig, BlockConfig, FFNConfig
from block_config._converter import structure_block_configs
from block_config._errors import BlockConfigError, describe
from block_config._errors import Path as ProblemPath
from block_config.puzzletron._files import PuzzleInputError, is_number

__all__ = ["Scenario", "block_stats", "read_scenarios", "scenario_folder_names", "select_scenario"]

#: Stats of a parallel block that add up over its members; the others take the largest.
_ADDITIVE = tuple(
    f"{prefix}{name}"
    for prefix in ("", "attention_", "ffn_")
    for name in ("memory_mib", "num_params", "kv_cache_memory_mib")
)
#: Keys of a subblock entry that are not stats.
_NOT_STATS = ("subblock_config", "subblock_config_class", "parent_layer_index")

Number = int | float


@attrs.frozen(kw_only=True, eq=False)
class Scenario:
    """One measurement scenario of ``subblock_stats.json``."""

    #: Its position in the file.
    index: int
    #: The measurement settings, as written.
    args: dict[str, Any]
    #: The stats of what lies outside the blocks.
    non_block: dict[str, Number | None]
    #: Per (attention or FFN config, parent layer index or None): its stats.
    subblocks: dict[tuple[AttentionConfig | FFNConfig, int | None], dict[str, Number | None]]
    source: str


def _stats_of(entry: Mapping[str, Any], path: ProblemPath, source: str) -> dict[str, Any]:
    stats = {}
    for key, value in entry.items():
        if key in _NOT_STATS:
            continue
        if value is not None and not is_number(value):
            raise PuzzleInputError.one(
                source, (*path, key), f"expected a number or null, got {describe(value)}"
            )
        stats[key] = value
    return stats


def _subblock(entry: Any, path: ProblemPath, source: str) -> tuple[Any, dict[str, Any]]:
    if not isinstance(entry, dict):
        raise PuzzleInputError.one(source, path, f"expected an object, got {describe(entry)}")
    kind = entry.get("subblock_config_class")
    if kind not in ("AttentionConfig", "FFNConfig"):
        raise PuzzleInputError.one(
            source,
            (*path, "subblock_config_class"),
            f"expected 'AttentionConfig' or 'FFNConfig', got {describe(kind)}",
        )
    config = entry.get("subblock_config")
    if not isinstance(config, dict):
        raise PuzzleInputError.one(
            source, (*path, "subblock_config"), f"expected an object, got {describe(config)}"
        )
    side = "attention" if kind == "AttentionConfig" else "ffn"
    try:
        (block,) = structure_block_configs([{side: config}])
    except BlockConfigError as error:
        problems = [
            attrs.evolve(p, path=(*path, "subblock_config", *p.path[2:])) for p in error.problems
        ]
        raise PuzzleInputError(source, problems) from None
    layer = entry.get("parent_layer_index")
    if layer is not None and (type(layer) is not int or layer < 0):
        raise PuzzleInputError.one(
            source, (*path, "parent_layer_index"), f"expected an int >= 0, got {describe(layer)}"
        )
    subblock = block.attention if side == "attention" else block.ffn
    return (subblock, layer), _stats_of(entry, path, source)


def read_scenarios(data: Any, source: str) -> list[dict[str, Any]]:
    """Check the outline of a ``subblock_stats.json`` document: a list of objects with
    ``args`` objects. The subblocks are read only for the scenario selected."""
    if not isinstance(data, list) or not data:
        raise PuzzleInputError.one(
            source, (), f"expected a non-empty list of scenarios, got {describe(data)}"
        )
    for index, scenario in enumerate(data):
        if not isinstance(scenario, dict) or not isinstance(scenario.get("args"), dict):
            raise PuzzleInputError.one(source, (index,), "expected an object with an 'args' object")
    return data


def _same(a: Any, b: Any) -> bool:
    """JSON equality: a bool is not a number, 1 equals 1.0, lists and objects by content."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def select_scenario(
    scenarios: Sequence[dict[str, Any]],
    wanted: Mapping[str, Any],
    source: str,
    flag: str,
    flag_path: ProblemPath,
) -> Scenario:
    """The one scenario whose ``args`` hold every item of ``wanted``; a located error naming
    the matches when there are none or several."""
    matches = [
        index
        for index, scenario in enumerate(scenarios)
        if all(
            key in scenario["args"] and _same(value, scenario["args"][key])
            for key, value in wanted.items()
        )
    ]
    if len(matches) != 1:
        shown = "; ".join(
            f"$[{index}].args {json.dumps(scenarios[index]['args'])}" for index in matches
        )
        raise PuzzleInputError.one(
            flag,
            flag_path,
            f"must match exactly one scenario of {source}, matches {len(matches)}"
            + (f": {shown}" if matches else ""),
        )
    index = matches[0]
    raw = scenarios[index]
    non_block = raw.get("non_block", {})
    if not isinstance(non_block, dict):
        raise PuzzleInputError.one(
            source, (index, "non_block"), f"expected an object, got {describe(non_block)}"
        )
    entries = raw.get("subblocks")
    if not isinstance(entries, list):
        raise PuzzleInputError.one(
            source, (index, "subblocks"), f"expected a list, got {describe(entries)}"
        )
    subblocks = {}
    for position, entry in enumerate(entries):
        key, stats = _subblock(entry, (index, "subblocks", position), source)
        subblocks[key] = stats
    return Scenario(
        index=index,
        args=raw["args"],
        non_block=_stats_of(non_block, (index, "non_block"), source),
        subblocks=subblocks,
        source=source,
    )


def _add(a: Number | None, b: Number | None) -> Number | None:
    return None if a is None or b is None else a + b


def _largest(a: Number | None, b: Number | None) -> Number | None:
    return None if a is None or b is None else max(a, b)


class MissingSubblockError(LookupError):
    """A subblock the scenario did not measure; ``side`` is ``attention`` or ``ffn``."""

    def __init__(self, side: str, subblock: Any, layer: int | None) -> None:
        self.side = side
        where = "" if layer is None else f" for parent layer {layer}"
        super().__init__(f"the scenario has no stats of this {side}{where}: {subblock!r}")


def block_stats(scenario: Scenario, block: BlockConfig, layer: int | None) -> dict[str, Any]:
    """The stats of ``block`` at parent layer ``layer`` in ``scenario`` (see the module's
    docs). A subblock is looked up with its layer, then without one. Raises
    :class:`MissingSubblockError` for a subblock the scenario did not measure."""
    if block.parallel_blocks is not None:
        members = [block_stats(scenario, member, layer) for member in block.parallel_blocks]
        combined = {}
        for key in members[0]:
            values = [member.get(key) for member in members]
            total = values[0]
            for value in values[1:]:
                total = _add(total, value) if key in _ADDITIVE else _largest(total, value)
            combined[key] = total
        return combined
    sides = []
    for side, subblock in (("attention", block.attention), ("ffn", block.ffn)):
        if subblock is None:
            raise MissingSubblockError(side, subblock, layer)
        found = scenario.subblocks.get((subblock, layer))
        if found is None:
            found = scenario.subblocks.get((subblock, None))
        if found is None:
            raise MissingSubblockError(side, subblock, layer)
        sides.append(found)
    attention_stats, ffn_stats = sides
    attention, ffn = block.attention, block.ffn
    assert attention is not None
    assert ffn is not None
    stats: dict[str, Any] = {}
    for key in attention_stats:
        stats[key] = _add(attention_stats[key], ffn_stats.get(key))
        stats[f"attention_{key}"] = attention_stats[key]
        stats[f"ffn_{key}"] = ffn_stats.get(key)
    has_attention = int(not attention.no_op and attention.mamba is None)
    has_moe = int(ffn.moe is not None)
    stats["has_attention"] = has_attention
    stats["has_ffn"] = int(not ffn.no_op)
    stats["has_moe"] = has_moe
    stats["not_no_op"] = int(not (attention.no_op and ffn.no_op))
    stats["num_kv_heads"] = attention.num_key_value_heads if has_attention else 0
    stats["num_local_experts"] = ffn.moe.num_local_experts if ffn.moe is not None else 0
    return stats


def scenario_folder_names(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    """The folder of each scenario's results: ``key_value`` for every key whose values differ
    between the scenarios (keys in the order they first appear, ``-`` between them, ``.``
    as ``_``), as the reference names them; ``""`` (no folder) for a single scenario."""
    keys: list[str] = []
    for scenario in scenarios:
        keys += [key for key in scenario if key not in keys]
    differing = []
    for key in keys:
        values = [scenario[key] for scenario in scenarios if key in scenario]
        if any(not _same(values[0], value) for value in values[1:]):
            differing.append(key)
    return [
        "-".join(f"{key}_{scenario[key]}".replace(".", "_") for key in differing if key in scenario)
        for scenario in scenarios
    ]
