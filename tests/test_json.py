"""JSON text in and out."""

from __future__ import annotations

import json

import pytest

from block_config import BlockConfig, BlockConfigError, FFNConfig, dumps, loads

BLOCKS = [
    BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 28672}),
    BlockConfig(
        attention={"no_op": True}, ffn={"replace_with_linear": True, "intermediate_size": 1}
    ),
    BlockConfig(parallel_blocks=[{"ffn": {"moe": {"shared_expert_intermediate_dim": 0}}}]),
]


def test_round_trip() -> None:
    assert loads(dumps(BLOCKS)) == BLOCKS
    assert loads(dumps(BLOCKS).encode()) == BLOCKS


def test_dumps_writes_every_field() -> None:
    assert json.loads(dumps(BLOCKS)) == [b.to_dict() for b in BLOCKS]


@pytest.mark.parametrize("indent", [None, 0, 2, 4])
def test_indent(indent: int | None) -> None:
    text = dumps(BLOCKS, indent=indent)
    assert json.loads(text) == [b.to_dict() for b in BLOCKS]
    if indent is None:
        assert "\n" not in text
    else:
        assert text.splitlines()[1].startswith(" " * indent + "{")


def test_bad_indent() -> None:
    with pytest.raises(ValueError, match="indent must be"):
        dumps(BLOCKS, indent=-1)


def test_loads_reports_paths() -> None:
    with pytest.raises(BlockConfigError) as error:
        loads('[{"ffn": {"intermediate_size": 4}}, {"ffn": {"intermediate_size": 4.5}}]')
    assert str(error.value) == "$[1].ffn.intermediate_size: expected int, got float 4.5"


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"[",
        b'[{"ffn": ',
        b"\xff\xfe",
        b"[NaN]",
        b"[Infinity]",
        b"[1,]",
        "[" * 2000 + "]" * 2000,
    ],
)
def test_invalid_json_is_a_block_config_error(text: bytes | str) -> None:
    with pytest.raises(BlockConfigError, match=r"^\$: invalid JSON: "):
        loads(text)


def test_unknown_keys_mode() -> None:
    with pytest.warns(UserWarning, match=r"\$\[0\]\.ffn\.ffn_mult: unknown key dropped"):
        blocks = loads('[{"ffn": {"intermediate_size": 4, "ffn_mult": 1.0}}]', unknown_keys="warn")
    assert blocks == [BlockConfig(ffn=FFNConfig(intermediate_size=4))]


def test_loads_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="expected str or bytes"):
        loads([])  # type: ignore[arg-type]
