"""Parameters, weight bytes, KV cache and Mamba state: every formula checked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from published import SUPER, ULTRA, needs_published

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    ModelArchitecture,
    block_stats,
    model_stats,
    precision_bits,
)
from block_config.strategies import block_configs

# A toy model whose every figure is small enough to check on paper: hidden 16, 4 heads of 4.
H = 16


def model(*blocks: BlockConfig | dict[str, Any], **kwargs: Any) -> ModelArchitecture:
    settings: dict[str, Any] = {
        "hidden_size": H,
        "num_attention_heads": 4,
        "head_dim": 4,
        "vocab_size": 100,
    }
    settings.update(kwargs)
    structured = tuple(b if isinstance(b, BlockConfig) else BlockConfig(**b) for b in blocks)
    return ModelArchitecture(block_configs=structured, **settings)


GQA = {"num_key_value_heads": 2}
NO_OP = {"no_op": True}
DENSE = {"intermediate_size": 32}


def layer(block: dict[str, Any], **kwargs: Any) -> Any:
    return model_stats(model(block, **kwargs)).layers[0]


def test_gqa_attention_and_its_kv_cache() -> None:
    stats = layer({"attention": GQA, "ffn": NO_OP}).attention
    # q 16x16, k and v 16x8 each, o 16x16, input norm 16
    assert stats.params == 256 + 128 + 128 + 256 + 16 == 784
    assert stats.kind == "gqa"
    assert stats.num_key_value_heads == 2
    # K and V, 2 heads of 4, 2 bytes each (bf16 when the model says nothing)
    assert stats.kv_cache_bytes_per_token == 2 * 2 * 4 * 2 == 32
    assert stats.weight_bytes == 784 * 2


def test_head_dim_that_is_not_hidden_over_heads() -> None:
    stats = layer({"attention": GQA, "ffn": NO_OP}, head_dim=8).attention
    # q 16x32, k and v 16x16 each, o 32x16, norm 16
    assert stats.params == 512 + 256 + 256 + 512 + 16
    assert stats.kv_cache_bytes_per_token == 2 * 2 * 8 * 2


def test_a_layer_with_its_own_head_count_and_width() -> None:
    own = {"num_key_value_heads": 2, "num_attention_heads": 8, "head_dim": 8}
    stats = layer({"attention": own, "ffn": NO_OP}).attention
    # q 16x64, k and v 16x16 each, o 64x16, norm 16: the layer's 8 heads of 8
    assert stats.params == 1024 + 256 + 256 + 1024 + 16
    assert stats.kv_cache_bytes_per_token == 2 * 2 * 8 * 2
    assert (stats.num_attention_heads, stats.head_dim) == (8, 8)
    assert stats.to_dict()["head_dim"] == 8
    model_wide = layer({"attention": GQA, "ffn": NO_OP}).attention
    assert (model_wide.num_attention_heads, model_wide.head_dim) == (4, 4)
    with_norms = layer({"attention": own, "ffn": NO_OP}, qk_norm=True, attention_sinks=True)
    assert with_norms.attention.params == stats.params + 2 * 8 + 8


def test_a_layers_own_values_equal_to_the_models_are_dropped() -> None:
    same = model({"attention": {**GQA, "num_attention_heads": 4, "head_dim": 4}, "ffn": NO_OP})
    assert same.block_configs[0].attention == AttentionConfig(num_key_value_heads=2)
    assert "head_dim" not in same.block_configs[0].attention.to_dict()
    mixed = model({"attention": {**GQA, "num_attention_heads": 4, "head_dim": 8}, "ffn": NO_OP})
    assert mixed.block_configs[0].attention == AttentionConfig(num_key_value_heads=2, head_dim=8)


def test_kv_heads_must_divide_the_layers_own_head_count() -> None:
    with pytest.raises(BlockConfigError) as error:
        model({"attention": {"num_key_value_heads": 4, "num_attention_heads": 6}, "ffn": NO_OP})
    assert str(error.value) == (
        "$.block_configs[0].attention.num_key_value_heads: 4 does not divide "
        "the layer's num_attention_heads (6)"
    )
    model({"attention": {"num_key_value_heads": 3, "num_attention_heads": 6}, "ffn": NO_OP})


def test_latent_moe() -> None:
    moe = {
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "expert_intermediate_dim": 8,
        "shared_expert_intermediate_dim": 12,
        "gated": False,
        "latent_dim": 6,
    }
    stats = layer({"attention": NO_OP, "ffn": {"moe": moe}}).ffn
    # router 16x4; fc1 16->6 and fc2 6->16; experts up 6->8 and down 8->6 (in the latent);
    # the shared expert up and down at the hidden width; the norm
    router, latent, expert, shared, norm = 16 * 4, 2 * 16 * 6, 2 * 6 * 8, 2 * 16 * 12, 16
    assert stats.params == router + latent + 4 * expert + shared + norm
    assert stats.active_params == router + latent + 2 * expert + shared + norm
    assert stats.latent_dim == 6
    assert stats.to_dict()["latent_dim"] == 6
    biased = layer({"attention": NO_OP, "ffn": {"moe": moe}}, mlp_bias=True).ffn
    # fc1 and fc2 biases, the experts' (up 8, down 6 each) and the shared expert's (12, 16)
    assert biased.params == stats.params + (6 + 16) + 4 * (8 + 6) + (12 + 16)


def test_attention_bias() -> None:
    stats = layer({"attention": GQA, "ffn": NO_OP}, attention_bias=True).attention
    assert stats.params == 784 + 16 + 8 + 8 + 16  # q, k, v, o biases


def test_dense_ffn_with_and_without_bias() -> None:
    assert layer({"attention": NO_OP, "ffn": DENSE}).ffn.params == 3 * 16 * 32 + 16
    biased = layer({"attention": NO_OP, "ffn": DENSE}, mlp_bias=True).ffn
    assert biased.params == 3 * 16 * 32 + 16 + (32 + 32 + 16)
    assert biased.kind == "dense"
    assert biased.intermediate_size == 32


def test_linear_replacements_hold_no_kv_cache() -> None:
    stats = layer(
        {
            "attention": {"replace_with_linear": True, "num_key_value_heads": 2},
            "ffn": {"replace_with_linear": True, "intermediate_size": 32},
        },
        attention_bias=True,
        mlp_bias=True,
    )
    assert stats.attention.kind == "linear"
    assert stats.attention.params == 16 * 16 + 16
    assert stats.attention.num_key_value_heads is None
    assert stats.attention.kv_cache_bytes_per_token == 0
    assert stats.ffn.kind == "linear"
    assert stats.ffn.params == 16 * 16 + 16
    assert stats.ffn.intermediate_size is None
    assert stats.params == 2 * (16 * 16 + 16)


def test_no_op_and_absent_subblocks_are_empty() -> None:
    for block in ({"attention": NO_OP, "ffn": NO_OP}, {}):
        stats = layer(block)
        assert stats.attention.kind == "no_op"
        assert stats.ffn.kind == "no_op"
        assert stats.params == stats.weight_bytes == stats.kv_cache_bytes_per_token == 0


def test_moe_with_a_shared_expert() -> None:
    moe = {
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "expert_intermediate_dim": 8,
        "shared_expert_intermediate_dim": 12,
    }
    stats = layer({"attention": NO_OP, "ffn": {"moe": moe}}).ffn
    router, expert, shared, norm = 16 * 4, 3 * 16 * 8, 3 * 16 * 12, 16
    assert stats.kind == "moe"
    assert stats.params == router + 4 * expert + shared + norm == 2192
    assert stats.active_params == router + 2 * expert + shared + norm == 1424
    assert (stats.num_local_experts, stats.num_experts_per_tok) == (4, 2)
    biased = layer({"attention": NO_OP, "ffn": {"moe": moe}}, mlp_bias=True).ffn
    assert biased.params == 2192 + 4 * (8 + 8 + 16) + (12 + 12 + 16)


def test_moe_without_a_shared_expert() -> None:
    moe = {
        "num_local_experts": 4,
        "expert_intermediate_dim": 8,
        "shared_expert_intermediate_dim": 0,
    }
    stats = layer({"attention": NO_OP, "ffn": {"moe": moe}}).ffn
    assert stats.params == 16 * 4 + 4 * 3 * 16 * 8 + 16
    assert stats.active_params == 16 * 4 + 3 * 16 * 8 + 16


MAMBA = {"state_dim": 16, "num_heads": 4, "head_dim": 8, "num_groups": 2}


def test_mamba_mixer() -> None:
    stats = layer({"attention": {"mamba": MAMBA}, "ffn": NO_OP}, mamba_conv_kernel=4)
    # d_in 32, conv_dim 32 + 2*2*16 = 96
    in_proj = 16 * (2 * 32 + 2 * 2 * 16 + 4)
    conv1d = 96 * 4 + 96
    assert stats.attention.kind == "mamba"
    assert stats.attention.params == in_proj + conv1d + 3 * 4 + 32 + 32 * 16 + 16 == 3164
    assert stats.kv_cache_bytes_per_token == 0
    # conv state 96 x (4 - 1), SSM state 4 heads x 8 x 16, in bf16
    assert stats.mamba_state_bytes_per_sequence == (96 * 3 + 4 * 8 * 16) * 2 == 1600


def test_parallel_blocks_add_up() -> None:
    inner = {"attention": GQA, "ffn": DENSE}
    stats = layer({"attention": GQA, "ffn": NO_OP, "parallel_blocks": [inner, inner]})
    single = layer(inner)
    assert len(stats.parallel_blocks) == 2
    assert stats.params == 784 + 2 * single.params
    assert stats.kv_cache_bytes_per_token == 32 * 3
    assert stats.parallel_blocks[1].index == 0


def test_model_level_weights_and_totals() -> None:
    blocks: list[dict[str, Any]] = [
        {"attention": GQA, "ffn": DENSE},
        {"attention": NO_OP, "ffn": DENSE},
    ]
    stats = model_stats(model(*blocks))
    assert stats.embedding_params == stats.lm_head_params == 100 * 16
    assert stats.final_norm_params == 16
    layers = 784 + 2 * (3 * 16 * 32 + 16)
    assert stats.total_params == 2 * 1600 + 16 + layers
    assert [layer.index for layer in stats.layers] == [0, 1]
    tied = model_stats(model(*blocks, tie_word_embeddings=True))
    assert tied.lm_head_params == 0
    assert tied.total_params == stats.total_params - 1600


def test_weight_bytes_follow_each_subblock_precision() -> None:
    block = {
        "attention": {**GQA, "weights_precision": "fp8"},
        "ffn": {**DENSE, "weights_precision": "nvfp4"},
    }
    stats = model_stats(model(block, torch_dtype="bfloat16"))
    ffn_params = 3 * 16 * 32 + 16
    assert stats.layers[0].attention.weight_bytes == 784
    assert stats.layers[0].ffn.weight_bytes == ffn_params // 2
    assert stats.weight_bytes == (2 * 1600 + 16) * 2 + 784 + ffn_params // 2
    # The KV cache stays in the model dtype whatever the weights are stored in.
    assert stats.kv_cache_bytes_per_token == 32


def test_null_precision_means_the_model_dtype() -> None:
    block = {"attention": {**GQA, "weights_precision": None}, "ffn": NO_OP}
    stats = model_stats(model(block, torch_dtype="float32")).layers[0].attention
    assert stats.weights_precision == "float32"
    assert stats.weight_bytes == 784 * 4
    assert stats.kv_cache_bytes_per_token == 64


def test_half_byte_precisions_round_up() -> None:
    stats = layer(
        {"attention": NO_OP, "ffn": {"intermediate_size": 1, "weights_precision": "int4"}}
    )
    # 3*16*1 + 16 = 64 parameters; a model with hidden 1 would have an odd count
    assert stats.ffn.weight_bytes == 32
    odd = model_stats(
        model(
            {
                "attention": NO_OP,
                "ffn": {
                    "replace_with_linear": True,
                    "intermediate_size": 1,
                    "weights_precision": "mxfp4",
                },
            },
            hidden_size=3,
            num_attention_heads=1,
            head_dim=3,
        )
    )
    assert odd.layers[0].ffn.params == 12
    assert odd.layers[0].ffn.weight_bytes == 6
    assert precision_bits("nvfp4") == 4
    assert precision_bits("BF16") == precision_bits("torch.bfloat16") == 16


def test_unknown_precisions_are_all_reported_with_their_paths() -> None:
    blocks: list[dict[str, Any]] = [
        {"attention": GQA, "ffn": DENSE},
        {
            "attention": {**GQA, "weights_precision": "fp7"},
            "ffn": {**DENSE, "weights_precision": "q4"},
        },
        {
            "attention": GQA,
            "ffn": DENSE,
            "parallel_blocks": [{"ffn": {**DENSE, "weights_precision": "x"}}],
        },
    ]
    with pytest.raises(BlockConfigError) as info:
        model_stats(model(*blocks))
    assert [str(p).split(";")[0] for p in info.value.problems] == [
        "$.block_configs[1].attention.weights_precision: unknown precision 'fp7'",
        "$.block_configs[1].ffn.weights_precision: unknown precision 'q4'",
        "$.block_configs[2].parallel_blocks[0].ffn.weights_precision: unknown precision 'x'",
    ]
    assert "nvfp4" in info.value.problems[0].message
    with pytest.raises(BlockConfigError, match=r"(?m)^\$\.ffn\.weights_precision: unknown"):
        block_stats(BlockConfig(**blocks[1]), model())


def test_unknown_model_dtype() -> None:
    with pytest.raises(BlockConfigError, match=r"^\$\.torch_dtype: unknown precision 'int3'"):
        model_stats(model({"attention": GQA, "ffn": DENSE}, torch_dtype="int3"))


def test_kv_cache_dtype_override() -> None:
    stats = model_stats(model({"attention": GQA, "ffn": DENSE}), kv_cache_dtype="fp8")
    assert stats.kv_cache_bytes_per_token == 16
    assert stats.kv_cache_dtype == "fp8"
    with pytest.raises(ValueError, match="kv_cache_dtype: unknown precision 'fp9'"):
        model_stats(model({"attention": GQA, "ffn": DENSE}), kv_cache_dtype="fp9")


def test_batch_and_sequence_memory() -> None:
    blocks: list[dict[str, Any]] = [
        {"attention": GQA, "ffn": DENSE},
        {"attention": {"mamba": MAMBA}, "ffn": NO_OP},
        {"attention": {**GQA, "llama4": {"attention_chunk_size": 100}}, "ffn": NO_OP},
    ]
    stats = model_stats(model(*blocks), mamba_state_dtype="fp32")
    assert stats.kv_cache_bytes_per_token == 64
    assert stats.mamba_state_bytes_per_sequence == (96 * 3 + 4 * 8 * 16) * 4
    # the chunked layer holds at most 100 tokens
    assert stats.kv_cache_bytes(3, 1000) == 3 * (32 * 1000 + 32 * 100)
    assert stats.kv_cache_bytes(3, 50) == 3 * 64 * 50
    assert stats.mamba_state_bytes(3) == 3 * 3200
    memory = stats.memory(2, 1000)
    assert memory.total_bytes == stats.weight_bytes + 2 * 35200 + 2 * 3200
    assert memory.to_dict()["total_bytes"] == memory.total_bytes
    with pytest.raises(ValueError, match="batch_size must be an int >= 0"):
        stats.kv_cache_bytes(-1, 10)
    with pytest.raises(ValueError, match="sequence_length"):
        stats.memory(1, 2.5)  # type: ignore[arg-type]


def test_results_are_frozen_and_json_ready() -> None:
    stats = model_stats(
        model({"attention": GQA, "ffn": DENSE, "parallel_blocks": [{"ffn": DENSE}]})
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.total_params = 0  # type: ignore[misc]
    data = stats.to_dict()
    assert orjson.loads(orjson.dumps(data)) == data
    assert data["layers"][0]["attention"] == stats.layers[0].attention.to_dict()
    assert data["layers"][0]["parallel_blocks"][0]["ffn"]["intermediate_size"] == 32
    assert data["layers"][0]["attention"]["kind"] == "gqa"


def _fit(block: BlockConfig) -> BlockConfig:
    """The same block with KV-head counts that divide the toy model's 4 heads."""
    attention = block.attention
    if attention is not None and attention.num_key_value_heads is not None:
        heads = (1, 2, 4)[attention.num_key_value_heads % 3]
        if attention.num_attention_heads is not None:
            heads = 1  # divides any head count of the layer's own
        attention = attrs.evolve(attention, num_key_value_heads=heads)
    parallel = None
    if block.parallel_blocks is not None:
        parallel = tuple(_fit(inner) for inner in block.parallel_blocks)
    return attrs.evolve(block, attention=attention, parallel_blocks=parallel)


