"""The GLM-5.3-Flash reader (``glm5_next`` / ``glm5_next_text``): what transformers 5.25's
configuration class builds, and what the reader refuses at its key rather than count wrong.

The totals below are transformers 5.25.0's own: each config was built as
``Glm5NextForConditionalGeneration`` on the meta device and the parameters outside
``model.visual`` summed (the text model and ``lm_head``, tied weights once).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from block_config import BlockConfigError, ModelArchitecture, model_stats, readers

FIXTURE = Path(__file__).parent / "data" / "families" / "GLM-5.3-Flash.config.json"
H = 4096


def _config() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _with(**text: Any) -> dict[str, Any]:
    """The fixture with its text part's keys changed (``None`` removes a key)."""
    config = _config()
    for key, value in text.items():
        if value is None:
            config["text_config"].pop(key, None)
        else:
            config["text_config"][key] = value
    return config


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def _kinds(arch: ModelArchitecture) -> str:
    """One letter per layer: K (Kimi Delta Attention), I (MLA with its indexer), M (MLA)."""
    letters = []
    for block in arch.block_configs:
        assert block.attention is not None
        mla = block.attention.mla
        if block.attention.linear_attention is not None:
            letters.append("K")
        else:
            assert mla is not None
            letters.append("I" if mla.has_indexer else "M")
    return "".join(letters)


def test_the_wrapper_and_its_text_part_are_registered() -> None:
    assert {"glm5_next", "glm5_next_text"} <= set(readers.supported_model_types())
    assert readers.text_part_key(_config()) == "text_config"


def test_the_published_layout_kda_and_indexed_mla_dense_then_moe() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    assert arch.model_type == "glm5_next"
    assert _kinds(arch) == "KKKI" * 11 + "K"
    moe = [block.ffn is not None and block.ffn.is_moe for block in arch.block_configs]
    assert moe == [False] * 3 + [True] * 42
    assert arch.hyper_connections == 4
    assert arch.hyper_connections_mean_head is True
    assert arch.router_score_correction_bias is True
    assert arch.tie_word_embeddings is False
    kda = arch.block_configs[0].attention.linear_attention  # type: ignore[union-attr]
    assert kda is not None
    assert (kda.kind, kda.num_key_heads, kda.key_head_dim, kda.conv_kernel) == ("kda", 64, 128, 4)
    mla = arch.block_configs[3].attention.mla  # type: ignore[union-attr]
    assert mla is not None
    assert (mla.kv_lora_rank, mla.qk_nope_head_dim, mla.qk_rope_head_dim) == (512, 256, 0)
    assert (mla.v_head_dim, mla.q_lora_rank) == (256, 1536)
    assert (mla.index_n_heads, mla.index_head_dim, mla.index_kpool) == (32, 128, 4)
    experts = arch.block_configs[3].ffn.moe  # type: ignore[union-attr]
    assert experts is not None
    assert (experts.num_local_experts, experts.num_experts_per_tok) == (288, 8)
    assert (experts.expert_intermediate_dim, experts.shared_expert_intermediate_dim) == (2048, 2048)


def test_each_layer_kind_counts_what_transformers_builds() -> None:
    stats = model_stats(ModelArchitecture.load(FIXTURE), kv_cache_dtype="bf16")
    hc = 2 * (24 * 4 * H + 24 + 3)  # attn_hc and ffn_hc: fn, base, scale
    norms = 2 * H  # input_layernorm, post_attention_layernorm
    heads, d = 64, 128
    kda = (
        3 * H * heads * d  # q_proj, k_proj, v_proj
        + 3 * heads * d * 4  # conv1d (24576, 1, 4)
        + H * d  # forget_gate.f_a_proj
        + d * heads * d  # forget_gate.f_b_proj
        + heads * d  # forget_gate.dt_bias
        + heads  # forget_gate.A_log
        + heads * H  # b_proj
        + H * d  # g_a_proj
        + d * heads * d  # g_b_proj
        + d  # o_norm
        + heads * d * H  # o_proj
    )
    mla = (
        H * 1536  # q_a_proj
        + 1536  # q_a_layernorm
        + 1536 * heads * 256  # q_b_proj
        + H * 512  # kv_a_proj_with_mqa (no RoPE slice)
        + 512  # kv_a_layernorm
        + 512 * heads * (256 + 256)  # kv_b_proj
        + heads * 256 * H  # o_proj
    )
    indexer = (
        32 * 128 * 1536  # wq_b
        + 128 * H  # wk
        + 2 * 128  # k_norm, weight and bias
        + 32 * H  # weights_proj
        + 128 * H  # index_kpool_compress_gate
        + 4 * 128  # index_kpool_compress_ape
    )
    dense = 3 * H * 12288
    moe = 288 * 3 * H * 2048 + 3 * H * 2048 + 288 * H  # experts, shared expert, router
    assert stats.layers[0].params == kda + dense + norms + hc
    assert stats.layers[3].params == mla + indexer + moe + norms + hc
    assert stats.layers[4].params == kda + moe + norms + hc
    assert stats.layers[3].kv_cache_bytes_per_token == (512 + 0 + 128 + 128) * 2
    assert stats.layers[0].kv_cache_bytes_per_token == 0
    state = (3 * heads * d * (4 - 1) + heads * d * d) * 2
    assert stats.layers[0].linear_attention_state_bytes_per_sequence == state
    assert stats.layers[3].linear_attention_state_bytes_per_sequence == 0


