"""ModelArchitecture: reading, checking and writing whole config.json files."""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest
from published import SUPER, ULTRA, needs_published

from block_config import BlockConfig, BlockConfigError, ConversionWarning, UnknownKeyWarning
from block_config._model import ModelArchitecture


def _config(path: Path = SUPER) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _native_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architectures": ["SomeForCausalLM"],
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_hidden_layers": 2,
        "vocab_size": 32000,
        "rope_scaling": {"factor": 8.0, "rope_type": "llama3"},
        "future_key": {"nested": [1, 2.5, None]},
        "block_configs": [
            {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 14336}},
            {"attention": {"no_op": True}, "ffn": {"intermediate_size": 4096}},
        ],
    }
    config.update(overrides)
    return config


def _messages(error: BlockConfigError) -> list[str]:
    return [str(problem) for problem in error.problems]


# --------------------------------------------------------------------------- loading


@needs_published
def test_the_super_49b_file_loads_with_its_published_figures() -> None:
    arch = ModelArchitecture.load(SUPER)
    assert arch.dialect == "legacy"
    assert (arch.hidden_size, arch.num_attention_heads, arch.head_dim) == (8192, 64, 128)
    assert (arch.vocab_size, arch.num_hidden_layers) == (128256, 80)
    assert arch.tie_word_embeddings is False
    assert arch.torch_dtype == "bfloat16"
    attention = [b.attention for b in arch.block_configs if b.attention is not None]
    assert sum(1 for a in attention if a.num_key_value_heads == 8) == 49
    assert sum(1 for a in attention if a.no_op) == 31
    assert arch.legacy_block_configs is not None
    assert len(arch.legacy_block_configs) == 80


@needs_published
def test_the_ultra_253b_file_loads_from_its_model_folder(tmp_path: Path) -> None:
    shutil.copy(ULTRA, tmp_path / "config.json")
    arch = ModelArchitecture.load(tmp_path)
    assert arch.num_hidden_layers == 162
    assert arch.hidden_size == 16384
    assert arch == ModelArchitecture.load(str(tmp_path / "config.json"))


def test_a_missing_file_or_config_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"holds no config\.json"):
        ModelArchitecture.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        ModelArchitecture.load(tmp_path / "absent.json")


def test_invalid_json_and_non_objects_are_block_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{")
    with pytest.raises(BlockConfigError, match="invalid JSON"):
        ModelArchitecture.load(path)
    path.write_text("[]")
    with pytest.raises(BlockConfigError, match="holds a JSON object, got an array"):
        ModelArchitecture.load(path)
    with pytest.raises(BlockConfigError, match=r"expected a config\.json object, got list"):
        ModelArchitecture.from_mapping([])  # type: ignore[arg-type]


def test_a_native_config_loads_and_keeps_its_source() -> None:
    config = _native_config()
    arch = ModelArchitecture.from_mapping(config)
    assert arch.dialect == "native"
    assert arch.head_dim == 128
    assert arch.block_configs[0].attention is not None
    assert arch.block_configs[0].attention.num_key_value_heads == 8
    assert arch.source == config
    assert arch.source is not config
    assert arch.legacy_block_configs is None


def test_detection_uses_the_keys_then_the_model_type() -> None:
    dummy = [{"attention": {"no_op": True}, "ffn": {"no_op": True}}]
    base = _native_config(block_configs=dummy, num_hidden_layers=1)
    assert ModelArchitecture.from_mapping(base).dialect == "native"
    legacy = {**base, "model_type": "nemotron-nas"}
    assert ModelArchitecture.from_mapping(legacy).dialect == "legacy"
    assert ModelArchitecture.from_mapping(legacy, dialect="native").dialect == "native"
    with pytest.raises(ValueError, match="dialect must be one of"):
        ModelArchitecture.from_mapping(base, dialect="yaml")  # type: ignore[arg-type]


def test_mixed_dialects_are_refused_at_the_block_configs() -> None:
    config = _native_config()
    config["block_configs"][1]["ffn"] = {"ffn_mult": 1.0}
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs: mixes the legacy and the native dialect: $[1].ffn.ffn_mult is legacy, "
        "$[0].attention.num_key_value_heads is native"
    ]