@settings(max_examples=60, deadline=None)
@given(st.lists(block_configs(max_depth=1, precisions=("bf16", "fp8", None)).map(_fit), max_size=4))
def test_totals_are_the_sums_of_the_layers(blocks: list[BlockConfig]) -> None:
    stats = model_stats(model(*blocks))
    assert stats.total_params == 2 * 1600 + 16 + sum(layer.params for layer in stats.layers)
    assert stats.kv_cache_bytes_per_token == sum(
        layer.kv_cache_bytes_per_token for layer in stats.layers
    )
    for one, block in zip(stats.layers, blocks, strict=True):
        assert block_stats(block, model(), index=one.index) == one
        assert one.active_params <= one.params


DATA = Path(__file__).parent / "data"


@needs_published
def test_super_49b_every_layer_and_the_totals() -> None:
    model = ModelArchitecture.load(SUPER)
    stats = model_stats(model)
    assert stats.total_params == 49_867_145_216
    assert stats.kv_cache_bytes_per_token == 200_704
    assert stats.kv_cache_dtype == "bfloat16"
    assert stats.weight_bytes == 2 * 49_867_145_216
    # By hand, hidden 8192, 64 query heads and 8 KV heads of 128:
    # attention q 8192x8192, k and v 8192x1024, o 8192x8192, norm 8192.
    attention = 2 * 8192 * 8192 + 2 * 8192 * 1024 + 8192
    assert attention == 151_003_136
    assert stats.layers[0].params == attention + 3 * 8192 * 14336 + 8192 == 503_332_864
    assert stats.layers[1].params == attention + 3 * 8192 * 28672 + 8192 == 855_654_400
    assert stats.layers[6].attention.kind == "no_op"
    assert stats.layers[6].params == 3 * 8192 * 14336 + 8192 == 352_329_728
    assert stats.layers[11].params == 3 * 8192 * 17920 + 8192 == 440_410_112
    for layer, block in zip(stats.layers, model.block_configs, strict=True):
        assert block.attention is not None
        assert block.ffn is not None
        gqa = not block.attention.no_op
        assert layer.attention.kind == ("gqa" if gqa else "no_op")
        assert layer.attention.num_key_value_heads == (8 if gqa else None)
        assert layer.kv_cache_bytes_per_token == (4096 if gqa else 0)
        width = block.ffn.intermediate_size
        assert width is not None
        assert layer.ffn.intermediate_size == width
        assert layer.params == (attention if gqa else 0) + 3 * 8192 * width + 8192
    assert sum(layer.attention.kind == "gqa" for layer in stats.layers) == 49