@pytest.mark.parametrize(
    ("config", "text_params"),
    [
        # Glm5NextConfig() with an empty text_config: the class's defaults (index_kpool 16).
        (
            {
                "architectures": ["Glm5NextForConditionalGeneration"],
                "model_type": "glm5_next",
                "text_config": {"model_type": "glm5_next_text"},
            },
            313_326_816_766,
        ),
        # Every other layer's indexer shared, 5 dense layers, KDA sizes from
        # linear_attn_config, 2 streams, pools of 8, the wrapper's tie flag.
        (
            {
                **_with(
                    indexer_types=["full", "shared"] * 22 + ["full"],
                    mlp_layer_types=["dense"] * 5 + ["sparse"] * 40,
                    first_k_dense_replace=None,
                    linear_attn_config={
                        "num_heads": 32,
                        "head_dim": 64,
                        "short_conv_kernel_size": 3,
                    },
                    hc_mult=2,
                    index_kpool=8,
                ),
                "tie_word_embeddings": True,
            },
            294_824_360_094,
        ),
        # A small model: transformers' names for MLA layers, the top-level KDA keys, 2 shared
        # experts, 3 streams, attention biases.
        (
            {
                "architectures": ["Glm5NextForConditionalGeneration"],
                "model_type": "glm5_next",
                "text_config": {
                    "model_type": "glm5_next_text",
                    "num_hidden_layers": 6,
                    "hidden_size": 1024,
                    "intermediate_size": 2048,
                    "moe_intermediate_size": 256,
                    "n_routed_experts": 16,
                    "num_experts_per_tok": 2,
                    "n_shared_experts": 2,
                    "num_attention_heads": 8,
                    "num_key_value_heads": 8,
                    "q_lora_rank": 256,
                    "kv_lora_rank": 128,
                    "qk_nope_head_dim": 64,
                    "v_head_dim": 32,
                    "index_n_heads": 4,
                    "index_head_dim": 32,
                    "index_topk": 64,
                    "index_kpool": 2,
                    "layer_types": [
                        "full_attention",
                        "linear_attention",
                        "indexed_attention",
                        "linear_attention",
                        "linear_attention",
                        "deepseek_sparse_attention",
                    ],
                    "linear_num_heads": 16,
                    "linear_head_dim": 32,
                    "linear_conv_kernel_dim": 2,
                    "hc_mult": 3,
                    "vocab_size": 1000,
                    "pad_token_id": 0,
                    "attention_bias": True,
                },
            },
            73_618_920,
        ),
    ],
    ids=["defaults", "variant", "small"],
)
def test_totals_equal_transformers_count(config: dict[str, Any], text_params: int) -> None:
    assert model_stats(ModelArchitecture.from_mapping(config)).total_params == text_params


def test_the_defaults_follow_the_configuration_class() -> None:
    arch = ModelArchitecture.from_mapping(
        {"model_type": "glm5_next", "text_config": {"model_type": "glm5_next_text"}}
    )
    assert _kinds(arch) == "KKKI" * 11 + "K"
    mla = arch.block_configs[3].attention.mla  # type: ignore[union-attr]
    assert mla is not None
    assert mla.index_kpool == 16
    assert arch.hyper_connections == 4
    assert arch.tie_word_embeddings is False
    # A short model: its first min(3, layers) layers dense, as the class builds them.
    short = ModelArchitecture.from_mapping(
        {"model_type": "glm5_next_text", "num_hidden_layers": 2, "first_k_dense_replace": 3}
    )
    assert [block.ffn.is_moe for block in short.block_configs] == [False, False]  # type: ignore[union-attr]


