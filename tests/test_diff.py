"""What changed between two models: the Python API behind ``block-config diff``."""

from __future__ import annotations

import doctest
import types
from pathlib import Path

import attrs
import orjson
import pytest
from published import SUPER, needs_published

from block_config import (
    BlockConfig,
    FieldChange,
    ModelArchitecture,
    _diff,
    _stats,
    diff_block_configs,
    diff_models,
    model_stats,
)
from block_config._cli import main


@pytest.mark.parametrize("module", [_diff, _stats])
def test_the_documented_examples_run(module: types.ModuleType) -> None:
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0
    assert failures == 0


@needs_published
def test_a_pruned_child_of_the_super_49b() -> None:
    parent = ModelArchitecture.load(SUPER)
    blocks = list(parent.block_configs)
    blocks[3] = BlockConfig(attention={"no_op": True}, ffn=blocks[3].ffn)
    child = parent.with_block_configs(blocks[:-1])
    diff = diff_models(parent, child)
    assert diff.num_hidden_layers == (80, 79)
    assert diff.model == ()
    assert [layer.index for layer in diff.layers] == [3, 79]
    third = diff.layers[0]
    assert third.only_in is None
    assert third.changes == (
        FieldChange("attention.no_op", False, True),
        FieldChange("attention.num_key_value_heads", 8, None),
    )
    assert third.a_stats is not None
    assert third.b_stats is not None
    assert third.a_stats.params - third.b_stats.params == 151_003_136
    last = diff.layers[1]
    assert last.only_in == "a"
    assert last.changes == ()
    assert last.b_stats is None
    params = diff.total("total_params")
    assert params[0] == 49_867_145_216
    assert params[0] - params[1] == 151_003_136 + 855_654_400
    assert diff.total("kv_cache_bytes_per_token") == (200_704, 200_704 - 2 * 4096)
    data = diff.to_dict()
    assert orjson.loads(orjson.dumps(data)) == data
    assert data["totals"]["kv_cache_bytes_per_token"]["change"] == -8192
    assert data["layers"][1]["only_in"] == "a"


def test_model_level_changes_and_given_stats() -> None:
    block = BlockConfig(attention={"num_key_value_heads": 2}, ffn={"intermediate_size": 8})
    a = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=(block,)
    )
    b = attrs.evolve(a, torch_dtype="float32", vocab_size=20)
    diff = diff_models(a, b, kv_cache_dtype="fp8")
    assert diff.model == (
        FieldChange("vocab_size", 10, 20),
        FieldChange("torch_dtype", None, "float32"),
    )
    assert diff.layers == ()
    assert diff.total("kv_cache_bytes_per_token") == (16, 16)
    given = model_stats(a)
    assert diff_models(a, a, a_stats=given, b_stats=given).a_stats is given


def test_block_lists_without_figures() -> None:
    inner = {"ffn": {"intermediate_size": 8}}
    a = [BlockConfig(parallel_blocks=[inner])]
    b = [BlockConfig(parallel_blocks=[{"ffn": {"intermediate_size": 16}}])]
    diff = diff_block_configs(a, b)
    assert diff.layers[0].changes == (
        FieldChange("parallel_blocks[0].ffn.intermediate_size", 8, 16),
    )
    assert diff.layers[0].a_stats is None
    assert diff.to_dict()["totals"] == {}
    with pytest.raises(ValueError, match="without model dimensions"):
        diff.total("total_params")
    with pytest.raises(ValueError, match="name must be one of"):
        diff.total("params")
    assert diff_block_configs(a, a).layers == ()


MAMBA = {"state_dim": 128, "num_heads": 32, "head_dim": 64, "num_groups": 8}
EXAMPLES = Path(__file__).parent.parent / "examples"


def test_a_field_no_figure_reads_is_no_difference_between_two_linear_blocks() -> None:
    linear = {"replace_with_linear": True}
    a = BlockConfig(
        attention={**linear, "num_key_value_heads": 8},
        ffn={**linear, "intermediate_size": 14336},
    )
    b = BlockConfig(
        attention={**linear, "num_key_value_heads": 32},
        ffn={**linear, "intermediate_size": 4096},
    )
    assert diff_block_configs([a], [b]).layers == ()
    nested = diff_block_configs(
        [BlockConfig(parallel_blocks=[a])], [BlockConfig(parallel_blocks=[b])]
    )
    assert nested.layers == ()
    # A change of kind still shows the field with it.
    gqa = BlockConfig(attention={"num_key_value_heads": 8}, ffn=a.ffn)
    assert diff_block_configs([gqa], [b]).layers[0].changes == (
        FieldChange("attention.replace_with_linear", False, True),
        FieldChange("attention.num_key_value_heads", 8, 32),
    )


