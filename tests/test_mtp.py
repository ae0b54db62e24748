"""Multi-token-prediction layers: read from DeepSeek-V3 and Nemotron-H configs, counted apart
from the model (``mtp_params``, ``checkpoint_weight_bytes``), and kept by the native dialect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import (
    MAX_INT,
    BlockConfigError,
    ModelArchitecture,
    MTPLayers,
    diff_models,
    model_stats,
)
from block_config._cli import EXIT_OK, main

FAMILIES = Path(__file__).parent / "data" / "families"
DEEPSEEK_V3 = FAMILIES / "DeepSeek-V3.config.json"
NANO = FAMILIES / "NVIDIA-Nemotron-3-Nano-30B-A3B.config.json"

#: transformers 5.25's DeepseekV3ForCausalLM on the meta device (61 layers, no MTP layer).
DEEPSEEK_V3_PARAMS = 671_026_404_352
#: The published checkpoint's safetensors total (BF16 + F8_E4M3 tensors): the model and its
#: MTP layer model.layers.61.* (see tests/data/families/EXPECTED.json).
DEEPSEEK_V3_CHECKPOINT = 684_489_830_400


def config(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_deepseek_v3_mtp_layer_completes_the_published_checkpoint_total() -> None:
    model = ModelArchitecture.load(DEEPSEEK_V3)
    assert model.mtp is not None
    assert model.mtp.num_layers == 1
    assert model.mtp.own_embeddings is True
    # The MTP layer is one of the MoE decoder layers.
    assert model.mtp.block_configs == (model.block_configs[-1],)
    stats = model_stats(model)
    assert stats.total_params == DEEPSEEK_V3_PARAMS
    assert stats.total_params + stats.mtp_params == DEEPSEEK_V3_CHECKPOINT
    h, vocab = model.hidden_size, model.vocab_size
    layer = stats.layers[-1]
    assert stats.mtp_params == layer.params + 2 * vocab * h + 2 * h * h + 3 * h
    assert stats.checkpoint_weight_bytes - stats.weight_bytes == (
        layer.weight_bytes + 2 * (2 * vocab * h + 2 * h * h + 3 * h)
    )


def test_without_mtp_layers_nothing_is_added() -> None:
    data = config(DEEPSEEK_V3)
    data["num_nextn_predict_layers"] = 0
    model = ModelArchitecture.from_mapping(data)
    assert model.mtp is None
    stats = model_stats(model)
    assert (stats.mtp_params, stats.checkpoint_weight_bytes) == (0, stats.weight_bytes)
    assert model_stats(ModelArchitecture.load(NANO)).mtp_params == 0


def test_two_mtp_layers_count_twice() -> None:
    data = config(DEEPSEEK_V3)
    one = model_stats(ModelArchitecture.from_mapping(data)).mtp_params
    data["num_nextn_predict_layers"] = 2
    assert model_stats(ModelArchitecture.from_mapping(data)).mtp_params == 2 * one


@pytest.mark.parametrize(
    ("keys", "kinds"),
    [
        ({}, ["gqa", "moe"]),  # transformers' default: attention, then MoE
        ({"mtp_hybrid_override_pattern": "*-"}, ["gqa", "dense"]),
        ({"mtp_layers_block_type": ["mamba", "moe"]}, ["mamba", "moe"]),
    ],
)
def test_nemotron_h_mtp_layer_kinds(keys: dict[str, Any], kinds: list[str]) -> None:
    data = {**config(NANO), "num_nextn_predict_layers": 1, "intermediate_size": 1024, **keys}
    model = ModelArchitecture.from_mapping(data)
    assert model.mtp is not None
    stats = model_stats(model)
    h = model.hidden_size
    blocks = [
        model_stats(model.with_block_configs([block])).layers[0]
        for block in model.mtp.block_configs
    ]
    seen = [b.attention.kind if b.attention.kind != "no_op" else b.ffn.kind for b in blocks]
    assert seen == kinds
    assert stats.mtp_params == sum(b.params for b in blocks) + 2 * h * h + 3 * h


def test_a_bad_mtp_pattern_is_told_at_its_key() -> None:
    data = {**config(NANO), "num_nextn_predict_layers": 1, "mtp_hybrid_override_pattern": "*X"}
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(data)
    assert [str(p) for p in error.value.problems] == [
        "$.mtp_hybrid_override_pattern: unknown layer kind 'X' at position 1 (expected M, -, "
        "* or E)"
    ]


def test_the_native_dialect_keeps_the_mtp_layers() -> None:
    model = ModelArchitecture.load(DEEPSEEK_V3)
    out = model.to_mapping("native")
    assert out["num_nextn_predict_layers"] == 1
    assert out["mtp_own_embeddings"] is True
    assert len(out["mtp_block_configs"]) == 1
    back = ModelArchitecture.from_mapping(out)
    assert back.mtp == model.mtp
    assert model_stats(back).mtp_params == model_stats(model).mtp_params
    del out["mtp_block_configs"]
    with pytest.raises(BlockConfigError, match=r"\$\.mtp_block_configs: missing"):
        ModelArchitecture.from_mapping(out)


def test_mtp_layers_are_checked() -> None:
    block = {"attention": {"num_key_value_heads": 3}, "ffn": {"intermediate_size": 8}}
    with pytest.raises(BlockConfigError) as error:
        MTPLayers(num_layers=0, block_configs=[])
    assert [str(p) for p in error.value.problems] == [
        f"$.mtp.num_layers: expected int from 1 to {MAX_INT}, got 0",
        "$.mtp.block_configs: an MTP layer has at least one block",
    ]
    mtp = MTPLayers(num_layers=1, block_configs=[block])
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture(
            hidden_size=64, num_attention_heads=4, vocab_size=10, block_configs=[], mtp=mtp
        )
    assert [str(p) for p in error.value.problems] == [
        "$.mtp.block_configs[0].attention.num_key_value_heads: 3 does not divide "
        "num_attention_heads (4)"
    ]


def test_diff_tells_the_mtp_layers_apart() -> None:
    model = ModelArchitecture.load(DEEPSEEK_V3)
    data = config(DEEPSEEK_V3)
    data["num_nextn_predict_layers"] = 2
    two = ModelArchitecture.from_mapping(data)
    diff = diff_models(model, two)
    assert [(c.path, c.a, c.b) for c in diff.model] == [("mtp.num_layers", 1, 2)]
    assert diff.total("total_params") == (DEEPSEEK_V3_PARAMS, DEEPSEEK_V3_PARAMS)
    one = DEEPSEEK_V3_CHECKPOINT - DEEPSEEK_V3_PARAMS
    assert diff.total("mtp_params") == (one, 2 * one)
    del data["num_nextn_predict_layers"]
    none = diff_models(model, ModelArchitecture.from_mapping(data))
    assert [c.path for c in none.model] == ["mtp"]
    assert none.model[0].b is None
    assert none.model[0].a["num_layers"] == 1


def test_a_model_without_its_mtp_layers_is_written_native_without_them() -> None:
    # The MTP layer taken away: the config it was read from still says it has one.
    source = FAMILIES / "DeepSeek-V3.2-Exp.config.json"
    model = attrs.evolve(ModelArchitecture.load(source), mtp=None)
    assert model.source["num_nextn_predict_layers"] == 1
    out = model.to_mapping("native")
    assert out["num_nextn_predict_layers"] == 0
    assert ModelArchitecture.from_mapping(out).block_configs == model.block_configs


# ------------------------------------------------------------------ the families of 2026

#: tests/data/families/EXPECTED.json: the published figures and how each was derived.
EXPECTED: dict[str, dict[str, Any]] = config(FAMILIES / "EXPECTED.json")
ALL_FIXTURES = sorted(EXPECTED)
MTP_FIXTURES = sorted(name for name, entry in EXPECTED.items() if "mtp_layer_params" in entry)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_each_fixture_counts_its_mtp_layers_apart(name: str) -> None:
    entry = EXPECTED[name]
    stats = model_stats(ModelArchitecture.load(FAMILIES / name))
    assert stats.mtp_params == entry.get("mtp_layer_params", 0)
    # The model transformers builds is unchanged by them (the text model of a wrapper).
    assert stats.total_params == entry.get("text_params", entry["total_params"])


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if "checkpoint_params" in EXPECTED[n]))
def test_the_mtp_layers_complete_the_published_checkpoint_total(name: str) -> None:
    entry = EXPECTED[name]
    stats = model_stats(ModelArchitecture.load(FAMILIES / name))
    # A vision tower is in the checkpoint and not in the text model read here.
    vision = entry["total_params"] - entry.get("text_params", entry["total_params"])
    assert stats.total_params + vision + stats.mtp_params == entry["published_total"]


#: Per fixture: the MTP layers read (how many, blocks of one, own embedding and head).
MTP_SHAPES = {
    "DeepSeek-V3.config.json": (1, 1, True),
    "DeepSeek-V3.2-Exp.config.json": (1, 1, True),
    "GLM-4.5-Air.config.json": (1, 1, False),
    "GLM-4.7.config.json": (1, 1, False),
    "GLM-5.config.json": (1, 1, False),
    "Qwen3-Next-80B-A3B-Instruct.config.json": (1, 1, False),
    "Qwen3.5-35B-A3B.config.json": (1, 1, False),
}


def test_the_fixtures_with_mtp_layers_are_those_expected() -> None:
    assert sorted(MTP_SHAPES) == MTP_FIXTURES


@pytest.mark.parametrize("name", MTP_FIXTURES)
def test_an_mtp_layer_is_one_decoder_layer_of_the_model(name: str) -> None:
    model = ModelArchitecture.load(FAMILIES / name)
    assert model.mtp is not None
    mtp = model.mtp
    assert (mtp.num_layers, len(mtp.block_configs), mtp.own_embeddings) == MTP_SHAPES[name]
    # Its decoder layer is the model's last (full-attention, MoE) layer.
    assert mtp.block_configs[0] == model.block_configs[-1]
    stats = model_stats(model)
    last = stats.layers[-1].params
    h, vocab = model.hidden_size, model.vocab_size
    own = 2 * vocab * h if mtp.own_embeddings else 0
    # enorm, hnorm and the final norm; eh_proj (Qwen's fc) 2h -> h.
    assert stats.mtp_params == last + 3 * h + 2 * h * h + own


@pytest.mark.parametrize("name", MTP_FIXTURES)
def test_native_round_trip_keeps_the_mtp_layers(name: str, tmp_path: Path) -> None:
    model = ModelArchitecture.load(FAMILIES / name)
    out = tmp_path / "config.json"
    assert main(["convert", str(FAMILIES / name), "--to", "native", "-o", str(out)]) == EXIT_OK
    back = ModelArchitecture.load(out)
    assert back.dialect == "native"
    assert back.mtp == model.mtp
    a, b = model_stats(model), model_stats(back)
    assert (b.total_params, b.mtp_params, b.checkpoint_weight_bytes) == (
        a.total_params,
        a.mtp_params,
        a.checkpoint_weight_bytes,
    )


def test_a_wrapper_keeps_its_mtp_layers_in_its_text_part() -> None:
    model = ModelArchitecture.load(FAMILIES / "Qwen3.5-35B-A3B.config.json")
    out = model.to_mapping("native")
    assert "mtp_block_configs" not in out
    assert out["text_config"]["num_nextn_predict_layers"] == 1
    assert len(out["text_config"]["mtp_block_configs"]) == 1


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("GLM-4.5-Air.config.json", "num_nextn_predict_layers"),
        ("Qwen3-Next-80B-A3B-Instruct.config.json", "num_nextn_predict_layers"),
        ("GLM-5.config.json", "num_nextn_predict_layers"),
    ],
)
def test_zero_mtp_layers_read_none(name: str, key: str) -> None:
    data = {**config(FAMILIES / name), key: 0}
    model = ModelArchitecture.from_mapping(data)
    assert model.mtp is None
    assert model_stats(model).mtp_params == 0


def test_glm_reads_the_other_name_of_its_mtp_layer_count_and_defaults_to_one() -> None:
    data = config(FAMILIES / "GLM-4.7.config.json")
    one = model_stats(ModelArchitecture.from_mapping(data)).mtp_params
    del data["num_nextn_predict_layers"]
    # Glm4MoeConfig: num_mtp_layers (default 1) is num_nextn_predict_layers.
    assert model_stats(ModelArchitecture.from_mapping(data)).mtp_params == one
    data["num_mtp_layers"] = 2
    assert model_stats(ModelArchitecture.from_mapping(data)).mtp_params == 2 * one


def test_qwen_mtp_layers_share_one_fc_and_norm() -> None:
    data = config(FAMILIES / "Qwen3.5-35B-A3B.config.json")
    one = model_stats(ModelArchitecture.from_mapping(data)).mtp_params
    data["text_config"]["mtp_num_hidden_layers"] = 2
    model = ModelArchitecture.from_mapping(data)
    assert model.mtp is not None
    assert (model.mtp.num_layers, len(model.mtp.block_configs)) == (1, 2)
    layer = model_stats(model).layers[-1].params
    assert model_stats(model).mtp_params == one + layer


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            "Qwen3-Next-80B-A3B-Instruct.config.json",
            {"mtp_use_dedicated_embeddings": True},
            "$.mtp_use_dedicated_embeddings: not supported: MTP layers with their own embedding",
        ),
        (
            "Qwen3-Next-80B-A3B-Instruct.config.json",
            {"mtp_num_hidden_layers": "1"},
            "$.mtp_num_hidden_layers: expected int",
        ),
        (
            "GLM-4.7.config.json",
            {"num_nextn_predict_layers": 300_000},
            "$.num_nextn_predict_layers: gives 300000 MTP blocks, more than the limit",
        ),
        (
            "GLM-5.config.json",
            {"num_nextn_predict_layers": -1},
            "$.num_nextn_predict_layers: expected int",
        ),
    ],
)
def test_bad_mtp_keys_are_told_at_their_path(
    name: str, change: dict[str, Any], message: str
) -> None:
    data = {**config(FAMILIES / name), **change}
    if name.startswith("Qwen3-Next"):
        data.pop("num_nextn_predict_layers", None)
    with pytest.raises(BlockConfigError) as caught:
        ModelArchitecture.from_mapping(data)
    assert message in str(caught.value)
