"""The readers of the 2026 families without linear attention (OLMo-3, GLM-4.5/4.7,
MiniMax-M2, Granite-4.0-H, Falcon-H1, DeepSeek-V3.2, GLM-5, Mistral-Small-4): what each
configuration class's
rules build, and what each refuses at its key rather than count wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import BlockConfigError, ModelArchitecture, model_stats, readers

FAMILIES = Path(__file__).parent / "data" / "families"


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FAMILIES / f"{name}.config.json").read_text())
    return data


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def test_the_families_are_registered() -> None:
    supported = readers.supported_model_types()
    assert {"olmo3", "glm4_moe", "minimax_m2", "granitemoehybrid", "falcon_h1"} <= set(supported)
    assert {"deepseek_v32", "glm_moe_dsa", "mistral4"} <= set(supported)


# --------------------------------------------------------------------------- OLMo-3


def test_olmo3_layer_types_default_to_three_sliding_then_one_full() -> None:
    config = _fixture("Olmo-3-7B")
    del config["layer_types"], config["sliding_window"]
    arch = ModelArchitecture.from_mapping(config)
    windows = [block.attention.sliding_window for block in arch.block_configs if block.attention]
    assert windows == [4096, 4096, 4096, None] * 8
    assert arch.qk_norm_across_heads is True
    assert arch.qk_norm is False


def test_olmo3_kv_heads_default_to_one_per_head() -> None:
    config = _fixture("Olmo-3-7B")
    del config["num_key_value_heads"]
    arch = ModelArchitecture.from_mapping(config)
    assert {
        block.attention.num_key_value_heads for block in arch.block_configs if block.attention
    } == {32}


def test_olmo3_qk_norm_spans_every_query_and_key_head() -> None:
    config = {**_fixture("Olmo-3-7B"), "num_key_value_heads": 8, "layer_types": None}
    stats = model_stats(ModelArchitecture.from_mapping(config))
    h, heads, kv, d = 4096, 32, 8, 128
    projections = h * heads * d * 2 + h * kv * d * 2
    assert stats.layers[0].attention.params == projections + (heads + kv) * d + h


def test_olmo3_layer_types_are_checked() -> None:
    config = _fixture("Olmo-3-7B")
    config["layer_types"] = [*config["layer_types"][:-1], "linear_attention"]
    assert _errors(config) == [
        "$.layer_types[31]: expected one of full_attention, sliding_attention, got str "
        "'linear_attention'"
    ]


# --------------------------------------------------------------------------- GLM-4.5


def test_glm4_moe_attention_bias_is_on_q_k_and_v_only() -> None:
    arch = ModelArchitecture.load(FAMILIES / "GLM-4.5-Air.config.json")
    assert (arch.qkv_bias, arch.attention_bias, arch.qk_norm) == (True, False, False)
    assert arch.head_dim == 128
    assert arch.router_score_correction_bias is True


def test_glm4_moe_dense_layers_come_first() -> None:
    arch = ModelArchitecture.load(FAMILIES / "GLM-4.7.config.json")
    kinds = [block.ffn is not None and block.ffn.is_moe for block in arch.block_configs]
    assert kinds == [False] * 3 + [True] * 89
    assert arch.qk_norm is True
    moe = arch.block_configs[-1].ffn.moe  # type: ignore[union-attr]
    assert moe is not None
    assert (moe.num_local_experts, moe.expert_intermediate_dim) == (160, 1536)
    assert moe.shared_expert_intermediate_dim == 1536


def test_glm4_moe_defaults_are_the_configuration_class_ones() -> None:
    arch = ModelArchitecture.from_mapping({"model_type": "glm4_moe", "head_dim": 128})
    assert (arch.hidden_size, arch.num_attention_heads, arch.num_hidden_layers) == (4096, 96, 46)
    first, second = arch.block_configs[0], arch.block_configs[1]
    assert first.attention is not None
    assert first.attention.num_key_value_heads == 8
    assert first.ffn is not None
    assert first.ffn.intermediate_size == 10944
    assert second.ffn is not None
    assert second.ffn.moe is not None
    assert second.ffn.moe.num_local_experts == 128


def test_glm4_moe_without_shared_experts_has_none() -> None:
    config = {**_fixture("GLM-4.5-Air"), "n_shared_experts": 0}
    moe = ModelArchitecture.from_mapping(config).block_configs[-1].ffn.moe  # type: ignore[union-attr]
    assert moe is not None
    assert moe.shared_expert_intermediate_dim == 0


# --------------------------------------------------------------------------- MiniMax-M2


def test_minimax_m2_reads_every_layer_as_the_same_moe_layer() -> None:
    arch = ModelArchitecture.load(FAMILIES / "MiniMax-M2.config.json")
    assert len(set(arch.block_configs)) == 1
    assert arch.qk_norm_across_heads is True
    moe = arch.block_configs[0].ffn.moe  # type: ignore[union-attr]
    assert moe is not None
    assert (moe.num_local_experts, moe.num_experts_per_tok) == (256, 8)
    assert moe.shared_expert_intermediate_dim == 0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "attn_type_list",
            [1] * 61 + [0],
            "$.attn_type_list[61]: not supported: lightning (linear) attention layers are not "
            "built by transformers' MiniMax-M2 and are not counted",
        ),
        (
            "shared_intermediate_size",
            1536,
            "$.shared_intermediate_size: not supported: a shared expert (1536 wide) is not "
            "built by transformers' MiniMax-M2 and is not counted",
        ),
        (
            "qk_norm_type",
            "per_head",
            "$.qk_norm_type: not supported: str 'per_head'; transformers' MiniMax-M2 builds "
            "one QK-norm across all heads ('per_layer')",
        ),
    ],
)
def test_minimax_m2_refuses_what_transformers_does_not_build(
    key: str, value: Any, message: str
) -> None:
    assert _errors({**_fixture("MiniMax-M2"), key: value}) == [message]


def test_minimax_m2_attention_types_are_checked() -> None:
    config = {**_fixture("MiniMax-M2"), "attn_type_list": [1, "1"]}
    assert _errors(config) == ["$.attn_type_list[1]: expected 0 or 1, got str '1'"]


# --------------------------------------------------------------------------- Granite-4.0-H


def test_granite_hybrid_layers_are_mamba_or_attention_each_with_moe() -> None:
    arch = ModelArchitecture.load(FAMILIES / "granite-4.0-h-tiny.config.json")
    attention_layers = [
        index
        for index, block in enumerate(arch.block_configs)
        if block.attention is not None and block.attention.mamba is None
    ]
    assert attention_layers == [5, 15, 25, 35]
    assert all(block.ffn is not None and block.ffn.is_moe for block in arch.block_configs)
    mamba = arch.block_configs[0].attention.mamba  # type: ignore[union-attr]
    assert mamba is not None
    assert (mamba.num_heads, mamba.head_dim, mamba.state_dim, mamba.num_groups) == (48, 64, 128, 1)
    moe = arch.block_configs[0].ffn.moe  # type: ignore[union-attr]
    assert moe is not None
    assert moe.shared_expert_intermediate_dim == 1024


def test_granite_hybrid_reads_transformers_layer_names_and_auto_head_dim() -> None:
    config = _fixture("granite-4.0-h-tiny")
    config["layer_types"] = [
        "full_attention" if name == "attention" else "linear_attention"
        for name in config["layer_types"]
    ]
    del config["mamba_d_head"]
    renamed = ModelArchitecture.from_mapping(config)
    assert (
        renamed.block_configs
        == ModelArchitecture.load(FAMILIES / "granite-4.0-h-tiny.config.json").block_configs
    )


def test_granite_hybrid_without_experts_has_the_shared_mlp_as_its_ffn() -> None:
    config = {**_fixture("granite-4.0-h-tiny"), "num_local_experts": 0}
    ffn = ModelArchitecture.from_mapping(config).block_configs[0].ffn
    assert ffn is not None
    assert not ffn.is_moe
    assert ffn.intermediate_size == 1024


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"mamba_d_head": 32},
            "$.mamba_d_head: 32 x mamba_n_heads (48) is not mamba_expand x hidden_size (3072), "
            "the Mamba mixer's inner width",
        ),
        (
            {"mamba_proj_bias": True},
            "$.mamba_proj_bias: not supported: biases on the Mamba in_proj and out_proj are not "
            "counted",
        ),
        (
            {"mamba_conv_bias": False},
            "$.mamba_conv_bias: not supported: a Mamba conv1d without bias is not counted",
        ),
        (
            {"layer_types": ["mamba"] * 39},
            "$.layer_types: has 39 items but num_hidden_layers is 40",
        ),
        (
            {"layer_types": ["mamba"] * 39 + ["moe"]},
            "$.layer_types[39]: expected one of mamba, linear_attention, attention, "
            "full_attention, got str 'moe'",
        ),
    ],
)
def test_granite_hybrid_refuses_what_it_does_not_model(
    changes: dict[str, Any], message: str
) -> None:
    assert _errors({**_fixture("granite-4.0-h-tiny"), **changes}) == [message]


# --------------------------------------------------------------------------- Falcon-H1


def test_falcon_h1_runs_attention_and_mamba_side_by_side_in_every_layer() -> None:
    arch = ModelArchitecture.load(FAMILIES / "Falcon-H1-7B-Base.config.json")
    assert len(set(arch.block_configs)) == 1
    block = arch.block_configs[0]
    assert block.attention is not None
    assert block.attention.num_key_value_heads == 2
    assert block.ffn is not None
    assert block.ffn.intermediate_size == 12288
    assert block.parallel_blocks is not None
    (mamba_block,) = block.parallel_blocks
    assert mamba_block.attention is not None
    mamba = mamba_block.attention.mamba
    assert mamba is not None
    assert (mamba.num_heads, mamba.head_dim, mamba.state_dim, mamba.num_groups) == (24, 128, 256, 1)
    assert (arch.parallel_blocks_share_input_norm, arch.mamba_without_norm) == (True, True)
    assert arch.mamba_conv_kernel == 4


def test_falcon_h1_layer_has_two_norms_and_its_mamba_its_gated_norm_only_when_asked() -> None:
    h, d_ssm = 3072, 3072
    stats = model_stats(ModelArchitecture.load(FAMILIES / "Falcon-H1-7B-Base.config.json"))
    layer = stats.layers[0]
    (mamba,) = layer.parallel_blocks
    attention = h * 12 * 128 * 2 + h * 2 * 128 * 2
    assert layer.attention.params == attention + h  # the input norm, shared
    assert layer.ffn.params == 3 * h * 12288 + h  # pre_ff_layernorm
    in_proj = h * (2 * d_ssm + 2 * 256 + 24)
    conv = (d_ssm + 2 * 256) * (4 + 1)
    assert mamba.attention.params == in_proj + conv + 3 * 24 + d_ssm * h
    config = {**_fixture("Falcon-H1-7B-Base"), "mamba_rms_norm": True}
    normed = model_stats(ModelArchitecture.from_mapping(config)).layers[0].parallel_blocks[0]
    assert normed.attention.params == mamba.attention.params + d_ssm


def test_falcon_h1_inner_width_is_mamba_d_ssm_else_expand_times_hidden() -> None:
    config = {**_fixture("Falcon-H1-7B-Base"), "mamba_d_ssm": None, "mamba_d_head": "auto"}
    block = ModelArchitecture.from_mapping(config).block_configs[0]
    assert block.parallel_blocks is not None
    mamba = block.parallel_blocks[0].attention.mamba  # type: ignore[union-attr]
    assert mamba is not None
    assert mamba.num_heads * mamba.head_dim == 2 * 3072


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"mamba_d_head": 64},
            "$.mamba_d_head: 64 x mamba_n_heads (24) is not mamba_d_ssm (3072), the Mamba "
            "mixer's inner width",
        ),
        (
            {"mamba_proj_bias": True},
            "$.mamba_proj_bias: not supported: a bias on the Mamba in_proj is not counted",
        ),
        (
            {"projectors_bias": True},
            "$.projectors_bias: not supported: a bias on the Mamba out_proj is not counted",
        ),
        (
            {"mamba_conv_bias": False},
            "$.mamba_conv_bias: not supported: a Mamba conv1d without bias is not counted",
        ),
        ({"mamba_rms_norm": "false"}, "$.mamba_rms_norm: expected bool, got str 'false'"),
    ],
)
def test_falcon_h1_refuses_what_it_does_not_model(changes: dict[str, Any], message: str) -> None:
    assert _errors({**_fixture("Falcon-H1-7B-Base"), **changes}) == [message]


def test_the_shared_input_norm_applies_to_parallel_blocks_only() -> None:
    arch = ModelArchitecture.load(FAMILIES / "Falcon-H1-7B-Base.config.json")
    written = arch.to_mapping("native")
    assert written["parallel_blocks_share_input_norm"] is True
    assert written["mamba_without_norm"] is True
    again = ModelArchitecture.from_mapping(written)
    assert model_stats(again).total_params == model_stats(arch).total_params
    separate = {**written, "parallel_blocks_share_input_norm": False}
    # One more norm of hidden_size per layer: the Mamba block's own.
    extra = model_stats(ModelArchitecture.from_mapping(separate)).total_params
    assert extra - model_stats(arch).total_params == 44 * 3072


# --------------------------------------------------------------------------- DeepSeek-V3.2, GLM-5


def _indexers(arch: ModelArchitecture) -> list[bool]:
    flags = []
    for block in arch.block_configs:
        assert block.attention is not None
        assert block.attention.mla is not None
        flags.append(block.attention.mla.has_indexer)
    return flags


def test_deepseek_v32_is_deepseek_v3_with_an_indexer_in_every_layer() -> None:
    v32 = ModelArchitecture.load(FAMILIES / "DeepSeek-V3.2-Exp.config.json")
    v3 = ModelArchitecture.load(FAMILIES / "DeepSeek-V3.config.json")
    assert _indexers(v32) == [True] * 61
    for mine, theirs in zip(v32.block_configs, v3.block_configs, strict=True):
        assert mine.ffn == theirs.ffn
        assert mine.attention is not None
        assert mine.attention.mla is not None
        assert theirs.attention is not None
        assert theirs.attention.mla is not None
        assert attrs.evolve(mine.attention.mla, index_n_heads=None, index_head_dim=None) == (
            theirs.attention.mla
        )


def test_deepseek_v32_mlp_layer_types_override_first_k_dense_replace() -> None:
    config = {**_fixture("DeepSeek-V3.2-Exp"), "mlp_layer_types": ["sparse"] * 60 + ["dense"]}
    arch = ModelArchitecture.from_mapping(config)
    kinds = [block.ffn is not None and block.ffn.is_moe for block in arch.block_configs]
    assert kinds == [True] * 60 + [False]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"q_lora_rank": None},
            "$.q_lora_rank: not supported: null (one query projection); transformers builds the "
            "query latent, which the indexer reads, in every layer",
        ),
        (
            {"layer_types": ["indexed_attention"] * 60 + ["full_attention"]},
            "$.layer_types[60]: expected one of indexed_attention, deepseek_sparse_attention, "
            "got str 'full_attention'",
        ),
        (
            {"mlp_layer_types": ["dense"] * 3 + ["moe"] * 58},
            "$.mlp_layer_types[3]: expected one of dense, sparse, got str 'moe'",
        ),
    ],
)
def test_deepseek_v32_refuses_what_it_does_not_model(changes: dict[str, Any], message: str) -> None:
    assert _errors({**_fixture("DeepSeek-V3.2-Exp"), **changes})[0] == message


def test_glm5_shared_indexer_layers_have_no_indexer_and_keep_no_indexer_keys() -> None:
    config = {**_fixture("GLM-5"), "indexer_types": ["full", "shared"] * 39}
    arch = ModelArchitecture.from_mapping(config)
    assert _indexers(arch) == [True, False] * 39
    full, shared = model_stats(arch, kv_cache_dtype="bf16").layers[:2]
    assert full.kv_cache_bytes_per_token == (512 + 64 + 128) * 2
    assert shared.kv_cache_bytes_per_token == (512 + 64) * 2
    indexer = 32 * 128 * 2048 + 128 * 6144 + 2 * 128 + 32 * 6144
    assert full.params - shared.params == indexer


def test_glm5_indexer_schedule_and_pattern_follow_the_configuration_class() -> None:
    pattern = ModelArchitecture.from_mapping({**_fixture("GLM-5"), "index_topk_pattern": "FS" * 39})
    assert _indexers(pattern) == [True, False] * 39
    # Layer i is full when max(i - offset + 1, 0) is a multiple of the frequency.
    schedule = ModelArchitecture.from_mapping(
        {**_fixture("GLM-5"), "index_topk_freq": 3, "index_skip_topk_offset": 2}
    )
    expected = [max(index - 1, 0) % 3 == 0 for index in range(78)]
    assert _indexers(schedule) == expected
    assert expected[:6] == [True, True, False, False, True, False]


def test_glm5_indexer_types_are_checked() -> None:
    config = {**_fixture("GLM-5"), "indexer_types": ["full"] * 77 + ["none"]}
    assert _errors(config) == ["$.indexer_types[77]: expected full or shared, got str 'none'"]
    config = {**_fixture("GLM-5"), "index_topk_pattern": "F" * 77 + "X"}
    assert _errors(config) == ["$.index_topk_pattern[77]: expected F or S, got str 'X'"]


# --------------------------------------------------------------------------- Mistral-Small-4


def test_mistral4_is_mla_and_experts_in_every_layer_without_router_bias() -> None:
    arch = ModelArchitecture.load(FAMILIES / "Mistral-Small-4-119B-2603.config.json")
    assert len(set(arch.block_configs)) == 1
    block = arch.block_configs[0]
    assert block.attention is not None
    assert block.attention.mla is not None
    assert block.attention.mla.q_lora_rank == 1024
    assert not block.attention.mla.has_indexer
    assert block.ffn is not None
    assert block.ffn.moe is not None
    assert block.ffn.moe.shared_expert_intermediate_dim == 2048
    assert arch.router_score_correction_bias is False


def test_mistral4_is_read_through_a_mistral3_wrapper() -> None:
    text = _fixture("Mistral-Small-4-119B-2603")
    wrapper = {
        "architectures": ["Mistral3ForConditionalGeneration"],
        "model_type": "mistral3",
        "text_config": text,
    }
    arch = ModelArchitecture.from_mapping(wrapper)
    assert arch.model_type == "mistral3"
    own = ModelArchitecture.load(FAMILIES / "Mistral-Small-4-119B-2603.config.json")
    assert arch.block_configs == own.block_configs


def test_mistral4_without_query_latent_has_one_query_projection() -> None:
    config = {**_fixture("Mistral-Small-4-119B-2603"), "q_lora_rank": None}
    mla = ModelArchitecture.from_mapping(config).block_configs[0].attention.mla  # type: ignore[union-attr]
    assert mla is not None
    assert mla.q_lora_rank is None


# --------------------------------------------------------------------------- per_layer_config


@pytest.mark.parametrize(
    ("name", "model_class"),
    [
        ("Olmo-3-7B", "Olmo3ForCausalLM"),
        ("GLM-4.5-Air", "Glm4MoeForCausalLM"),
        ("MiniMax-M2", "MiniMaxM2ForCausalLM"),
        ("granite-4.0-h-tiny", "GraniteMoeHybridForCausalLM"),
        ("Falcon-H1-7B-Base", "FalconH1ForCausalLM"),
        ("DeepSeek-V3.2-Exp", "DeepseekV32ForCausalLM"),
        ("GLM-5", "GlmMoeDsaForCausalLM"),
        ("Mistral-Small-4-119B-2603", "Mistral4ForCausalLM"),
    ],
)
def test_per_layer_overrides_are_refused_where_transformers_builds_none(
    name: str, model_class: str
) -> None:
    # transformers 5.25's modelling code of these families reads every layer's sizes from the
    # global config: with any override it raises AmbiguousGlobalPerLayerAttributeError.
    config = _fixture(name)
    family = config["model_type"]
    config["per_layer_config"] = {"0": {"intermediate_size": 8}, "1": {"skip": ["mlp"]}}
    assert _errors(config) == [
        f"$.per_layer_config.0.intermediate_size: {family} layers are not read with their own "
        "intermediate_size: block-config reads no per-layer value it does not model "
        f"({family} layers have no per-layer attributes: transformers 5.25's {model_class} "
        "builds no layer with its own values: it reads them from the global config, which "
        "raises AmbiguousGlobalPerLayerAttributeError on any override)",
        f"$.per_layer_config.1.skip[0]: {family} layers have no subblock 'mlp' to skip (no "
        "subblock of theirs is skipped per layer)",
    ]
    config["per_layer_config"] = {}
    assert ModelArchitecture.from_mapping(config).dialect == "per-layer"


# --------------------------------------------------------------------------- the flag


def test_qk_norm_across_heads_and_per_head_qk_norm_exclude_each_other() -> None:
    config = {**_fixture("Olmo-3-7B"), "layer_types": None}
    arch = ModelArchitecture.from_mapping(config)
    native = arch.to_mapping("native")
    assert native["qk_norm_across_heads"] is True
    assert ModelArchitecture.from_mapping(native).qk_norm_across_heads is True
    native["qk_norm"] = True
    assert _errors(native) == [
        "$.qk_norm_across_heads: cannot be true with qk_norm: a model norms q and k per head "
        "or across heads, not both"
    ]


def test_a_native_model_written_without_the_flag_is_written_as_before() -> None:
    arch = ModelArchitecture.load(FAMILIES / "Llama-3.1-8B.config.json")
    assert "qk_norm_across_heads" not in arch.to_mapping("native")