@needs_published
def test_problems_are_rooted_at_the_config_and_all_reported() -> None:
    config = _config()
    config["hidden_size"] = "8192"
    config["vocab_size"] = 0
    config["tie_word_embeddings"] = "false"
    config["block_configs"][3]["attention"]["n_heads_in_group"] = 8.0
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.hidden_size: expected int, got str '8192'",
        "$.vocab_size: expected int from 1 to 9223372036854775807, got 0",
        "$.tie_word_embeddings: expected bool, got str 'false'",
        "$.block_configs[3].attention.n_heads_in_group: expected int, got float 8.0",
    ]


@needs_published
def test_legacy_translation_problems_carry_config_paths() -> None:
    config = _config()
    config["block_configs"][5]["attention"]["n_heads_in_group"] = 7
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs[5].attention.n_heads_in_group: 7 does not divide num_attention_heads (64)"
    ]


def test_native_block_problems_carry_config_paths() -> None:
    config = _native_config()
    config["block_configs"][1]["ffn"]["intermediate_size"] = 3.7
    config["block_configs"][0]["attention"]["num_key_value_heads"] = 5
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    # The item that reads is checked too: both problems at once.
    assert _messages(info.value) == [
        "$.block_configs[1].ffn.intermediate_size: expected int, got float 3.7",
        "$.block_configs[0].attention.num_key_value_heads: 5 does not divide "
        "num_attention_heads (32)",
    ]
    config["block_configs"][1]["ffn"]["intermediate_size"] = 4096
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs[0].attention.num_key_value_heads: 5 does not divide "
        "num_attention_heads (32)"
    ]


def test_the_layer_count_must_match() -> None:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(_native_config(num_hidden_layers=3))
    assert _messages(info.value) == ["$.num_hidden_layers: is 3 but block_configs has 2 items"]
    without = _native_config()
    del without["num_hidden_layers"]
    assert ModelArchitecture.from_mapping(without).num_hidden_layers == 2


@needs_published
def test_legacy_type_translation_and_layer_count_problems_are_all_reported() -> None:
    config = _config()
    config["block_configs"][5]["ffn"]["ffn_mult"] = "1.0"
    config["block_configs"][3]["attention"]["n_heads_in_group"] = 7
    config["num_hidden_layers"] = 81
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs[5].ffn.ffn_mult: expected float, got str '1.0'",
        "$.block_configs[3].attention.n_heads_in_group: 7 does not divide num_attention_heads (64)",
        "$.num_hidden_layers: is 81 but block_configs has 80 items",
    ]
    # A translation problem alone still comes with the layer count.
    config["block_configs"][5]["ffn"]["ffn_mult"] = 1.0
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs[3].attention.n_heads_in_group: 7 does not divide num_attention_heads (64)",
        "$.num_hidden_layers: is 81 but block_configs has 80 items",
    ]


def test_native_block_and_layer_count_problems_are_all_reported() -> None:
    config = _native_config(num_hidden_layers=3)
    config["block_configs"][1]["ffn"]["intermediate_size"] = "4096"
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.block_configs[1].ffn.intermediate_size: expected int, got str '4096'",
        "$.num_hidden_layers: is 3 but block_configs has 2 items",
    ]
    # Blocks that all read: the KV-head check comes with the layer count.
    config["block_configs"][1]["ffn"]["intermediate_size"] = 4096
    config["block_configs"][0]["attention"]["num_key_value_heads"] = 5
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.num_hidden_layers: is 3 but block_configs has 2 items",
        "$.block_configs[0].attention.num_key_value_heads: 5 does not divide "
        "num_attention_heads (32)",
    ]


def test_required_keys_and_nulls() -> None:
    config = _native_config(vocab_size=None, head_dim=None, torch_dtype=None)
    del config["hidden_size"]
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert _messages(info.value) == [
        "$.hidden_size: missing required key",
        "$.vocab_size: expected int, got null",
    ]


def test_head_dim_defaults_and_can_be_given() -> None:
    assert ModelArchitecture.from_mapping(_native_config(head_dim=None)).head_dim == 128
    assert ModelArchitecture.from_mapping(_native_config(head_dim=96)).head_dim == 96
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(_native_config(hidden_size=4100))
    assert _messages(info.value) == [
        "$.head_dim: not given, and hidden_size (4100) is not a multiple of "
        "num_attention_heads (32)"
    ]
    assert (
        ModelArchitecture.from_mapping(_native_config(hidden_size=4100, head_dim=128)).head_dim
        == 128
    )