def test_shared_indexer_layers_have_no_indexer_and_keep_no_indexer_state() -> None:
    # Layers 3, 11, 19, ... run their indexer; 7, 15, 23, ... reuse the previous choice.
    types = ["full" if (index // 4) % 2 == 0 else "shared" for index in range(45)]
    arch = ModelArchitecture.from_mapping(_with(indexer_types=types))
    assert _kinds(arch) == ("KKKI" + "KKKM") * 5 + "KKKI" + "K"
    stats = model_stats(arch, kv_cache_dtype="bf16")
    full, shared = stats.layers[3], stats.layers[7]
    assert full.kv_cache_bytes_per_token == (512 + 128 + 128) * 2
    assert shared.kv_cache_bytes_per_token == 512 * 2
    indexer = 32 * 128 * 1536 + 128 * H + 2 * 128 + 32 * H + 128 * H + 4 * 128
    assert full.params - shared.params == indexer


def test_linear_attn_config_wins_over_the_top_level_keys_one_by_one() -> None:
    arch = ModelArchitecture.from_mapping(
        _with(
            linear_attn_config={"head_dim": 64},
            linear_num_heads=32,
            linear_head_dim=256,
            linear_conv_kernel_dim=2,
        )
    )
    kda = arch.block_configs[0].attention.linear_attention  # type: ignore[union-attr]
    assert kda is not None
    assert (kda.num_key_heads, kda.key_head_dim, kda.conv_kernel) == (32, 64, 2)


def test_the_wrapper_tie_flag_decides() -> None:
    tied = _config()
    tied["tie_word_embeddings"] = True
    assert ModelArchitecture.from_mapping(tied).tie_word_embeddings is True
    text_only = _with(tie_word_embeddings=True)
    del text_only["tie_word_embeddings"]
    assert ModelArchitecture.from_mapping(text_only).tie_word_embeddings is True
    untied = _with(tie_word_embeddings=True)
    assert ModelArchitecture.from_mapping(untied).tie_word_embeddings is False


def test_the_text_part_reads_on_its_own() -> None:
    text = _config()["text_config"]
    arch = ModelArchitecture.from_mapping(text)
    assert arch.model_type == "glm5_next_text"
    own = ModelArchitecture.load(FIXTURE)
    assert arch.block_configs == own.block_configs
    assert model_stats(arch).total_params == model_stats(own).total_params


def test_a_text_only_checkpoint_keeps_its_text_keys_at_the_top_level() -> None:
    # Glm5NextConfig forwards its own keys to its text part when it has no text_config;
    # transformers 5.25 counts this flat config's text model as the fixture's.
    config = _config()
    text = config.pop("text_config")
    del text["model_type"], config["vision_config"]
    arch = ModelArchitecture.from_mapping({**config, **text})
    own = ModelArchitecture.load(FIXTURE)
    assert arch.model_type == "glm5_next"
    assert arch.block_configs == own.block_configs
    assert model_stats(arch).total_params == 313_326_799_870
    again = ModelArchitecture.from_mapping(arch.to_mapping("native"))
    assert again.block_configs == own.block_configs
    # A wrapper without that rule still needs its text part.
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping({"model_type": "qwen3_5", "hidden_size": 8})
    assert str(info.value.problems[0]).startswith("$.text_config: expected the text model's")


def test_written_native_and_read_back_it_is_the_same_model() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    native = arch.to_mapping("native")
    text = native["text_config"]
    # The MTP layer is not read, so the native form does not ask for its blocks.
    assert text["num_nextn_predict_layers"] == 0
    assert text["hc_mult"] == 4
    assert text["hyper_connections_mean_head"] is True
    assert text["block_configs"][3]["attention"]["mla"]["index_kpool"] == 4
    again = ModelArchitecture.from_mapping(copy.deepcopy(native))
    assert again.block_configs == arch.block_configs
    assert (again.hyper_connections, again.hyper_connections_mean_head) == (4, True)
    assert model_stats(again).total_params == model_stats(arch).total_params


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"qk_rope_head_dim": 64},
            "$.text_config.qk_rope_head_dim: not supported: 64; GLM-5.3-Flash's MLA has no RoPE "
            "slice (transformers refuses any other value than 0)",
        ),
        (
            {"num_key_value_heads": 32},
            "$.text_config.num_key_value_heads: must equal num_attention_heads (64) as "
            "transformers requires, got 32",
        ),
        (
            {"index_topk": 2050},
            "$.text_config.index_topk: 2050 is not a multiple of index_kpool (4)",
        ),
        (
            {"index_kpool": 0},
            "$.text_config.index_kpool: expected int from 1 to 9223372036854775807, got 0",
        ),
        (
            {"index_kpool_compress": False},
            "$.text_config.index_kpool_compress: not supported: bool False; transformers 5.25 "
            "always builds the pooled-key compression (index_kpool_compress_gate, "
            "index_kpool_compress_ape)",
        ),
        (
            {"first_k_dense_replace": 1},
            "$.text_config.first_k_dense_replace: not supported: 1; transformers 5.25 does not "
            "read it and builds the first 3 layers dense (say which layers are in "
            "mlp_layer_types)",
        ),
        (
            {"moe_layer_freq": 2},
            "$.text_config.moe_layer_freq: not supported: 2; transformers 5.25 does not read it "
            "and builds an MoE in every layer after the dense ones (say which layers are in "
            "mlp_layer_types)",
        ),
        (
            {"layer_types": ["linear_attention"] * 44 + ["sliding_attention"]},
            "$.text_config.layer_types[44]: expected one of linear_attention, indexed_attention, "
            "full_attention, deepseek_sparse_attention, got str 'sliding_attention'",
        ),
        (
            {"layer_types": ["linear_attention"] * 44},
            "$.text_config.layer_types: has 44 items but num_hidden_layers is 45",
        ),
        (
            {"mlp_layer_types": ["dense"] * 3 + ["moe"] + ["sparse"] * 41},
            "$.text_config.mlp_layer_types[3]: expected one of dense, sparse, got str 'moe'",
        ),
        (
            {"linear_attn_config": [64, 128]},
            "$.text_config.linear_attn_config: expected an object, got list",
        ),
        (
            {"linear_attn_config": {"num_heads": "64"}},
            "$.text_config.linear_attn_config.num_heads: expected int, got str '64'",
        ),
        (
            {"hc_mult": 0},
            "$.text_config.hc_mult: expected int from 1 to 9223372036854775807, got 0",
        ),
        (
            {"indexer_types": ["full"] * 44 + ["none"]},
            "$.text_config.indexer_types[44]: expected full or shared, got str 'none'",
        ),
    ],
)
def test_what_transformers_would_not_build_is_refused_at_its_key(
    changes: dict[str, Any], message: str
) -> None:
    assert _errors(_with(**changes)) == [message]


