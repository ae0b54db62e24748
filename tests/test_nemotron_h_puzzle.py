"""The nemotron_h_puzzle dialect (both forms of MoE blocks, global fallbacks, a null layer
count, MTP blocks), its parent Nemotron-3-Super with latent MoE and MTP, and writing the
dialect for children of that parent."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from block_config import (
    BlockConfigError,
    ConversionWarning,
    ModelArchitecture,
    MoEConfig,
    MTPLayers,
    UnknownKeyWarning,
    model_stats,
)
from block_config._cli import main

DIALECTS = Path(__file__).parent / "data" / "dialects"
GLOBAL_MOE = DIALECTS / "nemotron-h-puzzle-75B-shaped-global-moe.config.json"
BLOCK_MOE = DIALECTS / "nemotron-h-puzzle-trtllm-blocks.config.json"
BRIDGE_TOY = DIALECTS / "nemotron-h-puzzle-megatron-bridge-toy.config.json"
SUPER = DIALECTS / "NVIDIA-Nemotron-3-Super-120B-A12B.reconstructed.config.json"

#: transformers 5.25 on the meta device (SOURCES.md): the Puzzle files layer by layer, each
#: NemotronHBlock built from a NemotronHConfig carrying that block's values; the Super as a
#: whole NemotronHForCausalLM. MTP: its blocks the same way, plus eh_proj and three norms as
#: vLLM's nemotron_h_mtp.py builds them (transformers builds no MTP layer).
COUNTS = {
    GLOBAL_MOE: (5_486_751_616, 2_942_324_736),
    BLOCK_MOE: (4_887_547_648, 2_942_324_736),
    SUPER: (120_668_687_360, 2_942_324_736),
}


def config(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def messages(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def quietly_written(model: ModelArchitecture, dialect: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        return model.to_mapping(dialect)


@pytest.mark.parametrize("path", list(COUNTS), ids=lambda p: p.name)
def test_counts_equal_transformers(path: Path) -> None:
    stats = model_stats(ModelArchitecture.load(path))
    assert (stats.total_params, stats.mtp_params) == COUNTS[path]
    assert stats.checkpoint_weight_bytes > stats.weight_bytes


class TestReading:
    def test_global_moe_form(self) -> None:
        model = ModelArchitecture.load(GLOBAL_MOE)
        assert model.dialect == "nemotron_h_puzzle"
        assert model.num_hidden_layers == 4  # num_hidden_layers is null
        moe = model.block_configs[1].ffn.moe  # type: ignore[union-attr]
        assert moe is not None
        assert (moe.num_local_experts, moe.num_experts_per_tok) == (512, 4)
        assert (moe.expert_intermediate_dim, moe.shared_expert_intermediate_dim) == (1280, 5376)
        assert moe.latent_dim == 1024
        assert model.block_configs[0].attention.mamba.state_dim == 96  # type: ignore[union-attr]
        assert model.mtp is not None
        assert model.mtp.num_layers == 1
        assert len(model.mtp.block_configs) == 2

    def test_both_forms_read_the_same_layers(self) -> None:
        # The same blocks, once with the MoE values global, once in each block.
        data = config(GLOBAL_MOE)
        per_block = config(GLOBAL_MOE)
        for key in ("n_routed_experts", "moe_latent_size", "moe_shared_expert_intermediate_size"):
            value = per_block.pop(key)
            for item in per_block["block_configs"] + per_block["mtp_block_configs"]:
                if item["block_type"] == "moe":
                    item[key] = value
        a, b = ModelArchitecture.from_mapping(data), ModelArchitecture.from_mapping(per_block)
        assert a.block_configs == b.block_configs
        assert a.mtp == b.mtp

    def test_a_block_value_wins_over_the_global_one(self) -> None:
        data = config(GLOBAL_MOE)
        data["block_configs"][1]["n_routed_experts"] = 256
        data["block_configs"][0]["ssm_state_size"] = 128
        data["block_configs"][2]["sliding_window"] = 4096
        model = ModelArchitecture.from_mapping(data)
        assert model.block_configs[1].ffn.moe.num_local_experts == 256  # type: ignore[union-attr]
        assert model.block_configs[3].ffn.moe.num_local_experts == 512  # type: ignore[union-attr]
        assert model.block_configs[0].attention.mamba.state_dim == 128  # type: ignore[union-attr]
        assert model.block_configs[2].attention.sliding_window == 4096  # type: ignore[union-attr]

    def test_an_impossible_toy_is_refused_where_it_is_wrong(self) -> None:
        # The Megatron-Bridge unit-test config: its MTP block asks 22 of the 16 experts.
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.load(BRIDGE_TOY)
        assert messages(error) == [
            "$.mtp_block_configs[1].num_experts_per_tok: must not exceed n_routed_experts "
            "(16), got 22"
        ]
        data = config(BRIDGE_TOY)
        data["mtp_block_configs"][1]["num_experts_per_tok"] = 8
        model = ModelArchitecture.from_mapping(data)
        assert model.num_hidden_layers == 4
        assert model.block_configs[3].ffn.moe.expert_intermediate_dim == 768  # type: ignore[union-attr]

    def test_unknown_block_types_and_keys(self) -> None:
        data = config(GLOBAL_MOE)
        data["block_configs"][0]["block_type"] = "mixer"
        data["block_configs"][1]["routed_scaling_factor"] = 2.5
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == [
            "$.block_configs[0].block_type: expected one of attention, mamba, mlp, moe, got "
            "str 'mixer'",
            "$.block_configs[1].routed_scaling_factor: unknown key for a moe block (expected "
            "block_type, moe_intermediate_size, num_experts_per_tok, n_routed_experts, "
            "moe_shared_expert_intermediate_size, moe_latent_size): block-config reads no "
            "per-layer value it does not model",
        ]
        data["block_configs"][0]["block_type"] = "mamba"
        with pytest.warns(UnknownKeyWarning, match=r"block_configs\[1\]\.routed_scaling"):
            ModelArchitecture.from_mapping(data, unknown_keys="warn")

    def test_a_missing_value_is_told_at_the_block(self) -> None:
        data = config(GLOBAL_MOE)
        del data["n_routed_experts"]
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == ["$.n_routed_experts: missing required key"]

    def test_the_layer_pattern_must_agree_with_the_blocks(self) -> None:
        data = config(GLOBAL_MOE)
        data["layers_block_type"][2] = "mamba"
        data["hybrid_override_pattern"] = "MEME"
        data["num_hidden_layers"] = 5
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error) == [
            "$.num_hidden_layers: is 5 but block_configs has 4 items",
            "$.layers_block_type[2]: is str 'mamba' but block_configs[2] is a attention block",
            "$.hybrid_override_pattern: is str 'MEME' but block_configs gives 'ME*E'",
        ]

    @pytest.mark.parametrize("key", ["per_layer_config", "mtp_per_layer_config"])
    def test_per_layer_overrides_are_refused_not_ignored(self, key: str) -> None:
        data = {**config(GLOBAL_MOE), key: {"1": {"moe_intermediate_size": 512}}}
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert [problem.path for problem in error.value.problems] == [(key,)]

    def test_mtp_blocks_without_mtp_layers_are_an_error(self) -> None:
        data = config(GLOBAL_MOE)
        data["num_nextn_predict_layers"] = 0
        with pytest.raises(BlockConfigError) as error:
            ModelArchitecture.from_mapping(data)
        assert messages(error)[0].startswith("$.num_nextn_predict_layers: is 0 but")
        del data["mtp_block_configs"]
        assert ModelArchitecture.from_mapping(data).mtp is None

    def test_mtp_from_the_pattern_when_there_are_no_mtp_blocks(self) -> None:
        # Megatron-Bridge's fallback: mtp_hybrid_override_pattern, with global values.
        data = config(GLOBAL_MOE)
        del data["mtp_block_configs"]
        data["num_experts_per_tok"] = 22
        data["moe_intermediate_size"] = 2688
        data["mtp_hybrid_override_pattern"] = "*E"
        model = ModelArchitecture.from_mapping(data)
        assert model.mtp == ModelArchitecture.load(GLOBAL_MOE).mtp


class TestTheParent:
    def test_latent_moe_and_mtp(self) -> None:
        model = ModelArchitecture.load(SUPER)
        assert model.dialect == "homogeneous"
        kinds = [
            "moe" if b.ffn is not None and b.ffn.moe is not None else "other"
            for b in model.block_configs
        ]
        assert kinds.count("moe") == 40
        assert model.mtp is not None
        assert model.mtp.own_embeddings is False
        moe = model.mtp.block_configs[1].ffn.moe  # type: ignore[union-attr]
        assert moe is not None
        assert moe.latent_dim == 1024

    def test_show_reports_the_mtp_layers_apart(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["show", str(SUPER)]) == 0
        out = capsys.readouterr().out
        assert "MTP layers:      2,942,324,736 (2.942 B) more in the checkpoint" in out
        assert "parameters:      120,668,687,360" in out
        assert main(["show", "--json", str(SUPER)]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["total_params"] == 120_668_687_360
        assert document["mtp_params"] == 2_942_324_736
        assert document["checkpoint_weight_bytes"] > document["weight_bytes"]


def _child(parent: ModelArchitecture, experts: int) -> ModelArchitecture:
    """A child as a search on the parent gives: the first MoE layer keeps fewer experts of
    a narrower width, top-8."""
    blocks = list(parent.block_configs)
    index = next(i for i, b in enumerate(blocks) if b.ffn is not None and b.ffn.moe is not None)
    ffn = blocks[index].ffn
    assert ffn is not None
    assert ffn.moe is not None
    moe = attrs.evolve(
        ffn.moe, num_local_experts=experts, num_experts_per_tok=8, expert_intermediate_dim=1280
    )
    blocks[index] = attrs.evolve(blocks[index], ffn=attrs.evolve(ffn, moe=moe))
    return parent.with_block_configs(blocks)


class TestWriting:
    def test_a_child_of_the_super_is_written_for_the_engines(self) -> None:
        parent = ModelArchitecture.load(SUPER)
        child = _child(parent, 512)
        with pytest.warns(ConversionWarning, match="configuration_nemotron_h_puzzle"):
            out = child.to_mapping("nemotron_h_puzzle")
        assert out["model_type"] == "nemotron_h_puzzle"
        assert out["architectures"] == ["NemotronHPuzzleForCausalLM"]
        assert "auto_map" not in out
        assert out["block_configs"][:2] == [
            {"block_type": "mamba"},
            {"block_type": "moe", "moe_intermediate_size": 1280, "num_experts_per_tok": 8},
        ]
        assert out["block_configs"][3] == {
            "block_type": "moe",
            "moe_intermediate_size": 2688,
            "num_experts_per_tok": 22,
        }
        assert out["mtp_block_configs"] == [
            {"block_type": "attention"},
            {"block_type": "moe", "moe_intermediate_size": 2688, "num_experts_per_tok": 22},
        ]
        assert out["num_hidden_layers"] == 88
        assert out["layers_block_type"][:3] == ["mamba", "moe", "mamba"]
        assert out["mtp_layers_block_type"] == ["attention", "moe"]
        # Blockwise values leave the globals, the pattern is derived from the blocks.
        for key in (
            "moe_intermediate_size",
            "num_experts_per_tok",
            "hybrid_override_pattern",
            "mtp_hybrid_override_pattern",
        ):
            assert key not in out
        assert (out["n_routed_experts"], out["moe_latent_size"]) == (512, 1024)
        back = ModelArchitecture.from_mapping(out)
        assert back.block_configs == child.block_configs
        assert back.mtp == child.mtp
        stats, again = model_stats(child), model_stats(back)
        assert (again.total_params, again.mtp_params) == (stats.total_params, stats.mtp_params)
        # Every other key keeps its value.
        kept = {k for k in parent.source if k in out and out[k] == parent.source[k]}
        changed = set(parent.source) - kept
        assert changed == {
            "architectures",
            "model_type",
            "hybrid_override_pattern",
            "mtp_hybrid_override_pattern",
            "moe_intermediate_size",
            "num_experts_per_tok",
        }

    def test_varying_expert_counts_go_in_every_moe_block(self) -> None:
        child = _child(ModelArchitecture.load(SUPER), 256)
        out = quietly_written(child, "nemotron_h_puzzle")
        assert "n_routed_experts" not in out
        moe_blocks = [
            b for b in out["block_configs"] + out["mtp_block_configs"] if b["block_type"] == "moe"
        ]
        assert [b["n_routed_experts"] for b in moe_blocks[:2]] == [256, 512]
        assert all("n_routed_experts" in b for b in moe_blocks)
        assert ModelArchitecture.from_mapping(out).block_configs == child.block_configs

    def test_an_unchanged_puzzle_file_is_written_as_read(self) -> None:
        for path in (GLOBAL_MOE, BLOCK_MOE):
            model = ModelArchitecture.load(path)
            assert model.to_mapping() == config(path)

    def test_a_puzzle_file_reads_back_from_the_native_dialect(self) -> None:
        model = ModelArchitecture.load(BLOCK_MOE)
        native = ModelArchitecture.from_mapping(model.to_mapping("native"))
        assert native.dialect == "native"
        assert native.model_type == "nemotron_h"
        assert native.block_configs == model.block_configs
        assert native.mtp == model.mtp

    def test_what_the_dialect_cannot_say_is_refused_at_the_layer(self) -> None:
        model = ModelArchitecture.load(GLOBAL_MOE)
        blocks = list(model.block_configs)
        blocks[1] = attrs.evolve(blocks[1], attention=blocks[2].attention)
        attention = blocks[2].attention
        assert attention is not None
        blocks[2] = attrs.evolve(
            blocks[2], attention=attrs.evolve(attention, num_key_value_heads=4)
        )
        mtp = MTPLayers(num_layers=1, block_configs=model.mtp.block_configs, own_embeddings=True)  # type: ignore[union-attr]
        changed = attrs.evolve(model.with_block_configs(blocks), mtp=mtp)
        with pytest.raises(BlockConfigError) as error:
            quietly_written(changed, "nemotron_h_puzzle")
        assert messages(error) == [
            "$.block_configs[1]: the nemotron_h_puzzle dialect cannot express a layer with "
            "both a mixer and an FFN (a Nemotron-H layer has one)",
            "$.mtp.own_embeddings: the nemotron_h_puzzle dialect cannot express MTP layers "
            "with their own embedding and head (Nemotron-H's share the model's)",
        ]
        # A layer's own KV heads: global in this dialect, told at the layer that differs.
        assert model.mtp is not None
        first = model.mtp.block_configs[0]
        assert first.attention is not None
        narrow = attrs.evolve(first, attention=attrs.evolve(first.attention, num_key_value_heads=4))
        mtp = attrs.evolve(model.mtp, block_configs=(narrow, *model.mtp.block_configs[1:]))
        with pytest.raises(BlockConfigError) as error:
            quietly_written(attrs.evolve(model, mtp=mtp), "nemotron_h_puzzle")
        assert messages(error) == [
            "$.mtp.block_configs[0]: the nemotron_h_puzzle dialect cannot express a layer's "
            "own num_key_value_heads (4, where block_configs[2] has 2): it is global"
        ]

    def test_convert_on_the_command_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "puzzle.json"
        code = main(["convert", str(SUPER), "--to", "nemotron_h_puzzle", "-o", str(out)])
        assert code == 0, capsys.readouterr().err
        assert main(["show", str(out)]) == 0
        shown = capsys.readouterr().out
        assert "nemotron_h_puzzle dialect" in shown
        assert "MTP layers:      2,942,324,736" in shown


_SUPER = ModelArchitecture.load(SUPER)


@st.composite
def _moe(draw: st.DrawFn, parent: MoEConfig) -> MoEConfig:
    experts = draw(st.sampled_from([64, 256, 512]))
    return attrs.evolve(
        parent,
        num_local_experts=experts,
        num_experts_per_tok=draw(st.integers(1, 22)),
        expert_intermediate_dim=draw(st.sampled_from([1280, 2048, 2688])),
        shared_expert_intermediate_dim=draw(st.sampled_from([0, 5376])),
        latent_dim=draw(st.sampled_from([None, 512, 1024])),
    )


@st.composite
def _children(draw: st.DrawFn) -> ModelArchitecture:
    blocks = []
    for block in _SUPER.block_configs[: draw(st.integers(1, 24))]:
        attention, ffn = block.attention, block.ffn
        if ffn is not None and ffn.moe is not None:
            blocks.append(attrs.evolve(block, ffn=attrs.evolve(ffn, moe=draw(_moe(ffn.moe)))))
        elif attention is not None and attention.mamba is not None:
            mamba = attrs.evolve(attention.mamba, state_dim=draw(st.sampled_from([96, 128])))
            blocks.append(attrs.evolve(block, attention=attrs.evolve(attention, mamba=mamba)))
        else:
            assert attention is not None
            window = draw(st.sampled_from([None, 4096]))
            blocks.append(
                attrs.evolve(block, attention=attrs.evolve(attention, sliding_window=window))
            )
    child = _SUPER.with_block_configs(blocks)
    assert child.mtp is not None
    first, moe_block = child.mtp.block_configs
    assert moe_block.ffn is not None
    assert moe_block.ffn.moe is not None
    moe = draw(_moe(moe_block.ffn.moe))
    mtp_moe = attrs.evolve(moe_block, ffn=attrs.evolve(moe_block.ffn, moe=moe))
    mtp = attrs.evolve(child.mtp, block_configs=(first, mtp_moe))
    mtp_or_none = draw(st.sampled_from([None, mtp]))
    # Nemotron-H's routers carry a score-correction bias: a model-wide fact where MoE layers are.
    routed = any(b.ffn is not None and b.ffn.moe is not None for b in blocks) or mtp_or_none
    return attrs.evolve(child, mtp=mtp_or_none, router_score_correction_bias=bool(routed))


@settings(max_examples=30, deadline=None)
@given(_children())
def test_any_child_round_trips(child: ModelArchitecture) -> None:
    out = quietly_written(child, "nemotron_h_puzzle")
    back = ModelArchitecture.from_mapping(out)
    assert back.block_configs == child.block_configs
    assert back.mtp == child.mtp
    assert model_stats(back) == model_stats(child)
    again = ModelArchitecture.from_mapping(quietly_written(back, "native"))
    assert (again.block_configs, again.mtp) == (child.block_configs, child.mtp)


def test_a_search_on_the_super_writes_its_child_in_the_dialect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("scipy", reason="search needs the search extra")
    library = tmp_path / "library.json"
    assert main(["candidates", str(SUPER), "--experts", "256", "-o", str(library)]) == 0
    data = json.loads(library.read_text(encoding="utf-8"))
    for layer in data["layers"]:  # a loss: none for the parent's own block
        for position, candidate in enumerate(layer):
            candidate["score"] = 0.0 if position == 0 else 1.0
    library.write_text(json.dumps(data), encoding="utf-8")
    child = tmp_path / "child.json"
    argv = ["search", str(SUPER), "--library", str(library), "--max-params", "100000000000"]
    assert main([*argv, "-o", str(child), "--to", "nemotron_h_puzzle"]) == 0
    captured = capsys.readouterr()
    assert "nemotron_h_puzzle is loaded by code the checkpoint must bring" in captured.err
    written = json.loads(child.read_text(encoding="utf-8"))
    assert written["model_type"] == "nemotron_h_puzzle"
    model = ModelArchitecture.load(child)
    assert model_stats(model).total_params <= 100_000_000_000
    experts = {
        block.ffn.moe.num_local_experts
        for block in model.block_configs
        if block.ffn is not None and block.ffn.moe is not None
    }
    assert experts == {256, 512}
