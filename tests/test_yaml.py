"""YAML in and out: safe loading, strict scalars, block lists and whole configs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from published import SUPER, needs_published

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    ConversionWarning,
    FFNConfig,
    ModelArchitecture,
    UnknownKeyWarning,
)
from block_config._yaml import _yaml, dump_yaml, dumps_yaml, loads_yaml, parse_yaml
from block_config.strategies import block_configs


def _messages(text: str) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        loads_yaml(text)
    return [str(problem) for problem in info.value.problems]


# --------------------------------------------------------------------------- block lists


def test_a_yaml_block_list_reads_like_json() -> None:
    blocks = loads_yaml(
        """
- attention: {num_key_value_heads: 8}
  ffn: {intermediate_size: 28672}
- attention:
    no_op: true
  ffn:
    moe: {num_local_experts: 8, num_experts_per_tok: 2, shared_expert_intermediate_dim: 0}
"""
    )
    assert blocks == [
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 28672}),
        BlockConfig(
            attention={"no_op": True},
            ffn={
                "moe": {
                    "num_local_experts": 8,
                    "num_experts_per_tok": 2,
                    "shared_expert_intermediate_dim": 0,
                }
            },
        ),
    ]


# PyYAML's pure-Python emitter and parser take a varying time per example on a busy machine.
@settings(deadline=None)
@given(st.lists(block_configs(), max_size=4))
def test_block_lists_round_trip_through_yaml(blocks: list[BlockConfig]) -> None:
    text = dumps_yaml(blocks)
    assert loads_yaml(text) == blocks
    # Any YAML 1.1 reader (PyYAML's own safe_load) reads the same data.
    assert yaml.safe_load(text) == [block.to_dict() for block in blocks]


def test_yes_and_on_are_strings_so_bool_fields_refuse_them() -> None:
    assert _messages("- attention: {no_op: yes}\n  ffn: {no_op: on}") == [
        "$[0].attention.no_op: expected bool, got str 'yes'",
        "$[0].ffn.no_op: expected bool, got str 'on'",
    ]
    assert loads_yaml("- attention: {no_op: TRUE}")[0].attention == AttentionConfig(no_op=True)


def test_a_float_where_an_int_belongs_is_an_error() -> None:
    assert _messages("- ffn: {intermediate_size: 28672.0}") == [
        "$[0].ffn.intermediate_size: expected int, got float 28672.0"
    ]


def test_ints_are_yaml_1_2_ints() -> None:
    (block,) = loads_yaml("- ffn: {intermediate_size: 017}")
    assert block.ffn is not None
    assert block.ffn.intermediate_size == 17
    assert parse_yaml("[0o17, 0x1f, -3, +4]") == [15, 31, -3, 4]
    assert _messages("- ffn: {intermediate_size: 1_000}") == [
        "$[0].ffn.intermediate_size: expected int, got str '1_000'"
    ]
    assert parse_yaml("a: 1:30") == {"a": "1:30"}


def test_floats_nulls_and_dates() -> None:
    assert parse_yaml("[1e-05, 1.5, .5, -2E3, ~, null, 2001-12-14]") == [
        1e-05,
        1.5,
        0.5,
        -2000.0,
        None,
        None,
        "2001-12-14",
    ]
    assert parse_yaml("a:\nb: ''") == {"a": None, "b": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: .inf", r"\.inf is not a JSON number"),
        ("a: -.Inf", r"-\.Inf is not a JSON number"),
        ("a: .nan", r"\.nan is not a JSON number"),
        ("a: 1\na: 2", "found the key 'a' twice"),
        ("- a\n---\n- b", "expected a single document"),
        ("[", "invalid YAML"),
        ("a: !!python/object:os.system {}", "could not determine a constructor"),
    ],
)
def test_unsafe_or_ambiguous_yaml_is_an_error(text: str, message: str) -> None:
    with pytest.raises(BlockConfigError, match=message) as info:
        parse_yaml(text)
    assert str(info.value).startswith("$: invalid YAML: ")


def test_parse_yaml_wants_text() -> None:
    with pytest.raises(TypeError, match="expected str or bytes, got int"):
        parse_yaml(1)  # type: ignore[arg-type]
    assert parse_yaml(b"a: 1") == {"a": 1}


def test_unknown_keys_follow_the_mode() -> None:
    text = "- ffn: {intermediate_size: 8, activation: relu2}"
    assert _messages(text)[0].startswith("$[0].ffn.activation: unknown key")
    with pytest.warns(UnknownKeyWarning):
        assert loads_yaml(text, unknown_keys="warn")[0].ffn == FFNConfig(intermediate_size=8)


def test_dumped_strings_are_quoted_when_a_reader_could_misread_them() -> None:
    data: dict[str, Any] = {
        "a": "yes",
        "b": "1e-05",
        "c": "017",
        "d": "on",
        "e": "null",
        "f": "",
        "g": "1:30",
        "h": 1e-05,
        "i": None,
        "j": True,
        "k": 7,
        "l": [1, {"x": "y"}],
    }
    text = dump_yaml(data)
    assert parse_yaml(text) == data
    assert yaml.safe_load(text) == data
    assert list(parse_yaml(text)) == list(data)


# --------------------------------------------------------------------------- whole configs


@needs_published
def test_a_whole_config_round_trips_through_yaml() -> None:
    arch = ModelArchitecture.load(SUPER)
    text = arch.to_yaml()
    again = ModelArchitecture.from_yaml(text)
    assert again == arch
    assert again.to_mapping() == json.loads(SUPER.read_text())


@needs_published
def test_yaml_files_are_read_and_written_by_suffix(tmp_path: Path) -> None:
    arch = ModelArchitecture.load(SUPER)
    for name in ("model.yaml", "model.YML"):
        with pytest.warns(ConversionWarning):
            written = arch.save(tmp_path / name, dialect="native")
        assert (
            yaml.safe_load(written.read_text())["block_configs"][0]["attention"][
                "num_key_value_heads"
            ]
            == 8
        )
        again = ModelArchitecture.load(written)
        assert again.dialect == "native"
        assert again.block_configs == arch.block_configs


def test_a_yaml_config_must_be_a_mapping() -> None:
    with pytest.raises(BlockConfigError, match=r"^\$: expected a mapping, got list"):
        ModelArchitecture.from_yaml("- 1")


def test_yaml_config_problems_carry_config_paths() -> None:
    text = "hidden_size: 8192.0\nnum_attention_heads: 64\nvocab_size: 10\nblock_configs: []\n"
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_yaml(text)
    assert [str(p) for p in info.value.problems] == [
        "$.hidden_size: expected int, got float 8192.0"
    ]


# --------------------------------------------------------------------------- without PyYAML


@pytest.fixture
def no_pyyaml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _yaml.cache_clear()
    monkeypatch.setitem(sys.modules, "yaml", None)
    yield
    _yaml.cache_clear()


@pytest.mark.usefixtures("no_pyyaml")
def test_a_missing_pyyaml_is_a_clear_import_error() -> None:
    with pytest.raises(ImportError, match=r"pip install 'block-config\[yaml\]'"):
        loads_yaml("[]")
    with pytest.raises(ImportError, match="PyYAML"):
        ModelArchitecture.from_yaml("a: 1")


@pytest.mark.parametrize("text", ["\x85", "a\x85b", "\u2028", "\ufeff", "é", "\x17", "\U0006b94b"])
def test_awkward_characters_round_trip(text: str) -> None:
    assert parse_yaml(dump_yaml([text, {text: text}])) == [text, {text: text}]