def test_unknown_block_keys_follow_the_unknown_keys_mode() -> None:
    config = _native_config()
    config["block_configs"][0]["ffn"]["act"] = "relu2"
    with pytest.raises(BlockConfigError, match=r"\$\.block_configs\[0\]\.ffn\.act: unknown"):
        ModelArchitecture.from_mapping(config)
    with pytest.warns(UnknownKeyWarning, match=r"^\$\.block_configs\[0\]\.ffn\.act: unknown"):
        arch = ModelArchitecture.from_mapping(config, unknown_keys="warn")
    assert arch.num_hidden_layers == 2


@needs_published
def test_unknown_legacy_keys_warn_at_their_config_path() -> None:
    config = _config()
    config["block_configs"][4]["ffn"]["act"] = "relu2"
    with pytest.warns(UnknownKeyWarning, match=r"^\$\.block_configs\[4\]\.ffn\.act: unknown"):
        arch = ModelArchitecture.from_mapping(config, unknown_keys="warn")
    assert arch.num_hidden_layers == 80


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(BlockConfigError, match="keys must be strings"):
        ModelArchitecture.from_mapping({1: 2})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- constructing


def test_the_constructor_structures_mappings_and_checks_everything() -> None:
    arch = ModelArchitecture(
        hidden_size=4096,
        num_attention_heads=32,
        vocab_size=32000,
        block_configs=[{"attention": {"num_key_value_heads": 8}, "ffn": {"no_op": True}}],
    )
    assert type(arch.block_configs) is tuple
    assert type(arch.block_configs[0]) is BlockConfig
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture(
            hidden_size=True,
            num_attention_heads=32,
            vocab_size=32000,
            block_configs=[{"attention": {"num_key_value_heads": 8.0}}],
        )
    assert _messages(info.value) == [
        "$.block_configs[0].attention.num_key_value_heads: expected int, got float 8.0"
    ]
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture(
            hidden_size=True,
            num_attention_heads=32,
            vocab_size=32000,
            block_configs=(),
            mlp_bias=1,  # type: ignore[arg-type]
            torch_dtype=16,  # type: ignore[arg-type]
            dialect="yaml",  # type: ignore[arg-type]
        )
    assert _messages(info.value) == [
        "$.hidden_size: expected int, got bool True",
        "$.mlp_bias: expected bool, got int 1",
        "$.torch_dtype: expected str or null, got int 16",
        "$.dialect: expected one of ('native', 'legacy', 'homogeneous', 'per-layer', "
        "'gpt_oss_puzzle', 'nemotron_h_puzzle'), got str 'yaml'",
    ]


def test_kv_heads_in_parallel_blocks_must_divide_too() -> None:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture(
            hidden_size=4096,
            num_attention_heads=32,
            vocab_size=32000,
            block_configs=[
                {"parallel_blocks": [{"attention": {"num_key_value_heads": 3}}]},
                {"attention": {"replace_with_linear": True, "num_key_value_heads": 3}},
            ],
        )
    assert _messages(info.value) == [
        "$.block_configs[0].parallel_blocks[0].attention.num_key_value_heads: "
        "3 does not divide num_attention_heads (32)"
    ]


def test_block_configs_must_be_a_list() -> None:
    with pytest.raises(BlockConfigError, match=r"^\$\.block_configs: expected a list"):
        ModelArchitecture(
            hidden_size=1,
            num_attention_heads=1,
            vocab_size=1,
            block_configs={"a": 1},  # type: ignore[dict-item]
        )


@needs_published
def test_with_block_configs_keeps_legacy_items_only_for_the_same_layer_count() -> None:
    arch = ModelArchitecture.load(SUPER)
    same = arch.with_block_configs(list(arch.block_configs))
    assert same.legacy_block_configs == arch.legacy_block_configs
    fewer = arch.with_block_configs(arch.block_configs[:-1])
    assert fewer.legacy_block_configs is None
    assert fewer.num_hidden_layers == 79
    with pytest.raises(BlockConfigError, match="legacy_block_configs: has 80 items"):
        attrs.evolve(arch, block_configs=arch.block_configs[:-1])


# --------------------------------------------------------------------------- writing


@needs_published
@pytest.mark.parametrize("path", [SUPER, ULTRA])
def test_load_and_save_gives_the_same_bytes(path: Path, tmp_path: Path) -> None:
    arch = ModelArchitecture.load(path)
    written = arch.save(tmp_path)
    assert written == tmp_path / "config.json"
    assert written.read_bytes() == path.read_bytes()
    assert arch.to_mapping() == _config(path)