@needs_published
def test_ultra_253b_matches_the_published_parameter_count() -> None:
    model = ModelArchitecture.load(ULTRA)
    stats = model_stats(model)
    # llama.cpp prints "model params = 253.401 B" when it loads this model.
    assert stats.total_params == 253_401_268_224
    assert round(stats.total_params / 1e9, 3) == 253.401
    empty = [layer for layer in stats.layers if layer.params == 0]
    assert all(layer.attention.kind == layer.ffn.kind == "no_op" for layer in empty)
    assert stats.kv_cache_bytes_per_token == 64 * 2 * 8 * 128 * 2


def test_a_nemotron_h_hybrid_read_from_its_config() -> None:
    model = ModelArchitecture.load(DATA / "hf" / "nemotron_h.config.json")
    stats = model_stats(model)
    mamba = stats.layers[0]
    # hidden 256, 16 heads of 32 (d_in 512), 2 groups of state 64: conv_dim 512 + 256 = 768
    in_proj = 256 * (2 * 512 + 2 * 2 * 64 + 16)
    conv1d = 768 * 4 + 768
    assert mamba.attention.kind == "mamba"
    assert mamba.params == in_proj + conv1d + 3 * 16 + 512 + 512 * 256 + 256 == 467_504
    assert mamba.mamba_state_bytes_per_sequence == (768 * 3 + 16 * 32 * 64) * 2
    assert stats.kv_cache_bytes_per_token == 2 * 2 * 64 * 2  # the one attention layer
    assert stats.mamba_state_bytes_per_sequence == 3 * mamba.mamba_state_bytes_per_sequence