def test_an_object_on_one_side_only_is_one_change_with_the_whole_object() -> None:
    mamba = BlockConfig(attention={"mamba": MAMBA}, ffn={"no_op": True})
    gqa = BlockConfig(attention={"num_key_value_heads": 8}, ffn={"no_op": True})
    changes = diff_block_configs([mamba], [gqa]).layers[0].changes
    assert changes == (
        FieldChange("attention.num_key_value_heads", None, 8),
        FieldChange("attention.mamba", MAMBA, None),
    )
    backwards = diff_block_configs([gqa], [mamba]).layers[0].changes
    assert FieldChange("attention.mamba", None, MAMBA) in backwards
    # Both sides have the object: leaf by leaf.
    wider = BlockConfig(attention={"mamba": {**MAMBA, "state_dim": 64}}, ffn={"no_op": True})
    assert diff_block_configs([mamba], [wider]).layers[0].changes == (
        FieldChange("attention.mamba.state_dim", 128, 64),
    )


def test_a_parallel_block_on_one_side_only_is_one_change() -> None:
    first = {"ffn": {"intermediate_size": 8}}
    second = {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 16}}
    one = BlockConfig(parallel_blocks=[first])
    two = BlockConfig(parallel_blocks=[first, second])
    changes = diff_block_configs([one], [two]).layers[0].changes
    assert [(change.path, change.a) for change in changes] == [("parallel_blocks[1]", None)]
    assert changes[0].b == two.to_dict()["parallel_blocks"][1]


def test_the_diff_command_never_shows_null_to_null(capsys: pytest.CaptureFixture[str]) -> None:
    hybrid = EXAMPLES / "hybrid-native.config.json"
    pruned = EXAMPLES / "pruned-blocks.json"
    assert main(["diff", str(hybrid), str(pruned)]) == 0
    lines = capsys.readouterr().out.splitlines()
    mamba = orjson.dumps(MAMBA).decode()
    assert lines[2:5] == [
        "layer 0: mamba / no_op -> gqa(8 KV) / dense 28,672",
        "    attention.num_key_value_heads: null -> 8",
        f"    attention.mamba: {mamba} -> null",
    ]
    assert not [line for line in lines if "null -> null" in line or "mamba." in line]
    assert main(["diff", str(hybrid), str(pruned), "--json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    changes = [change for layer in data["layers"] for change in layer["changes"]]
    assert {"path": "attention.mamba", "a": MAMBA, "b": None} in changes
    assert not [change for change in changes if change["a"] is None and change["b"] is None]
    assert not [change for change in changes if change["path"].startswith("attention.mamba.")]


def test_the_fields_written_only_when_set_are_compared_too() -> None:
    plain = BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 8})
    windowed = BlockConfig(
        attention={"num_key_value_heads": 8, "sliding_window": 4096},
        ffn={"intermediate_size": 8, "gated": False},
    )
    diff = diff_block_configs([plain], [windowed])
    (layer,) = diff.layers
    assert [(c.path, c.a, c.b) for c in layer.changes] == [
        ("attention.sliding_window", None, 4096),
        ("ffn.gated", None, False),
    ]


def test_a_layer_turned_into_linear_attention_changes_kv_cache_and_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    linear = {
        "kind": "gdn",
        "num_key_heads": 2,
        "key_head_dim": 8,
        "num_value_heads": 4,
        "value_head_dim": 8,
    }
    gated = {"attention": {"num_key_value_heads": 2, "output_gate": True}, "ffn": {"no_op": True}}
    common = {"hidden_size": 16, "num_attention_heads": 4, "vocab_size": 10}
    a = {**common, "block_configs": [gated, gated]}
    b = {**common, "block_configs": [gated, {**gated, "attention": {"linear_attention": linear}}]}
    diff = diff_models(ModelArchitecture.from_mapping(a), ModelArchitecture.from_mapping(b))
    (layer,) = diff.layers
    assert [c.path for c in layer.changes] == [
        "attention.num_key_value_heads",
        "attention.output_gate",
        "attention.linear_attention",
    ]
    state = (2 * 2 * 8 + 4 * 8) * 3 * 2 + 4 * 8 * 8 * 2
    totals = diff.to_dict()["totals"]
    assert totals["linear_attention_state_bytes_per_sequence"] == {
        "a": 0,
        "b": state,
        "change": state,
    }
    assert totals["kv_cache_bytes_per_token"]["change"] == -2 * 2 * 4 * 2
    for name, config in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(orjson.dumps(config).decode())
    main(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert f"linear state bytes/seq 0 -> {state:,} (+{state:,})" in out
