"""The documented limits, right at each one (accepted) and just past it (refused, located)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import block_config
from block_config import (
    MAX_BLOCKS,
    MAX_INT,
    MAX_JSON_DEPTH,
    MAX_JSON_SIZE,
    MAX_PARALLEL_DEPTH,
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    ModelArchitecture,
    dumps,
    loads,
    structure_block_configs,
)
from block_config._io import dump_config_json, read_config_json
from block_config._json import json_value_problems, parse_json
from block_config._legacy import structure_legacy_block_configs

TOO_DEEP = f"parallel_blocks nest deeper than {MAX_PARALLEL_DEPTH} levels"


def test_the_limits_are_exported_and_documented() -> None:
    for name in ("MAX_BLOCKS", "MAX_INT", "MAX_JSON_DEPTH", "MAX_JSON_SIZE", "MAX_PARALLEL_DEPTH"):
        assert name in block_config.__all__
    assert (MAX_BLOCKS, MAX_JSON_DEPTH, MAX_JSON_SIZE, MAX_PARALLEL_DEPTH, MAX_INT) == (
        262_144,
        256,
        128 * 1024 * 1024,
        64,
        2**63 - 1,
    )
    # A config.json holding blocks nested to the parallel limit fits the JSON depth limit.
    assert 2 * MAX_PARALLEL_DEPTH + 8 < MAX_JSON_DEPTH


# --------------------------------------------------------------------------- MAX_PARALLEL_DEPTH


def _object_chain(levels: int) -> BlockConfig:
    block = BlockConfig(ffn={"intermediate_size": 8})
    for _ in range(levels):
        block = BlockConfig(parallel_blocks=[block])
    return block


def _dict_chain(levels: int) -> Any:
    doc: Any = {"ffn": {"intermediate_size": 8}}
    for _ in range(levels):
        doc = {"parallel_blocks": [doc]}
    return doc


def _levels(block: BlockConfig) -> int:
    levels = 0
    while block.parallel_blocks:
        (block,) = block.parallel_blocks
        levels += 1
    return levels


def test_parallel_depth_objects_at_the_limit() -> None:
    block = _object_chain(MAX_PARALLEL_DEPTH)
    assert _levels(block) == MAX_PARALLEL_DEPTH
    assert BlockConfig.from_dict(block.to_dict()) == block


def test_parallel_depth_objects_past_the_limit() -> None:
    with pytest.raises(BlockConfigError) as error:
        BlockConfig(parallel_blocks=[_object_chain(MAX_PARALLEL_DEPTH)])
    assert [str(p) for p in error.value.problems] == [f"$.parallel_blocks: {TOO_DEEP}"]


@pytest.mark.parametrize("unknown_keys", ["error", "warn"])  # the fast and the detailed path
def test_parallel_depth_mappings_at_and_past_the_limit(unknown_keys: Any) -> None:
    (block,) = structure_block_configs([_dict_chain(MAX_PARALLEL_DEPTH)], unknown_keys=unknown_keys)
    assert _levels(block) == MAX_PARALLEL_DEPTH
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([_dict_chain(MAX_PARALLEL_DEPTH + 1)], unknown_keys=unknown_keys)
    (problem,) = error.value.problems
    assert problem.message == TOO_DEEP
    assert problem.path == (0, *("parallel_blocks", 0) * MAX_PARALLEL_DEPTH, "parallel_blocks")


def test_parallel_depth_json_text_at_and_past_the_limit() -> None:
    text = dumps([_object_chain(MAX_PARALLEL_DEPTH)])
    assert _levels(loads(text)[0]) == MAX_PARALLEL_DEPTH
    deeper = json.dumps([_dict_chain(MAX_PARALLEL_DEPTH + 1)])
    with pytest.raises(BlockConfigError) as error:
        loads(deeper)
    assert [p.message for p in error.value.problems] == [TOO_DEEP]


# --------------------------------------------------------------------------- MAX_BLOCKS


@pytest.fixture(scope="module")
def one_block() -> BlockConfig:
    return BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 64})


def test_max_blocks_objects_at_and_past_the_limit(one_block: BlockConfig) -> None:
    assert len(structure_block_configs([one_block] * MAX_BLOCKS)) == MAX_BLOCKS
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([one_block] * (MAX_BLOCKS + 1))
    assert [str(p) for p in error.value.problems] == [
        f"$: holds {MAX_BLOCKS + 1} blocks, more than the limit of {MAX_BLOCKS}"
    ]


def test_max_blocks_mappings_at_and_past_the_limit(one_block: BlockConfig) -> None:
    item = one_block.to_dict()
    assert len(structure_block_configs([item] * MAX_BLOCKS)) == MAX_BLOCKS
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([item] * (MAX_BLOCKS + 1), unknown_keys="warn")
    assert [p.path for p in error.value.problems] == [()]


def test_max_blocks_in_parallel_blocks(one_block: BlockConfig) -> None:
    at_limit = BlockConfig(parallel_blocks=[one_block] * MAX_BLOCKS)
    assert len(at_limit.parallel_blocks or ()) == MAX_BLOCKS
    message = f"holds {MAX_BLOCKS + 1} blocks, more than the limit of {MAX_BLOCKS}"
    with pytest.raises(BlockConfigError) as error:
        BlockConfig(parallel_blocks=[one_block] * (MAX_BLOCKS + 1))
    assert [str(p) for p in error.value.problems] == [f"$.parallel_blocks: {message}"]
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs([{"parallel_blocks": [one_block] * (MAX_BLOCKS + 1)}])
    assert [str(p) for p in error.value.problems] == [f"$[0].parallel_blocks: {message}"]


def test_max_blocks_legacy_list() -> None:
    item = {"attention": {"n_heads_in_group": 8}, "ffn": {"ffn_mult": 1.0}}
    with pytest.raises(BlockConfigError) as error:
        structure_legacy_block_configs([item] * (MAX_BLOCKS + 1))
    assert [p.path for p in error.value.problems] == [()]
    assert len(structure_legacy_block_configs([item] * 3)) == 3


HOMOGENEOUS = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_attention_heads": 8,
    "vocab_size": 100,
}


def test_max_blocks_homogeneous_layer_count() -> None:
    dense = {**HOMOGENEOUS, "intermediate_size": 128, "num_key_value_heads": 2}
    arch = ModelArchitecture.from_mapping({**dense, "num_hidden_layers": MAX_BLOCKS})
    assert arch.num_hidden_layers == MAX_BLOCKS
    for layers in (MAX_BLOCKS + 1, 2**62, MAX_INT):
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping({**dense, "num_hidden_layers": layers})
        assert [str(p) for p in error.value.problems] == [
            f"$.num_hidden_layers: gives {layers} layers, more than the limit of {MAX_BLOCKS}"
        ]


def test_max_blocks_hybrid_pattern() -> None:
    hybrid = {**HOMOGENEOUS, "model_type": "nemotron_h", "intermediate_size": 128}
    arch = ModelArchitecture.from_mapping({**hybrid, "hybrid_override_pattern": "-" * MAX_BLOCKS})
    assert arch.num_hidden_layers == MAX_BLOCKS
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(
            {**hybrid, "hybrid_override_pattern": "-" * (MAX_BLOCKS + 1)}
        )
    assert [p.path for p in error.value.problems] == [("hybrid_override_pattern",)]


# --------------------------------------------------------------------------- MAX_INT


@pytest.mark.parametrize("cls", [AttentionConfig, FFNConfig])
def test_max_int_at_and_past_the_limit(cls: type[AttentionConfig] | type[FFNConfig]) -> None:
    name = "num_key_value_heads" if cls is AttentionConfig else "intermediate_size"
    assert getattr(cls.from_dict({name: MAX_INT}), name) == MAX_INT
    with pytest.raises(BlockConfigError) as error:
        cls.from_dict({name: MAX_INT + 1})
    assert [str(p) for p in error.value.problems] == [
        f"$.{name}: expected int from 1 to {MAX_INT}, got {MAX_INT + 1}"
    ]


# --------------------------------------------------------------------------- MAX_JSON_SIZE


def _padded(size: int) -> str:
    """A JSON array of one block, padded with spaces to exactly ``size`` bytes."""
    core = '[{"ffn": {"intermediate_size": 8}}]'
    return core[:-1] + " " * (size - len(core)) + "]"


@pytest.mark.parametrize("kind", [str, bytes, bytearray, memoryview])
def test_json_size_at_and_past_the_limit(kind: Any) -> None:
    def as_kind(text: str) -> Any:
        return text if kind is str else kind(text.encode())

    at_limit = _padded(MAX_JSON_SIZE)
    assert len(at_limit) == MAX_JSON_SIZE
    assert loads(as_kind(at_limit)) == [BlockConfig(ffn={"intermediate_size": 8})]
    with pytest.raises(BlockConfigError) as error:
        loads(as_kind(_padded(MAX_JSON_SIZE + 1)))
    assert [str(p) for p in error.value.problems] == [
        f"$: JSON text of {MAX_JSON_SIZE + 1} bytes is larger than the limit of "
        f"{MAX_JSON_SIZE} bytes"
    ]


def test_json_size_counts_utf8_bytes_of_a_str() -> None:
    # 'é' is two bytes in UTF-8: a str of fewer characters than the limit can be past it.
    name = '"' + "é" * ((MAX_JSON_SIZE - 40) // 2) + '"'
    text = '[{"attention": {"no_op": true, "sparsify": [' + name + "]}}]"
    assert len(text) < MAX_JSON_SIZE < len(text.encode())
    with pytest.raises(BlockConfigError, match="is larger than the limit"):
        parse_json(text)


def _block_of_text_size(size: int) -> list[BlockConfig]:
    """Blocks whose dumps() text is exactly ``size`` bytes."""

    def blocks(name_length: int) -> list[BlockConfig]:
        return [BlockConfig(attention={"no_op": True, "weights_precision": "x" * name_length})]

    base = len(dumps(blocks(0)))
    return blocks(size - base)


def test_dumps_writes_up_to_the_limit_and_refuses_past_it() -> None:
    blocks = _block_of_text_size(MAX_JSON_SIZE)
    text = dumps(blocks)
    assert len(text) == MAX_JSON_SIZE
    assert loads(text) == blocks
    with pytest.raises(BlockConfigError) as error:
        dumps(_block_of_text_size(MAX_JSON_SIZE + 1))
    assert [str(p) for p in error.value.problems] == [
        f"$: JSON text of {MAX_JSON_SIZE + 1} bytes would be larger than the limit of "
        f"{MAX_JSON_SIZE} bytes that loads() reads"
    ]


def test_config_file_size_at_and_past_the_limit(tmp_path: Path) -> None:
    core = json.dumps({**HOMOGENEOUS, "intermediate_size": 128, "num_hidden_layers": 2})
    path = tmp_path / "config.json"
    path.write_text(core[:-1] + " " * (MAX_JSON_SIZE - len(core)) + "}")
    assert path.stat().st_size == MAX_JSON_SIZE
    assert ModelArchitecture.load(path).num_hidden_layers == 2
    path.write_text(core[:-1] + " " * (MAX_JSON_SIZE + 1 - len(core)) + "}")
    with pytest.raises(BlockConfigError) as error:
        read_config_json(path)
    assert [str(p) for p in error.value.problems] == [
        f"$: {path} is larger than the limit of {MAX_JSON_SIZE} bytes"
    ]


def test_a_file_that_never_ends_is_refused_not_swallowed() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(BlockConfigError, match="is larger than the limit"):
        ModelArchitecture.load("/dev/zero")


def test_config_text_past_the_limit_is_not_written() -> None:
    with pytest.raises(BlockConfigError) as error:
        dump_config_json({"padding": "x" * MAX_JSON_SIZE})
    assert [p.path for p in error.value.problems] == [()]
    assert "more than the limit" in str(error.value)


# --------------------------------------------------------------------------- MAX_JSON_DEPTH


def _nested_text(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"k":': "}"}[opener]
    return opener * (depth - 1) + "[]" + closer * (depth - 1)


@pytest.mark.parametrize("opener", ["[", '{"k":'])
def test_json_depth_of_text_at_and_past_the_limit(opener: str) -> None:
    data = parse_json(_nested_text(MAX_JSON_DEPTH, opener))
    depth = 0
    while data:
        data = data[0] if isinstance(data, list) else data["k"]
        depth += 1
    assert depth == MAX_JSON_DEPTH - 1  # the innermost [] is empty
    with pytest.raises(BlockConfigError) as error:
        parse_json(_nested_text(MAX_JSON_DEPTH + 1, opener))
    (problem,) = error.value.problems
    assert problem.message == f"nests deeper than {MAX_JSON_DEPTH} levels"
    assert len(problem.path) == MAX_JSON_DEPTH


def test_json_depth_far_past_the_limit_is_the_parser_error() -> None:
    with pytest.raises(BlockConfigError, match="invalid JSON"):
        parse_json("[" * 100_000)


def _nested_value(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_json_depth_of_values_at_and_past_the_limit() -> None:
    assert json_value_problems(_nested_value(MAX_JSON_DEPTH)) == []
    (problem,) = json_value_problems(_nested_value(MAX_JSON_DEPTH + 1))
    assert len(problem.path) == MAX_JSON_DEPTH
    # Far past: checked without recursion.
    assert len(json_value_problems(_nested_value(100_000))) == 1


@pytest.mark.parametrize("name", ["config.json", "config.yaml"])
def test_config_keeps_values_nested_to_the_limit_and_writes_them_back(
    tmp_path: Path, name: str
) -> None:
    config = {**HOMOGENEOUS, "intermediate_size": 128, "num_hidden_layers": 1}
    config["extra"] = _nested_value(MAX_JSON_DEPTH - 1)  # the config object is level 1
    arch = ModelArchitecture.from_mapping(config)
    path = arch.save(tmp_path / name)
    again = ModelArchitecture.load(path)
    assert again.source["extra"] == config["extra"]
    config["extra"] = _nested_value(MAX_JSON_DEPTH)
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config)
    (problem,) = error.value.problems
    assert problem.path[0] == "extra"
    assert len(problem.path) == MAX_JSON_DEPTH
    path.write_text(json.dumps(config))  # JSON is YAML too
    with pytest.raises(BlockConfigError, match=f"nests deeper than {MAX_JSON_DEPTH} levels"):
        ModelArchitecture.load(path)