#: DeepSeek-V3's attention (its config.json), with 128 heads of hidden 7168.
DEEPSEEK_V3_MLA = {
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
}


def test_mla_attention_and_its_latent_kv_cache() -> None:
    block = {"attention": {"mla": DEEPSEEK_V3_MLA}, "ffn": NO_OP}
    stats = layer(block, hidden_size=7168, num_attention_heads=128, head_dim=56).attention
    assert stats.kind == "mla"
    assert stats.num_key_value_heads is None
    # By hand: q_a_proj 7168x1536, its norm 1536, q_b_proj 1536 x 128*(128+64),
    # kv_a_proj_with_mqa 7168 x (512+64), its norm 512, kv_b_proj 512 x 128*(128+128),
    # o_proj 128*128 x 7168, the input norm 7168.
    by_hand = 11_010_048 + 1_536 + 37_748_736 + 4_128_768 + 512 + 16_777_216 + 117_440_512 + 7_168
    assert stats.params == by_hand == 187_114_496
    # The latent and the shared rotary key, 512 + 64 values of 2 bytes per token.
    assert stats.kv_cache_bytes_per_token == 1_152


def test_mla_without_a_query_latent_and_with_biases() -> None:
    lite = {key: value for key, value in DEEPSEEK_V3_MLA.items() if key != "q_lora_rank"}
    block = {"attention": {"mla": lite}, "ffn": NO_OP}
    stats = layer(block).attention  # hidden 16, 4 heads
    # q_proj 16 x 4*192, kv_a 16 x 576, norm 512, kv_b 512 x 4*256, o 4*128 x 16, norm 16.
    plain = 16 * 768 + 16 * 576 + 512 + 512 * 1024 + 512 * 16 + 16
    assert stats.params == plain
    # attention_bias: on kv_a_proj_with_mqa (576) and o_proj (16); q_proj has none.
    biased = layer(block, attention_bias=True).attention
    assert biased.params == plain + 576 + 16
    with_q_latent = layer(
        {"attention": {"mla": DEEPSEEK_V3_MLA}, "ffn": NO_OP}, attention_bias=True
    )
    # q_a_proj gets a bias of 1536 too.
    unbiased = layer({"attention": {"mla": DEEPSEEK_V3_MLA}, "ffn": NO_OP})
    assert with_q_latent.attention.params == unbiased.attention.params + 1536 + 576 + 16
