"""Memory bounded by the input: the per-document block budget and the peak of a load.

Loading a ``config.json`` (:meth:`ModelArchitecture.load`) keeps its peak traced memory
under ``MEMORY_PER_BYTE`` times the file's size plus ``MEMORY_FIXED`` (the layer list of a
homogeneous config, which states its layer count in a few bytes). Measured with tracemalloc
on the shapes that amplify most: many layers, many tiny parallel blocks, many empty arrays
deep in a kept key, many deep chains. The default run measures small instances; the
``fuzz`` nox session (``BLOCK_CONFIG_FUZZ_CASES`` set) the sizes up to the limits.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from block_config import (
    MAX_BLOCKS,
    MAX_JSON_DEPTH,
    BlockConfig,
    BlockConfigError,
    ModelArchitecture,
    structure_block_configs,
)
from block_config._json import json_value_problems, parse_json

#: Peak traced memory of a load, per byte of input. The measured worst is 67, for tiny
#: parallel blocks (``{}``: orjson builds a 64-byte dict for 3 bytes, and its writing them
#: back for the duplicate-key count reserves about 85 bytes per value for a moment); deep
#: chains and empty arrays take about 45, layers of real blocks about 20.
MEMORY_PER_BYTE = 80
#: Plus this much, whatever the input (a homogeneous config's 262,144 layers take 4.2 MiB).
MEMORY_FIXED = 16 * 2**20

LONG = "BLOCK_CONFIG_FUZZ_CASES" in os.environ
long_only = pytest.mark.skipif(not LONG, reason="long: run by the fuzz nox session")

_DIMS = '"model_type": "llama", "hidden_size": 64, "num_attention_heads": 8, "vocab_size": 100'
_NO_OP = '{"attention": {"no_op": true}, "ffn": {"no_op": true}}'


def _layers(count: int) -> str:
    block = '{"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 256}}'
    items = ",".join([block] * count)
    return f'{{{_DIMS}, "num_hidden_layers": {count}, "block_configs": [{items}]}}'


def _parallel(per_layer: int, layers: int = 2) -> str:
    inner = ",".join(["{}"] * per_layer)
    block = _NO_OP[:-1] + f', "parallel_blocks": [{inner}]}}'
    return f'{{{_DIMS}, "block_configs": [{",".join([block] * layers)}]}}'


def _siblings(count: int) -> str:
    """``count`` empty arrays side by side at the deepest level a kept key may reach."""
    depth = MAX_JSON_DEPTH - 2  # under the config object, the empty arrays at the limit
    junk = "[" * depth + ",".join(["[]"] * count) + "]" * depth
    return f'{{{_DIMS}, "block_configs": [{_NO_OP}], "junk": {junk}}}'


def _chains(count: int) -> str:
    chain = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    return f'{{{_DIMS}, "block_configs": [{_NO_OP}], "junk": [{",".join([chain] * count)}]}}'


def _homogeneous(layers: int) -> str:
    return (
        f'{{{_DIMS}, "num_hidden_layers": {layers}, "num_key_value_heads": 8, '
        '"intermediate_size": 256}'
    )


def _peak_of_load(path: Path) -> tuple[int, ModelArchitecture | BlockConfigError]:
    tracemalloc.start()
    try:
        try:
            result: ModelArchitecture | BlockConfigError = ModelArchitecture.load(path)
        except BlockConfigError as error:
            result = error
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def _check_bound(tmp_path: Path, text: str) -> ModelArchitecture | BlockConfigError:
    path = tmp_path / "config.json"
    path.write_text(text)
    size = path.stat().st_size
    peak, result = _peak_of_load(path)
    bound = MEMORY_PER_BYTE * size + MEMORY_FIXED
    assert peak <= bound, f"peak {peak} bytes for {size} bytes of input (bound {bound})"
    return result


SHAPES: list[tuple[str, Callable[[], str]]] = [
    ("16k layers", lambda: _layers(16_384)),
    ("2 x 16k parallel {}", lambda: _parallel(16_384)),
    ("100k [] at depth 256", lambda: _siblings(100_000)),
    ("400 chains 254 deep", lambda: _chains(400)),
]
LONG_SHAPES: list[tuple[str, Callable[[], str]]] = [
    ("65k layers", lambda: _layers(65_536)),
    ("262k layers", lambda: _layers(MAX_BLOCKS)),
    ("2 x 131k parallel {} (the budget)", lambda: _parallel(MAX_BLOCKS // 2 - 1)),
    ("500k [] at depth 256", lambda: _siblings(500_000)),
    ("2200 chains 254 deep", lambda: _chains(2_200)),
]


@pytest.mark.parametrize(("name", "make"), SHAPES, ids=[name for name, _ in SHAPES])
def test_peak_memory_of_a_load_is_bounded_by_the_input(
    name: str, make: Callable[[], str], tmp_path: Path
) -> None:
    result = _check_bound(tmp_path, make())
    assert isinstance(result, ModelArchitecture), (name, result)


@long_only
@pytest.mark.parametrize(("name", "make"), LONG_SHAPES, ids=[name for name, _ in LONG_SHAPES])
def test_peak_memory_of_a_load_is_bounded_by_the_input_up_to_the_limits(
    name: str, make: Callable[[], str], tmp_path: Path
) -> None:
    result = _check_bound(tmp_path, make())
    assert isinstance(result, ModelArchitecture), (name, result)


def test_homogeneous_layer_count_at_the_limit_stays_within_the_fixed_allowance(
    tmp_path: Path,
) -> None:
    result = _check_bound(tmp_path, _homogeneous(MAX_BLOCKS))
    assert isinstance(result, ModelArchitecture)
    assert result.num_hidden_layers == MAX_BLOCKS


@long_only
def test_parallel_blocks_past_the_budget_are_refused_within_the_bound(tmp_path: Path) -> None:
    # The shape that took 1.7 GiB: two lists, each within the per-list limit.
    result = _check_bound(tmp_path, _parallel(MAX_BLOCKS))
    assert isinstance(result, BlockConfigError)
    assert [str(p).split(":")[0] for p in result.problems] == ["$.block_configs[0].parallel_blocks"]


# --------------------------------------------------------------------------- the budget


def test_blocks_at_all_levels_count_towards_one_budget() -> None:
    half: list[dict[str, object]] = [{}] * (MAX_BLOCKS // 2)
    # Each list within the per-list limit, the document past it.
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"parallel_blocks": half}, {"parallel_blocks": half}])
    assert [str(p) for p in error.value.problems] == [
        f"$[1].parallel_blocks: brings the blocks at all levels of parallel_blocks to more "
        f"than the limit of {MAX_BLOCKS}"
    ]
    # Right at the budget: 2 top-level blocks and their children.
    below: list[dict[str, object]] = [{}] * (MAX_BLOCKS // 2 - 1)
    blocks = structure_block_configs([{"parallel_blocks": below}, {"parallel_blocks": below}])
    assert sum(len(b.parallel_blocks or ()) for b in blocks) + 2 == MAX_BLOCKS


def test_the_budget_counts_shared_objects_each_time_they_appear() -> None:
    # 512 x 512 x 512 blocks from a few objects: refused after counting up to the limit,
    # instead of walked (or written, or counted in stats) 134 million times.
    leaf = BlockConfig()
    middle = BlockConfig(parallel_blocks=[leaf] * 512)
    wide = BlockConfig(parallel_blocks=[middle] * 500)
    with pytest.raises(BlockConfigError) as error:
        BlockConfig(parallel_blocks=[wide] * 512)
    (problem,) = error.value.problems
    # 512 + 256,500 blocks under the first; the second's children pass the limit.
    assert problem.path[:3] == ("parallel_blocks", 1, "parallel_blocks")
    assert problem.path[-1] == "parallel_blocks"
    with pytest.raises(BlockConfigError):
        structure_block_configs([wide] * 2)
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture(
            hidden_size=64, num_attention_heads=8, vocab_size=100, block_configs=[wide, wide]
        )
    assert error.value.problems[0].path[:2] == ("block_configs", 1)


def test_the_budget_is_kept_by_the_detailed_path_too() -> None:
    half: list[dict[str, object]] = [{}] * (MAX_BLOCKS // 2)
    # An unknown key sends the list to the detailed path; the budget still holds.
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs(
            [{"parallel_blocks": half, "x": 1}, {"parallel_blocks": half}], unknown_keys="warn"
        )
    assert "limit" in str(error.value)


# --------------------------------------------------------------------------- JSON walks


def test_depth_walks_keep_no_path_per_value() -> None:
    text = _siblings(200_000)
    data = parse_json(text)  # the depth pre-check runs: brackets outnumber the limit
    tracemalloc.start()
    try:
        assert json_value_problems(data) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A path tuple of 256 keys per empty array took over 2 KB each, 400 MB here.
    assert peak < 1 * 2**20, peak
    tracemalloc.start()
    try:
        parse_json(text)
        parse_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parse_peak < MEMORY_PER_BYTE * len(text), (parse_peak, len(text))


def test_json_value_problems_paths_are_still_exact() -> None:
    value = {"a": [1, {"b": float("nan"), 3: None}], "c": [[[["\ud800"]]]], "d": (1,)}
    assert [str(p) for p in json_value_problems(value, ("source",))] == [
        "$.source.a[1].b: JSON has no nan",
        "$.source.a[1]['3']: JSON object keys are text, got int 3",
        "$.source.c[0][0][0][0]: a str with a lone surrogate, which UTF-8 cannot encode",
        "$.source.d: not a JSON value: tuple",
    ]


def test_the_budget_walk_visits_at_most_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work counted, not timed: every block the walk looks at comes from an enumerate().
    from block_config import _converter

    visited = 0

    def counting(items: Any) -> Any:
        nonlocal visited
        for pair in enumerate(items):
            visited += 1
            yield pair

    leaf = BlockConfig()
    middle = BlockConfig(parallel_blocks=[leaf] * 512)
    wide = BlockConfig(parallel_blocks=[middle] * 500)  # 256,500 blocks below it
    monkeypatch.setattr(_converter, "enumerate", counting, raising=False)
    with pytest.raises(BlockConfigError):
        structure_block_configs([wide] * 512)  # 131 million blocks, as written out
    assert visited <= MAX_BLOCKS + 512
    visited = 0
    blocks = structure_block_configs([middle] * 100)
    assert len(blocks) == 100
    assert visited == 100 + 100 * 512  # each block once: linear in the blocks