def test_a_null_query_latent_is_refused() -> None:
    config = _config()
    config["text_config"]["q_lora_rank"] = None
    assert _errors(config) == [
        "$.text_config.q_lora_rank: not supported: null (one query projection); transformers "
        "builds the query latent, which the indexer reads, in every MLA layer"
    ]


def test_per_layer_overrides_are_refused_until_modelled() -> None:
    config = _with(per_layer_config={"3": {"index_kpool": 8}})
    assert _errors(config) == [
        "$.text_config.per_layer_config.3.index_kpool: glm5_next_text layers are not read with "
        "their own index_kpool: block-config reads no per-layer value it does not model "
        "(glm5_next_text layers have no per-layer attributes yet)"
    ]
    wrapper = _config()
    wrapper["per_layer_config"] = {}
    assert _errors(wrapper)[0].startswith("$.per_layer_config: per-layer overrides of a multimodal")


def test_a_config_of_another_family_read_as_glm5_next_gets_no_defaults() -> None:
    llama = json.loads((FIXTURE.parent / "Llama-3.1-8B.config.json").read_text(encoding="utf-8"))
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(llama, family="glm5_next_text")
    missing = [
        "hc_mult",
        "linear_num_heads",
        "linear_head_dim",
        "linear_conv_kernel_dim",
        "kv_lora_rank",
        "qk_nope_head_dim",
        "v_head_dim",
        "q_lora_rank",
        "index_kpool",
        "index_topk",
        "index_n_heads",
        "index_head_dim",
        "n_routed_experts",
        "num_experts_per_tok",
        "moe_intermediate_size",
    ]
    problems = [str(problem) for problem in info.value.problems]
    assert sorted(problems) == sorted(
        [f"$.{key}: missing required key" for key in missing]
        + [
            "$.num_key_value_heads: must equal num_attention_heads (32) as transformers "
            "requires, got 8"
        ]
    )
    # A config that names no model_type is taken at its word, with the class's defaults.
    text = _config()["text_config"]
    del text["model_type"]
    arch = ModelArchitecture.from_mapping(text, family="glm5_next_text")
    assert (
        model_stats(arch).total_params == model_stats(ModelArchitecture.load(FIXTURE)).total_params
    )
