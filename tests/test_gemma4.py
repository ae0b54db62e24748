"""Gemma 4: KV sharing between layers, the double-wide MLP of the sharing layers, per-layer
embeddings, the wider global heads in both of their published forms, and what the reader
refuses rather than count wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    ModelArchitecture,
    model_stats,
)
from block_config._cli import EXIT_OK, main
from block_config._schema import block_configs_json_schema

FAMILIES = Path(__file__).parent / "data" / "families"
RESEARCH = Path(__file__).parents[2] / "shared" / "research"
MLA = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}


def _e2b() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FAMILIES / "gemma-4-E2B-it.config.json").read_text())
    return data


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def _attention(block: BlockConfig) -> AttentionConfig:
    assert block.attention is not None
    return block.attention


def test_e2b_last_twenty_layers_read_the_last_own_layer_of_their_type() -> None:
    arch = ModelArchitecture.from_mapping(_e2b())
    attentions = [_attention(block) for block in arch.block_configs]
    sources = [attention.kv_source_layer for attention in attentions]
    full = [attention.sliding_window is None for attention in attentions]
    assert sources[:15] == [None] * 15
    assert sources[15:] == [14 if is_full else 13 for is_full in full[15:]]
    assert full == [False, False, False, False, True] * 7
    # The global layers have the wider heads; the model's width is the sliding layers'.
    assert arch.head_dim == 256
    assert {
        attention.head_dim for attention, is_full in zip(attentions, full, strict=True) if is_full
    } == {512}
    widths = [block.ffn.intermediate_size for block in arch.block_configs if block.ffn]
    assert widths == [6144] * 15 + [12288] * 20
    assert (arch.per_layer_input_size, arch.per_layer_input_vocab_size) == (256, 262144)
    assert arch.tie_word_embeddings
    assert arch.qk_norm
    assert arch.sandwich_norms


def test_a_sharing_layer_has_no_k_v_projections_no_key_norm_and_no_cache() -> None:
    stats = model_stats(ModelArchitecture.from_mapping(_e2b()))
    own, shared = stats.layers[13].attention, stats.layers[18].attention
    assert own is not None
    assert shared is not None
    assert (own.kv_source_layer, shared.kv_source_layer) == (None, 13)
    h, q = 1536, 8 * 256
    norms = 2 * h  # before and after the attention
    assert own.params == q * h + 2 * 256 * h + h * q + 2 * 256 + norms
    assert shared.params == q * h + h * q + 256 + norms
    assert (own.kv_cache_bytes_per_token, shared.kv_cache_bytes_per_token) == (1024, 0)


def test_the_per_layer_embeddings_are_counted_with_the_model() -> None:
    config = _e2b()
    with_ple = model_stats(ModelArchitecture.from_mapping(config)).total_params
    without = model_stats(
        ModelArchitecture.from_mapping({**config, "hidden_size_per_layer_input": 0})
    ).total_params
    h, layers, width, rows = 1536, 35, 256, 262144
    table = rows * layers * width
    assert with_ple - without == (table + layers * width * h + width + layers * (2 * width * h + h))


def test_the_multimodal_wrapper_reads_its_text_config() -> None:
    text = _e2b()
    del text["architectures"]
    wrapper = {"model_type": "gemma4", "architectures": ["Gemma4ForConditionalGeneration"]}
    arch = ModelArchitecture.from_mapping({**wrapper, "text_config": text})
    direct = ModelArchitecture.from_mapping(_e2b())
    assert arch.block_configs == direct.block_configs
    assert model_stats(arch).total_params == model_stats(direct).total_params


def test_per_layer_config_replaces_the_legacy_global_head_dim() -> None:
    example = RESEARCH / "gemma4_text_per_layer_config_example.config.json"
    if not example.is_file():
        pytest.skip(f"{example} is absent (transformers' Gemma 4 per_layer_config example)")
    config = json.loads(example.read_text())
    arch = ModelArchitecture.from_mapping(config)
    heads = [_attention(block).head_dim for block in arch.block_configs]
    assert heads == [None] * 5 + [512] + [None] * 5 + [512]
    # With per_layer_config, the class ignores global_head_dim: a global layer without an
    # override keeps the model's width.
    config["per_layer_config"] = {"05": {"head_dim": 512}}
    config["global_head_dim"] = 1024
    arch = ModelArchitecture.from_mapping(config)
    heads = [_attention(block).head_dim for block in arch.block_configs]
    assert heads == [None] * 5 + [512] + [None] * 6


def test_the_last_layer_is_global_and_global_head_dim_defaults_to_512() -> None:
    config = {**_e2b(), "num_kv_shared_layers": 0, "layer_types": None, "num_hidden_layers": 4}
    del config["global_head_dim"]
    arch = ModelArchitecture.from_mapping(config)
    attentions = [_attention(block) for block in arch.block_configs]
    assert [a.sliding_window for a in attentions] == [512, 512, 512, None]
    assert [a.head_dim for a in attentions] == [None, None, None, 512]


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FAMILIES / f"{name}.config.json").read_text())
    return data


@pytest.mark.parametrize(
    ("name", "kv_heads", "total", "kv_32k", "plain_total"),
    [
        # transformers 5.25.0's meta-device counts (hf_meta_params.py), with and without
        # attention_k_eq_v.
        ("gemma-4-26B-A4B-it", 2, 25_233_141_760, 880_803_840, 25_334_067_200),
        ("gemma-4-31B-it", 4, 30_697_345_280, 3_523_215_360, 31_468_048_640),
    ],
)
def test_global_layers_with_attention_k_eq_v_have_no_value_projection(
    name: str, kv_heads: int, total: int, kv_32k: int, plain_total: int
) -> None:
    config = _fixture(name)
    arch = ModelArchitecture.from_mapping(config)
    attentions = [_attention(block) for block in arch.block_configs]
    full = [attention.sliding_window is None for attention in attentions]
    assert full == ([False] * 5 + [True]) * (config["num_hidden_layers"] // 6)
    for attention, is_full in zip(attentions, full, strict=True):
        if is_full:
            assert (attention.values_from_keys, attention.num_key_value_heads) == (True, kv_heads)
            assert attention.head_dim == 512
        else:
            assert attention.values_from_keys is None
            assert attention.num_key_value_heads == config["num_key_value_heads"]
    stats = model_stats(arch)
    assert stats.total_params == total
    # The cache keeps keys and values apart: a global layer stores both, 2 x kv x 512 x 2 B.
    assert stats.kv_cache_bytes(1, 32768) == kv_32k
    h = config["hidden_size"]
    plain = model_stats(ModelArchitecture.from_mapping({**config, "attention_k_eq_v": False}))
    # Without attention_k_eq_v the class ignores num_global_key_value_heads: the global
    # layers keep num_key_value_heads, with a v_proj each.
    globals_ = sum(full)
    kv = config["num_key_value_heads"]
    assert plain.total_params == plain_total
    assert plain.total_params - total == globals_ * (kv * 512 * h * 2 - kv_heads * 512 * h)
    assert (
        plain.kv_cache_bytes(1, 32768) - kv_32k == globals_ * 2 * (kv - kv_heads) * 512 * 2 * 32768
    )


def test_the_stats_say_which_layers_take_their_values_from_their_keys() -> None:
    stats = model_stats(ModelArchitecture.from_mapping(_fixture("gemma-4-31B-it")))
    assert [layer.attention.values_from_keys for layer in stats.layers[:6]] == [False] * 5 + [True]
    assert stats.layers[5].attention.kv_cache_bytes_per_token == 2 * 4 * 512 * 2


def test_a_kv_sharing_layer_has_no_projections_with_attention_k_eq_v_either() -> None:
    # E2B with attention_k_eq_v: the global layers that compute their own K drop v_proj and
    # take num_global_key_value_heads; the sharing layers have no k/v projections either way.
    config = {**_e2b(), "attention_k_eq_v": True, "num_global_key_value_heads": 4}
    arch = ModelArchitecture.from_mapping(config)
    attentions = [_attention(block) for block in arch.block_configs]
    assert [(a.values_from_keys, a.num_key_value_heads) for a in attentions[:5]] == [
        (None, 1)
    ] * 4 + [(True, 4)]
    assert {a.values_from_keys for a in attentions[15:]} == {None}
    assert (attentions[19].kv_source_layer, attentions[19].num_key_value_heads) == (14, 4)
    stats = model_stats(arch)
    # transformers 5.25.0 (hf_meta_params.py) builds 4,633,287,936 parameters.
    assert stats.total_params == 4_633_287_936
    # Layers 0-14 hold the cache: 12 sliding (1 KV head of 256, window 512), 3 global
    # (4 KV heads of 512, keys and values apart).
    assert stats.kv_cache_bytes(1, 32768) == 12 * 2 * 256 * 2 * 512 + 3 * 2 * 4 * 512 * 2 * 32768


def test_per_layer_config_replaces_num_global_key_value_heads() -> None:
    config = {**_e2b(), "attention_k_eq_v": True, "num_global_key_value_heads": 4}
    config["per_layer_config"] = {
        str(index): {"head_dim": 512, "num_key_value_heads": 2} for index in range(4, 35, 5)
    }
    arch = ModelArchitecture.from_mapping(config)
    global_layer = _attention(arch.block_configs[4])
    assert (global_layer.values_from_keys, global_layer.num_key_value_heads) == (True, 2)
    # transformers 5.25.0 (hf_meta_params.py) reads the overrides, not the legacy key.
    assert model_stats(arch).total_params == 4_628_569_344


@pytest.mark.parametrize(
    ("attention", "message"),
    [
        ({"no_op": True}, "$.values_from_keys: must be null when no_op is true"),
        ({"mla": MLA}, "$.values_from_keys: must be null when mla is set"),
        (
            {"num_key_value_heads": 1, "kv_source_layer": 0},
            "$.values_from_keys: must be null when kv_source_layer is set",
        ),
        (
            {"num_key_value_heads": 1, "values_from_keys": "yes"},
            "$.values_from_keys: expected bool, got str 'yes'",
        ),
    ],
)
def test_values_from_keys_is_for_gqa_attention_computing_its_keys(
    attention: dict[str, Any], message: str
) -> None:
    with pytest.raises(BlockConfigError) as info:
        AttentionConfig.from_dict({"values_from_keys": True, **attention})
    assert [str(problem) for problem in info.value.problems] == [message]


def test_show_names_the_layers_whose_values_are_their_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["show", str(FAMILIES / "gemma-4-26B-A4B-it.config.json")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "25 x gqa 8 KV window 1024, 5 x gqa 2 KV V=K" in out
    assert "30 x moe top-8 128x704+2,112" in out
    assert main(["show", "--json", str(FAMILIES / "gemma-4-26B-A4B-it.config.json")]) == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert (document["router_scales"], document["moe_branch_norms"]) == (True, True)
    flags = [layer["attention"]["values_from_keys"] for layer in document["layers"]]
    assert flags == ([False] * 5 + [True]) * 5


def test_values_from_keys_is_written_only_when_set() -> None:
    plain = AttentionConfig(num_key_value_heads=2, values_from_keys=False)
    assert plain.values_from_keys is None
    assert "values_from_keys" not in plain.to_dict()
    keyed = AttentionConfig(num_key_value_heads=2, values_from_keys=True)
    assert keyed.to_dict()["values_from_keys"] is True
    assert repr(keyed).endswith("values_from_keys=True)")
    assert AttentionConfig.from_dict(keyed.to_dict()) == keyed


def test_the_legacy_dialect_refuses_values_from_keys_at_its_path(tmp_path: Path) -> None:
    arch = ModelArchitecture.from_mapping(_fixture("gemma-4-31B-it"))
    native = ModelArchitecture(
        hidden_size=arch.hidden_size,
        num_attention_heads=arch.num_attention_heads,
        vocab_size=arch.vocab_size,
        head_dim=arch.head_dim,
        block_configs=arch.block_configs,
    )
    native.save(tmp_path / "native.json")
    assert ModelArchitecture.load(tmp_path / "native.json").block_configs == arch.block_configs
    with pytest.raises(BlockConfigError) as info:
        native.save(tmp_path / "config.json", dialect="legacy")
    paths = [problem.path for problem in info.value.problems]
    assert ("block_configs", 5, "attention", "values_from_keys") in paths
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize(
    ("attention", "valid"),
    [
        ({"num_key_value_heads": 2, "values_from_keys": True}, True),
        ({"num_key_value_heads": 2, "values_from_keys": False}, True),
        ({"no_op": True, "values_from_keys": False}, True),
        ({"no_op": True, "values_from_keys": True}, False),
        ({"num_key_value_heads": 2, "kv_source_layer": 0, "values_from_keys": True}, False),
        ({"num_key_value_heads": 2, "values_from_keys": "true"}, False),
    ],
)
def test_the_schema_knows_values_from_keys(attention: dict[str, Any], valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(block_configs_json_schema())
    document = [{"attention": attention, "ffn": {"no_op": True}}]
    assert validator.is_valid(document) is valid


#: The routed experts of ``enable_moe_block``, on gemma-4-E2B-it's text model.
_E2B_MOE = {
    "enable_moe_block": True,
    "num_experts": 16,
    "top_k_experts": 4,
    "moe_intermediate_size": 512,
}


def test_the_moe_block_runs_beside_the_dense_mlp_as_its_shared_expert() -> None:
    arch = ModelArchitecture.from_mapping({**_e2b(), **_E2B_MOE})
    assert (arch.router_scales, arch.moe_branch_norms) == (True, True)
    moes = [block.ffn.moe for block in arch.block_configs if block.ffn]
    assert all(moe is not None for moe in moes)
    assert {
        (m.num_local_experts, m.num_experts_per_tok, m.expert_intermediate_dim) for m in moes if m
    } == {(16, 4, 512)}
    # The KV-sharing layers' dense MLP is double-wide, the experts are not.
    assert [m.shared_expert_intermediate_dim for m in moes if m] == [6144] * 15 + [12288] * 20
    stats = model_stats(arch)
    # transformers 5.25.0 on the meta device (hf_meta_params.py) builds 5,950,850,864.
    assert stats.total_params == 5_950_850_864
    # Every token skips 12 of the 16 experts (gate, up and down of 512) in each of 35 layers.
    assert stats.active_params == stats.total_params - 35 * 12 * 3 * 1536 * 512
    # The experts change no attention: the KV cache is E2B's.
    assert stats.kv_cache_bytes(1, 32768) == 207_618_048


def test_both_mechanisms_with_kv_sharing_and_per_layer_embeddings() -> None:
    config = {**_e2b(), **_E2B_MOE, "attention_k_eq_v": True, "num_global_key_value_heads": 4}
    stats = model_stats(ModelArchitecture.from_mapping(config))
    # transformers 5.25.0 (hf_meta_params.py) builds 5,955,569,456 parameters.
    assert stats.total_params == 5_955_569_456
    assert stats.active_params == stats.total_params - 35 * 12 * 3 * 1536 * 512
    assert stats.kv_cache_bytes(1, 32768) == 12 * 2 * 256 * 2 * 512 + 3 * 2 * 4 * 512 * 2 * 32768


def test_the_router_scales_and_the_branch_norms_are_counted_in_each_moe_layer() -> None:
    h, experts = 1536, 16
    arch = ModelArchitecture.from_mapping({**_e2b(), **_E2B_MOE})
    plain = attrs.evolve(arch, router_scales=False, moe_branch_norms=False)
    scales = attrs.evolve(arch, moe_branch_norms=False)
    for with_, without, extra in ((scales, plain, h + experts), (arch, scales, 3 * h)):
        a, b = model_stats(with_), model_stats(without)
        assert [x.ffn.params - y.ffn.params for x, y in zip(a.layers, b.layers, strict=True)] == [
            extra
        ] * 35
        # The router and the norms are used by every token.
        assert a.active_params - b.active_params == 35 * extra
    # A dense layer has neither, whatever the model says.
    dense = attrs.evolve(
        ModelArchitecture.from_mapping(_e2b()), router_scales=True, moe_branch_norms=True
    )
    assert model_stats(dense).total_params == 4_628_569_344


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_experts": None}, "$.num_experts: missing required key"),
        ({"top_k_experts": 17}, "$.top_k_experts: must not exceed num_experts (16), got 17"),
        ({"moe_intermediate_size": "512"}, "$.moe_intermediate_size: expected int"),
    ],
)
def test_the_moe_block_needs_its_sizes(change: dict[str, Any], message: str) -> None:
    config = {**_e2b(), **_E2B_MOE, **change}
    config = {key: value for key, value in config.items() if value is not None}
    assert any(problem.startswith(message) for problem in _errors(config))


def test_without_the_moe_block_the_sizes_are_not_read() -> None:
    arch = ModelArchitecture.from_mapping({**_e2b(), **_E2B_MOE, "enable_moe_block": False})
    assert (arch.router_scales, arch.moe_branch_norms) == (False, False)
    assert model_stats(arch).total_params == 4_628_569_344


def test_the_moe_facts_are_written_only_when_set(tmp_path: Path) -> None:
    arch = ModelArchitecture.from_mapping({**_e2b(), **_E2B_MOE})
    native = ModelArchitecture(
        hidden_size=arch.hidden_size,
        num_attention_heads=arch.num_attention_heads,
        vocab_size=arch.vocab_size,
        head_dim=arch.head_dim,
        block_configs=arch.block_configs,
        tie_word_embeddings=True,
        qk_norm=True,
        sandwich_norms=True,
        router_scales=True,
        moe_branch_norms=True,
        per_layer_input_size=arch.per_layer_input_size,
        per_layer_input_vocab_size=arch.per_layer_input_vocab_size,
    )
    written = native.to_mapping("native")
    assert (written["router_scales"], written["moe_branch_norms"]) == (True, True)
    native.save(tmp_path / "config.json")
    back = ModelArchitecture.load(tmp_path / "config.json")
    assert (back.router_scales, back.moe_branch_norms) == (True, True)
    assert model_stats(back).total_params == 5_950_850_864
    plain = attrs.evolve(native, router_scales=False, moe_branch_norms=False)
    assert not {"router_scales", "moe_branch_norms"} & set(plain.to_mapping("native"))
    with pytest.raises(BlockConfigError) as info:
        attrs.evolve(native, router_scales="yes")  # type: ignore[arg-type]
    assert str(info.value.problems[0]).startswith("$.router_scales: expected bool")


def test_sharing_needs_an_earlier_layer_of_the_same_type() -> None:
    config = {**_e2b(), "num_kv_shared_layers": 31}  # the first four: sliding only
    problems = _errors(config)
    assert problems
    assert all(problem.startswith("$.num_kv_shared_layers:") for problem in problems)
    assert "full_attention" in problems[0]
    (problem,) = _errors({**_e2b(), "num_kv_shared_layers": 35})
    assert problem.startswith("$.num_kv_shared_layers:")


def _blocks(*sources: int | None, mamba_at: int | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for index, source in enumerate(sources):
        attention: dict[str, Any] = {"num_key_value_heads": 2}
        if index == mamba_at:
            attention = {"mamba": {"state_dim": 8, "num_heads": 2, "head_dim": 4, "num_groups": 1}}
        if source is not None:
            attention["kv_source_layer"] = source
        blocks.append({"attention": attention, "ffn": {"intermediate_size": 32}})
    return blocks


def _model(blocks: list[dict[str, Any]]) -> ModelArchitecture:
    return ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=100, head_dim=4, block_configs=blocks
    )


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ((None, 1), "must name an earlier layer than 1, got 1"),
        ((None, 2, None), "must name an earlier layer than 1, got 2"),
        ((None, 0, 1), "names layer 1, whose attention has no keys and values of its own"),
    ],
)
def test_the_model_checks_each_kv_source(sources: tuple[int | None, ...], message: str) -> None:
    with pytest.raises(BlockConfigError) as info:
        _model(_blocks(*sources))
    (problem,) = info.value.problems
    assert problem.path[0] == "block_configs"
    assert problem.path[2:] == ("attention", "kv_source_layer")
    assert problem.message == message


def test_a_mamba_layer_is_no_kv_source() -> None:
    with pytest.raises(BlockConfigError) as info:
        _model(_blocks(None, 0, mamba_at=0))
    assert "no keys and values of its own" in str(info.value)


@pytest.mark.parametrize(
    "attention",
    [
        {"no_op": True, "kv_source_layer": 0},
        {"mamba": {"state_dim": 4, "num_heads": 2, "head_dim": 4, "num_groups": 1},
         "kv_source_layer": 0},
        {"linear_attention": {"kind": "gdn", "num_key_heads": 2, "key_head_dim": 4,
                              "num_value_heads": 2, "value_head_dim": 4},
         "kv_source_layer": 0},
    ],
)  # fmt: skip
def test_kv_source_layer_is_for_gqa_and_mla_attention_only(attention: dict[str, Any]) -> None:
    with pytest.raises(BlockConfigError) as info:
        AttentionConfig.from_dict(attention)
    assert any(problem.path[-1] == "kv_source_layer" for problem in info.value.problems)


def test_kv_source_layer_is_a_whole_non_negative_int() -> None:
    for value in (-1, 1.0, "1", True):
        with pytest.raises(BlockConfigError) as info:
            AttentionConfig.from_dict({"num_key_value_heads": 2, "kv_source_layer": value})
        assert info.value.problems[0].path == ("kv_source_layer",)
    assert (
        AttentionConfig.from_dict({"num_key_value_heads": 2, "kv_source_layer": 0}).kv_source_layer
        == 0
    )


def test_kv_source_layer_is_written_only_when_set() -> None:
    plain = AttentionConfig(num_key_value_heads=2)
    assert "kv_source_layer" not in plain.to_dict()
    shared = AttentionConfig(num_key_value_heads=2, kv_source_layer=3)
    assert shared.to_dict()["kv_source_layer"] == 3
    assert "kv_source_layer=3" in repr(shared)


def test_the_native_dialect_keeps_sharing_and_per_layer_embeddings(tmp_path: Path) -> None:
    arch = ModelArchitecture.from_mapping(_e2b())
    native = ModelArchitecture(
        hidden_size=arch.hidden_size,
        num_attention_heads=arch.num_attention_heads,
        vocab_size=arch.vocab_size,
        head_dim=arch.head_dim,
        block_configs=arch.block_configs,
        tie_word_embeddings=True,
        qk_norm=True,
        sandwich_norms=True,
        per_layer_input_size=arch.per_layer_input_size,
        per_layer_input_vocab_size=arch.per_layer_input_vocab_size,
    )
    path = tmp_path / "config.json"
    native.save(path)
    back = ModelArchitecture.load(path)
    assert back.dialect == "native"
    assert back.block_configs == arch.block_configs
    assert model_stats(back).total_params == model_stats(arch).total_params == 4628569344


def test_the_legacy_dialect_refuses_kv_sharing_at_its_path(tmp_path: Path) -> None:
    model = _model(_blocks(None, 0))
    with pytest.raises(BlockConfigError) as info:
        model.save(tmp_path / "config.json", dialect="legacy")
    paths = [problem.path for problem in info.value.problems]
    assert ("block_configs", 1, "attention", "kv_source_layer") in paths


def test_per_layer_input_sizes_come_together() -> None:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture(
            hidden_size=16,
            num_attention_heads=4,
            vocab_size=100,
            block_configs=_blocks(None),
            per_layer_input_size=4,
        )
    assert info.value.problems[0].path == ("per_layer_input_vocab_size",)


@pytest.mark.parametrize(
    ("attention", "valid"),
    [
        ({"num_key_value_heads": 1, "kv_source_layer": 0}, True),
        ({"num_key_value_heads": 1, "kv_source_layer": -1}, False),
        ({"no_op": True, "kv_source_layer": 0}, False),
        ({"linear_attention": None, "num_key_value_heads": 1, "kv_source_layer": None}, True),
    ],
)
def test_the_schema_knows_kv_source_layer(attention: dict[str, Any], valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(block_configs_json_schema())
    blocks = [{"attention": attention, "ffn": {"intermediate_size": 8}}]
    assert validator.is_valid(blocks) is valid


def test_global_kv_heads_that_do_not_divide_the_heads_are_refused_at_their_key() -> None:
    config = json.loads((FAMILIES / "gemma-4-26B-A4B-it.config.json").read_text())
    text = config.get("text_config", config)
    text["num_global_key_value_heads"] = 3
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    prefix = "$.text_config." if "text_config" in config else "$."
    assert [str(problem) for problem in info.value.problems] == [
        f"{prefix}num_global_key_value_heads: 3 does not divide num_attention_heads (16)"
    ]
    text["num_global_key_value_heads"] = 2
    text["enable_moe_block"] = "yes"
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    assert [str(problem) for problem in info.value.problems] == [
        f"{prefix}enable_moe_block: expected bool, got str 'yes'"
    ]
