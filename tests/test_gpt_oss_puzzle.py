"""The gpt_oss_puzzle dialect: nvidia/gpt-oss-puzzle-88B's per-layer windows and expert
counts, read as gpt-oss layers and written back for the engines that load them."""

from __future__ import annotations

import copy
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from block_config import (
    MAX_INT,
    BlockConfig,
    BlockConfigError,
    ConversionWarning,
    FFNConfig,
    ModelArchitecture,
    UnknownKeyWarning,
    model_stats,
)
from block_config._cli import main

DATA = Path(__file__).parent / "data"
PUZZLE_88B = DATA / "dialects" / "gpt-oss-puzzle-88B.reconstructed.config.json"
GPT_OSS_20B = DATA / "families" / "gpt-oss-20b.config.json"

#: transformers 5.25 on the meta device, layer by layer: each GptOssDecoderLayer built from a
#: GptOssConfig carrying that layer's window and expert count (SOURCES.md).
PARAMS_88B = 88_150_438_080


def config(path: Path = PUZZLE_88B) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def messages(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def quietly_written(model: ModelArchitecture, dialect: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        return model.to_mapping(dialect)


class TestThe88B:
    def test_reads_as_its_own_dialect_with_the_released_pattern(self) -> None:
        model = ModelArchitecture.load(PUZZLE_88B)
        assert model.dialect == "gpt_oss_puzzle"
        assert model.model_type == "gpt_oss_puzzle"
        assert model.num_hidden_layers == 36
        windows = Counter(block.attention.sliding_window for block in model.block_configs)  # type: ignore[union-attr]
        assert windows == {None: 10, 128: 18, 8192: 8}
        experts = [block.ffn.moe.num_local_experts for block in model.block_configs]  # type: ignore[union-attr]
        assert Counter(experts) == {128: 18, 64: 18}
        assert experts.index(64) == 15

    def test_count_equals_transformers_layer_by_layer(self) -> None:
        stats = model_stats(ModelArchitecture.load(PUZZLE_88B))
        assert stats.total_params == PARAMS_88B
        assert stats.mtp_params == 0
        assert stats.checkpoint_weight_bytes == stats.weight_bytes

    def test_count_agrees_with_the_model_card(self) -> None:
        # "~88B"; the Hub shows ~91B because it counts the MXFP4 scales (one uint8 per 32
        # expert weights) as parameters.
        model = ModelArchitecture.load(PUZZLE_88B)
        stats = model_stats(model)
        h = model.hidden_size
        experts = [layer.ffn.num_local_experts or 0 for layer in stats.layers]
        expert_weights = sum(count * (h * 2 * h + h * h) for count in experts)
        assert round(stats.total_params / 1e9) == 88
        assert round((stats.total_params + expert_weights // 32) / 1e9) == 91

    def test_unchanged_model_is_written_as_read(self) -> None:
        model = ModelArchitecture.load(PUZZLE_88B)
        assert model.to_mapping() == config()
        assert model.to_mapping("gpt_oss_puzzle") == config()

    def test_native_form_reads_back_to_the_same_layers(self) -> None:
        model = ModelArchitecture.load(PUZZLE_88B)
        native = ModelArchitecture.from_mapping(model.to_mapping("native"))
        assert native.dialect == "native"
        assert native.block_configs == model.block_configs
        assert model_stats(native).total_params == PARAMS_88B


class TestReading:
    def test_a_layer_count_of_null_or_none_comes_from_the_blocks(self) -> None:
        data = config()
        data["num_hidden_layers"] = None
        assert ModelArchitecture.from_mapping(data).num_hidden_layers == 36
        del data["num_hidden_layers"]
        assert ModelArchitecture.from_mapping(data).num_hidden_layers == 36

    def test_a_wrong_layer_count_is_an_error(self) -> None:
        data = config()
        data["num_hidden_layers"] = 24
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == ["$.num_hidden_layers: is 24 but block_configs has 36 items"]

    def test_keys_a_block_leaves_out_are_global(self) -> None:
        data = config()
        data["num_local_experts"] = 32
        del data["block_configs"][2]["num_local_experts"]
        del data["block_configs"][3]["sliding_window"]  # layer_types says sliding
        data["sliding_window"] = 256
        model = ModelArchitecture.from_mapping(data)
        assert model.block_configs[2].ffn.moe.num_local_experts == 32  # type: ignore[union-attr]
        assert model.block_configs[3].attention.sliding_window == 256  # type: ignore[union-attr]
        assert model.block_configs[5].attention.sliding_window == 8192  # type: ignore[union-attr]

    def test_without_layer_types_a_left_out_window_follows_gpt_oss(self) -> None:
        data = config()
        del data["layer_types"]
        for item in data["block_configs"][:2]:
            del item["sliding_window"]
        model = ModelArchitecture.from_mapping(data)
        windows = [block.attention.sliding_window for block in model.block_configs[:2]]  # type: ignore[union-attr]
        assert windows == [128, None]  # gpt-oss: even layers slide, 128 tokens

    def test_layer_types_must_agree_with_the_windows(self) -> None:
        data = config()
        data["layer_types"][1] = "sliding_attention"
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == [
            "$.layer_types[1]: is 'sliding_attention' but block_configs[1].sliding_window is None"
        ]

    def test_a_bad_block_value_is_told_at_the_block(self) -> None:
        data = config()
        data["block_configs"][7]["num_local_experts"] = "64"
        data["block_configs"][9]["num_local_experts"] = 2  # fewer than the 4 per token
        data["block_configs"][4]["sliding_window"] = 0
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == [
            f"$.block_configs[4].sliding_window: expected int from 1 to {MAX_INT}, got 0",
            "$.block_configs[7].num_local_experts: expected int, got str '64'",
            "$.block_configs[9]: with this block's values, $.num_experts_per_tok: must not exceed "
            "num_local_experts (2), got 4",
        ]

    def test_a_global_problem_is_told_once(self) -> None:
        data = config()
        del data["hidden_size"]
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == ["$.hidden_size: missing required key"]

    def test_per_layer_overrides_are_refused_not_ignored(self) -> None:
        data = {**config(), "per_layer_config": {"3": {"num_local_experts": 32}}}
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert [p.path for p in error.value.problems] == [("per_layer_config",)]

    def test_an_unknown_block_key_is_an_error_or_with_warn_dropped(self) -> None:
        data = config()
        data["block_configs"][3]["num_experts_per_tok"] = 2
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == [
            "$.block_configs[3].num_experts_per_tok: unknown key for a gpt_oss_puzzle block "
            "(expected sliding_window, num_local_experts): block-config reads no per-layer "
            "value it does not model"
        ]
        with pytest.warns(UnknownKeyWarning, match=r"\$\.block_configs\[3\]\.num_experts_per_tok"):
            model = ModelArchitecture.from_mapping(data, unknown_keys="warn")
        assert model.block_configs[3].ffn.moe.num_experts_per_tok == 4  # type: ignore[union-attr]

    @pytest.mark.parametrize("blocks", [None, {"0": {}}, "x", [1]])
    def test_block_configs_must_be_a_list_of_objects(self, blocks: Any) -> None:
        data = config()
        data["block_configs"] = blocks
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert all(m.startswith("$.block_configs") for m in messages(error))


def _search_child(model: ModelArchitecture) -> ModelArchitecture:
    """A child as a search on the parent gives: layers 1 and 3 keep 64 of their experts."""
    blocks = list(model.block_configs)
    for index in (1, 3):
        ffn = blocks[index].ffn
        assert ffn is not None
        assert ffn.moe is not None
        moe = attrs.evolve(ffn.moe, num_local_experts=64)
        blocks[index] = attrs.evolve(blocks[index], ffn=attrs.evolve(ffn, moe=moe))
    return model.with_block_configs(blocks)


class TestWriting:
    def test_a_child_of_gpt_oss_is_written_for_the_engines(self) -> None:
        parent = ModelArchitecture.load(GPT_OSS_20B)
        child = _search_child(parent)
        with pytest.warns(ConversionWarning, match="get_gpt_oss_config_for_layer") as caught:
            out = child.to_mapping("gpt_oss_puzzle")
        assert "auto_map" in str(caught[0].message)
        assert "auto_map" not in out
        assert out["model_type"] == "gpt_oss_puzzle"
        assert out["architectures"] == ["GptOssPuzzleForCausalLM"]
        assert out["block_configs"][:4] == [
            {"sliding_window": 128, "num_local_experts": 32},
            {"sliding_window": None, "num_local_experts": 64},
            {"sliding_window": 128, "num_local_experts": 32},
            {"sliding_window": None, "num_local_experts": 64},
        ]
        assert out["layer_types"] == parent.source["layer_types"]
        back = ModelArchitecture.from_mapping(out)
        assert back.dialect == "gpt_oss_puzzle"
        assert back.block_configs == child.block_configs
        assert model_stats(back).total_params == model_stats(child).total_params
        # Nothing else changes: every other key keeps its value.
        changed = {k for k in out if out[k] != parent.source.get(k)}
        assert changed == {"model_type", "architectures", "block_configs"}

    def test_an_auto_map_kept_is_named_in_the_warning(self) -> None:
        model = _search_child(ModelArchitecture.load(PUZZLE_88B))
        model.source["auto_map"] = {"AutoConfig": "configuration_gpt_oss.GptOssConfig"}
        with pytest.warns(ConversionWarning, match="configuration_gpt_oss.GptOssConfig"):
            out = model.to_mapping("gpt_oss_puzzle")
        assert out["auto_map"] == {"AutoConfig": "configuration_gpt_oss.GptOssConfig"}

    def test_what_the_dialect_cannot_say_is_refused_at_the_layer(self) -> None:
        model = ModelArchitecture.load(PUZZLE_88B)
        blocks = list(model.block_configs)
        blocks[2] = attrs.evolve(blocks[2], ffn=FFNConfig(intermediate_size=2880))
        attention = blocks[5].attention
        assert attention is not None
        blocks[5] = attrs.evolve(
            blocks[5], attention=attrs.evolve(attention, num_key_value_heads=4)
        )
        blocks[6] = BlockConfig(attention={"no_op": True}, ffn=blocks[6].ffn)
        with pytest.raises(BlockConfigError) as error:
            quietly_written(model.with_block_configs(blocks), "gpt_oss_puzzle")
        assert messages(error) == [
            "$.block_configs[2].ffn: the gpt_oss_puzzle dialect cannot express a dense FFN "
            "(every gpt-oss layer is a mixture of experts)",
            "$.block_configs[5]: the gpt_oss_puzzle dialect cannot express a layer's own "
            "attention.num_key_value_heads 4 (most layers: 8): its blocks give only "
            "sliding_window and num_local_experts, the rest is global",
            "$.block_configs[6].attention.no_op: the gpt_oss_puzzle dialect cannot express a "
            "layer without attention",
        ]

    def test_a_model_wide_difference_is_refused_by_the_read_back(self) -> None:
        model = attrs.evolve(ModelArchitecture.load(PUZZLE_88B), qk_norm=True)
        with pytest.raises(BlockConfigError) as error:
            quietly_written(model, "gpt_oss_puzzle")
        assert messages(error) == [
            "$.qk_norm: the gpt_oss_puzzle dialect cannot express True (it reads back as False)"
        ]

    def test_refused_writing_leaves_the_source_untouched(self) -> None:
        model = ModelArchitecture.load(PUZZLE_88B)
        before = copy.deepcopy(model.source)
        blocks = list(model.block_configs)
        blocks[0] = BlockConfig(attention={"no_op": True}, ffn={"no_op": True})
        with pytest.raises(BlockConfigError):
            quietly_written(model.with_block_configs(blocks), "gpt_oss_puzzle")
        assert model.source == before

    def test_convert_on_the_command_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        parent = tmp_path / "parent.json"
        parent.write_text(GPT_OSS_20B.read_text(encoding="utf-8"), encoding="utf-8")
        out = tmp_path / "puzzle.json"
        code = main(["convert", str(parent), "--to", "gpt_oss_puzzle", "-o", str(out)])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        written = json.loads(out.read_text(encoding="utf-8"))
        assert written["model_type"] == "gpt_oss_puzzle"
        assert ModelArchitecture.load(out).block_configs == (
            ModelArchitecture.load(GPT_OSS_20B).block_configs
        )
        code = main(["show", str(out)])
        assert code == 0
        assert "gpt_oss_puzzle dialect" in capsys.readouterr().out


_PARENT = ModelArchitecture.load(PUZZLE_88B)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([None, 128, 4096, 8192]), st.sampled_from([16, 32, 64, 128])),
        min_size=1,
        max_size=36,
    )
)
def test_any_child_round_trips(layers: list[tuple[int | None, int]]) -> None:
    blocks = []
    for (window, experts), parent in zip(layers, _PARENT.block_configs, strict=False):
        assert parent.attention is not None
        assert parent.ffn is not None
        assert parent.ffn.moe is not None
        attention = attrs.evolve(parent.attention, sliding_window=window)
        moe = attrs.evolve(parent.ffn.moe, num_local_experts=experts)
        blocks.append(BlockConfig(attention=attention, ffn=attrs.evolve(parent.ffn, moe=moe)))
    child = _PARENT.with_block_configs(blocks)
    out = quietly_written(child, "gpt_oss_puzzle")
    back = ModelArchitecture.from_mapping(out)
    assert back.block_configs == child.block_configs
    assert model_stats(back) == model_stats(child)
    again = ModelArchitecture.from_mapping(quietly_written(back, "native"))
    assert again.block_configs == child.block_configs