@needs_published
def test_saving_changes_only_what_changed() -> None:
    config = _config()
    arch = ModelArchitecture.load(SUPER)
    changed = attrs.evolve(arch, vocab_size=128512, tie_word_embeddings=True)
    blocks = list(changed.block_configs)
    blocks[1] = BlockConfig(attention={"num_key_value_heads": 4}, ffn={"intermediate_size": 5632})
    out = changed.with_block_configs(blocks).to_mapping()
    expected = copy.deepcopy(config)
    expected["vocab_size"] = 128512
    expected["tie_word_embeddings"] = True
    expected["block_configs"][1]["attention"]["n_heads_in_group"] = 16
    expected["block_configs"][1]["ffn"]["ffn_mult"] = 1.03125  # 3 * 5632 / (2 * 8192)
    assert out == expected
    assert list(out) == list(config)


@needs_published
def test_legacy_to_native_and_back_in_memory_reproduces_the_block_configs() -> None:
    config = _config()
    arch = ModelArchitecture.load(SUPER)
    with pytest.warns(
        ConversionWarning,
        match=r"in 14 layers \(\$\.block_configs\[54\]\.ffn\.ffn_mult 1\.0 -> 1\.03125;",
    ):
        native = arch.to_mapping("native")
    assert {k: v for k, v in native.items() if k != "block_configs"} == {
        k: v for k, v in config.items() if k != "block_configs"
    }
    assert native["block_configs"][1] == {
        "attention": {
            "no_op": False,
            "replace_with_linear": False,
            "sparsify": None,
            "weights_precision": "bf16",
            "num_key_value_heads": 8,
            "llama4": None,
            "mamba": None,
        },
        "ffn": {
            "no_op": False,
            "replace_with_linear": False,
            "sparsify": None,
            "weights_precision": "bf16",
            "moe": None,
            "intermediate_size": 28672,
        },
        "parallel_blocks": None,
    }
    reread = ModelArchitecture.from_mapping(native)
    assert reread.dialect == "native"
    assert reread.block_configs == arch.block_configs
    assert arch.to_mapping("legacy") == config
    # Through a native file the legacy spelling is not kept: sizes survive, not ffn_mult text.
    fresh = reread.to_mapping("legacy")
    assert ModelArchitecture.from_mapping(fresh).block_configs == arch.block_configs


def test_a_fresh_object_writes_its_owned_keys_only() -> None:
    arch = ModelArchitecture(
        hidden_size=4096,
        num_attention_heads=32,
        vocab_size=32000,
        block_configs=[
            {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 14336}}
        ],
        head_dim=64,
        mlp_bias=True,
        torch_dtype="bfloat16",
    )
    out = arch.to_mapping()
    assert out == {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "vocab_size": 32000,
        "head_dim": 64,
        "mlp_bias": True,
        "torch_dtype": "bfloat16",
        "block_configs": [arch.block_configs[0].to_dict()],
        "num_hidden_layers": 1,
    }
    assert ModelArchitecture.from_mapping(out) == arch
    legacy = arch.to_mapping("legacy")
    assert legacy["block_configs"][0]["attention"]["n_heads_in_group"] == 4
    assert legacy["block_configs"][0]["ffn"]["ffn_mult"] == 5.25  # 3 * 14336 / (2 * 4096)
    with pytest.raises(
        ValueError, match=r"dialect must be one of \(.native., .legacy., .per-layer."
    ):
        arch.to_mapping("homogeneous")  # type: ignore[arg-type]


@needs_published
def test_sink_settings_and_no_op_windows_refuse_the_native_dialect() -> None:
    config = _config()
    config["block_configs"][6]["attention"]["window_length"] = 4096  # a no-op attention
    config["block_configs"][2]["attention"]["unshifted_sink"] = True
    arch = ModelArchitecture.from_mapping(config)
    assert arch.to_mapping() == config
    with pytest.raises(BlockConfigError) as info:
        arch.to_mapping("native")
    assert [str(p).split(":")[0] for p in info.value.problems] == [
        "$.block_configs[2].attention.unshifted_sink",
        "$.block_configs[6].attention.window_length",
    ]


@needs_published
def test_a_legacy_window_is_the_native_sliding_window() -> None:
    config = _config()
    config["block_configs"][0]["attention"]["window_length"] = 4096
    arch = ModelArchitecture.from_mapping(config)
    assert arch.block_configs[0].attention is not None
    assert arch.block_configs[0].attention.sliding_window == 4096
    assert arch.to_mapping() == config
    with pytest.warns(ConversionWarning, match="keeps intermediate sizes, not ffn_mult"):
        native = arch.to_mapping("native")
    assert native["block_configs"][0]["attention"]["sliding_window"] == 4096
    assert "sliding_window" not in native["block_configs"][1]["attention"]
    again = ModelArchitecture.from_mapping(native)
    assert again.block_configs == arch.block_configs
    assert again.to_mapping("legacy")["block_configs"][0]["attention"]["window_length"] == 4096


def test_legacy_refusals_carry_config_paths() -> None:
    arch = ModelArchitecture.from_mapping(_native_config())
    moe = arch.with_block_configs(
        [BlockConfig(attention={"no_op": True}, ffn={"moe": {}}), *arch.block_configs[1:]]
    )
    with pytest.raises(BlockConfigError, match=r"^\$\.block_configs\[0\]\.ffn\.moe: the legacy"):
        moe.to_mapping("legacy")


def test_writing_legacy_from_another_dialect_nulls_the_model_level_sizes() -> None:
    config = _native_config(num_key_value_heads=8, intermediate_size=14336)
    out = ModelArchitecture.from_mapping(config).to_mapping("legacy")
    assert out["num_key_value_heads"] is None
    assert out["intermediate_size"] is None
    assert out["future_key"] == config["future_key"]


def test_dtype_is_written_to_the_key_the_file_uses() -> None:
    config = _native_config(dtype="float16")
    arch = ModelArchitecture.from_mapping(config)
    assert arch.torch_dtype == "float16"
    out = attrs.evolve(arch, torch_dtype="bfloat16").to_mapping()
    assert out["dtype"] == "bfloat16"
    assert "torch_dtype" not in out
    assert arch.to_mapping() == config


def test_unchanged_native_blocks_keep_their_spelling() -> None:
    config = _native_config()
    arch = ModelArchitecture.from_mapping(config)
    assert arch.to_mapping() == config
    out = attrs.evolve(arch, head_dim=64).to_mapping()
    assert out["head_dim"] == 64
    assert out["block_configs"] == config["block_configs"]


@needs_published
def test_save_is_atomic_and_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    shutil.copy(SUPER, path)
    os.chmod(path, 0o640)
    arch = ModelArchitecture.load(path)
    attrs.evolve(arch, vocab_size=1000).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text())["vocab_size"] == 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


@needs_published
def test_head_dim_is_written_when_its_derivation_would_change() -> None:
    arch = ModelArchitecture.load(SUPER)
    assert "head_dim" not in arch.to_mapping()
    wider = attrs.evolve(arch, hidden_size=16384)
    out = wider.to_mapping()
    assert out["head_dim"] == 128
    assert ModelArchitecture.from_mapping(out).head_dim == 128
    odd = ModelArchitecture(
        hidden_size=4100, num_attention_heads=32, vocab_size=8, block_configs=(), head_dim=128
    )
    assert odd.to_mapping()["head_dim"] == 128


def test_an_absent_layer_count_stays_absent_unless_the_object_is_fresh() -> None:
    config = _native_config()
    del config["num_hidden_layers"]
    arch = ModelArchitecture.from_mapping(config)
    assert "num_hidden_layers" not in arch.to_mapping()
    fresh = ModelArchitecture(
        hidden_size=64, num_attention_heads=8, vocab_size=8, block_configs=arch.block_configs
    )
    assert fresh.to_mapping()["num_hidden_layers"] == 2


@needs_published
def test_a_relabelled_dialect_still_finds_what_changed() -> None:
    config = _config()
    arch = attrs.evolve(ModelArchitecture.load(SUPER), dialect="native")
    with pytest.warns(ConversionWarning):
        out = arch.to_mapping()
    assert out["block_configs"][0]["attention"]["num_key_value_heads"] == 8
    assert {k: v for k, v in out.items() if k != "block_configs"} == {
        k: v for k, v in config.items() if k != "block_configs"
    }


@needs_published
def test_architectures_hash_pickle_and_compare_by_value() -> None:
    arch = ModelArchitecture.load(SUPER)
    again = ModelArchitecture.load(SUPER)
    assert hash(arch) == hash(again)
    assert len({arch, again}) == 1
    restored = pickle.loads(pickle.dumps(arch))
    assert restored == arch
    assert restored.to_mapping() == arch.to_mapping()
    assert attrs.evolve(arch, vocab_size=1) != arch
