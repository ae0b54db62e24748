"""The analytics of every family fact, each against an independent count in the test.

Each small model below is also written out as the list of tensors its family's transformers
modelling code registers (name -> shape); the test sums those shapes and compares. The
real-size configs at the end are checked against the totals transformers' own modelling
code gives on the meta device (``/work/shared/tools/hf_meta_params.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from block_config import (
    AttentionStats,
    BlockConfig,
    BlockConfigError,
    LayerStats,
    ModelArchitecture,
    WeightQuantization,
    model_stats,
    quantization_from_config,
)
from block_config._stats import attention_kind, ffn_kind
from block_config.strategies import block_configs

Tensors = dict[str, tuple[int, ...]]

# Totals transformers 5.24's modelling code gives on the meta device for the published
# configs' dimensions (hf_meta_params.py; tied weights counted once).
QWEN2_0_5B = 494_032_768
QWEN3_0_6B = 596_049_920
GEMMA_2_2B = 2_614_341_888
GPT_OSS_20B = 20_914_757_184
DEEPSEEK_V2_LITE = 15_706_484_224


def total(tensors: Tensors) -> int:
    return sum(math.prod(shape) for shape in tensors.values())


def model_level(tensors: Tensors, vocab: int, h: int, *, tied: bool) -> None:
    tensors["model.embed_tokens.weight"] = (vocab, h)
    tensors["model.norm.weight"] = (h,)
    if not tied:
        tensors["lm_head.weight"] = (vocab, h)


def attention_tensors(
    tensors: Tensors,
    n: int,
    h: int,
    heads: int,
    kv: int,
    d: int,
    *,
    qkv_bias: bool = False,
    o_bias: bool = False,
    qk_norm: bool = False,
    sinks: bool = False,
) -> None:
    p = f"model.layers.{n}.self_attn."
    tensors[p + "q_proj.weight"] = (heads * d, h)
    tensors[p + "k_proj.weight"] = (kv * d, h)
    tensors[p + "v_proj.weight"] = (kv * d, h)
    tensors[p + "o_proj.weight"] = (h, heads * d)
    if qkv_bias:
        tensors[p + "q_proj.bias"] = (heads * d,)
        tensors[p + "k_proj.bias"] = (kv * d,)
        tensors[p + "v_proj.bias"] = (kv * d,)
    if o_bias:
        tensors[p + "o_proj.bias"] = (h,)
    if qk_norm:
        tensors[p + "q_norm.weight"] = (d,)
        tensors[p + "k_norm.weight"] = (d,)
    if sinks:
        tensors[p + "sinks"] = (heads,)


def mlp_tensors(tensors: Tensors, prefix: str, h: int, i: int, *, gated: bool = True) -> None:
    if gated:
        tensors[prefix + "gate_proj.weight"] = (i, h)
    tensors[prefix + "up_proj.weight"] = (i, h)
    tensors[prefix + "down_proj.weight"] = (h, i)


def gqa(kv: int, **extra: Any) -> dict[str, Any]:
    return {"num_key_value_heads": kv, **extra}


# ----------------------------------------------------------------------- Qwen2 / Qwen3


def test_qwen2_qkv_biases_without_o_bias() -> None:
    h, heads, kv, i, vocab, layers = 16, 4, 2, 24, 50, 2
    d = h // heads
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        vocab_size=vocab,
        tie_word_embeddings=True,
        qkv_bias=True,
        block_configs=[{"attention": gqa(kv), "ffn": {"intermediate_size": i}}] * layers,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=True)
    for n in range(layers):
        attention_tensors(tensors, n, h, heads, kv, d, qkv_bias=True)
        mlp_tensors(tensors, f"model.layers.{n}.mlp.", h, i)
        tensors[f"model.layers.{n}.input_layernorm.weight"] = (h,)
        tensors[f"model.layers.{n}.post_attention_layernorm.weight"] = (h,)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    # attention_bias adds o's bias on top; the q/k/v biases are not counted twice.
    both = model_stats(ModelArchitecture(**{**_fields(arch), "attention_bias": True}))
    assert both.total_params == total(tensors) + layers * h


def _fields(arch: ModelArchitecture) -> dict[str, Any]:
    names = ("hidden_size", "num_attention_heads", "vocab_size", "head_dim", "block_configs")
    flags = ("tie_word_embeddings", "qkv_bias", "qk_norm", "sandwich_norms", "torch_dtype")
    return {name: getattr(arch, name) for name in (*names, *flags)}


def test_qwen3_qk_norm_is_two_head_dim_vectors_per_attention_layer() -> None:
    h, heads, kv, d, i, vocab = 16, 4, 2, 8, 24, 50  # head_dim 8 is not h / heads
    blocks: list[dict[str, Any]] = [
        {"attention": gqa(kv), "ffn": {"intermediate_size": i}},
        {"attention": {"no_op": True}, "ffn": {"intermediate_size": i}},
    ]
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        head_dim=d,
        vocab_size=vocab,
        qk_norm=True,
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    attention_tensors(tensors, 0, h, heads, kv, d, qk_norm=True)
    tensors["model.layers.0.input_layernorm.weight"] = (h,)
    for n in range(2):
        mlp_tensors(tensors, f"model.layers.{n}.mlp.", h, i)
        tensors[f"model.layers.{n}.post_attention_layernorm.weight"] = (h,)
    assert model_stats(arch).total_params == total(tensors)


# ----------------------------------------------------------------------- Gemma-2


def _gemma2(window: int = 6) -> tuple[ModelArchitecture, Tensors]:
    h, heads, kv, d, i, vocab, layers = 16, 4, 2, 8, 32, 40, 4
    blocks: list[dict[str, Any]] = [
        {
            "attention": gqa(kv, sliding_window=window) if n % 2 == 0 else gqa(kv),
            "ffn": {"intermediate_size": i},
        }
        for n in range(layers)
    ]
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        head_dim=d,
        vocab_size=vocab,
        tie_word_embeddings=True,
        sandwich_norms=True,
        torch_dtype="float32",
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=True)
    for n in range(layers):
        attention_tensors(tensors, n, h, heads, kv, d)
        mlp_tensors(tensors, f"model.layers.{n}.mlp.", h, i)
        for norm in ("input", "post_attention", "pre_feedforward", "post_feedforward"):
            tensors[f"model.layers.{n}.{norm}_layernorm.weight"] = (h,)
    return arch, tensors


def test_gemma2_four_norms_per_layer_and_tied_embeddings() -> None:
    arch, tensors = _gemma2()
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    assert stats.lm_head_params == 0
    # The model-level weights in the model's float32, the blocks at their bf16 default.
    model_level_params = 40 * 16 + 16
    assert stats.weight_bytes == 4 * model_level_params + 2 * (total(tensors) - model_level_params)


def test_sliding_window_layers_hold_at_most_their_window() -> None:
    arch, _ = _gemma2(window=6)
    stats = model_stats(arch)
    per_layer = 2 * 2 * 8 * 4  # K and V, 2 heads of 8, fp32
    assert [layer.attention.sliding_window for layer in stats.layers] == [6, None, 6, None]
    assert stats.kv_cache_bytes_per_token == 4 * per_layer
    assert stats.kv_cache_bytes_per_token_unbounded == 2 * per_layer
    assert stats.kv_cache_bytes_bounded_max == 2 * 6 * per_layer
    for length in (0, 1, 5, 6, 7, 100):
        expected = 2 * per_layer * length + 2 * per_layer * min(length, 6)
        assert stats.kv_cache_bytes(1, length) == expected
        assert stats.kv_cache_bytes(3, length) == 3 * expected
        assert stats.memory(3, length).kv_cache_bytes == 3 * expected
    # Past every window the closed form holds.
    assert stats.kv_cache_bytes(1, 100) == (
        stats.kv_cache_bytes_per_token_unbounded * 100 + stats.kv_cache_bytes_bounded_max
    )


def test_chunked_and_windowed_together_hold_the_smaller() -> None:
    block = BlockConfig(
        attention={
            "num_key_value_heads": 2,
            "sliding_window": 8,
            "llama4": {"attention_chunk_size": 5},
        },
        ffn={"no_op": True},
    )
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=[block]
    )
    stats = model_stats(arch)
    per_token = 2 * 2 * 4 * 2
    assert stats.layers[0].attention.kv_cache_token_limit == 5
    assert stats.kv_cache_bytes(1, 100) == 5 * per_token
    assert stats.kv_cache_bytes_bounded_max == 5 * per_token


# ----------------------------------------------------------------------- gpt-oss


GPT_OSS_SKIPPED = (
    "model.layers.*.self_attn",
    "model.layers.*.mlp.router",
    "model.embed_tokens",
    "lm_head",
)


def _gpt_oss(quantized: bool = False) -> tuple[ModelArchitecture, Tensors]:
    h, heads, kv, d, e, experts, top_k, vocab, layers = 64, 4, 2, 16, 64, 4, 2, 30, 2
    moe = {
        "num_local_experts": experts,
        "num_experts_per_tok": top_k,
        "expert_intermediate_dim": e,
        "shared_expert_intermediate_dim": 0,
    }
    blocks = [
        {
            "attention": gqa(kv, sliding_window=4) if n % 2 == 0 else gqa(kv),
            "ffn": {"moe": moe},
        }
        for n in range(layers)
    ]
    quantization = (
        WeightQuantization(method="mxfp4", unquantized_modules=GPT_OSS_SKIPPED)
        if quantized
        else None
    )
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        head_dim=d,
        vocab_size=vocab,
        attention_bias=True,
        attention_sinks=True,
        router_bias=True,
        expert_bias=True,
        quantization=quantization,
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    for n in range(layers):
        attention_tensors(tensors, n, h, heads, kv, d, qkv_bias=True, o_bias=True, sinks=True)
        p = f"model.layers.{n}.mlp."
        tensors[p + "router.weight"] = (experts, h)
        tensors[p + "router.bias"] = (experts,)
        tensors[p + "experts.gate_up_proj"] = (experts, h, 2 * e)
        tensors[p + "experts.gate_up_proj_bias"] = (experts, 2 * e)
        tensors[p + "experts.down_proj"] = (experts, e, h)
        tensors[p + "experts.down_proj_bias"] = (experts, h)
        tensors[f"model.layers.{n}.input_layernorm.weight"] = (h,)
        tensors[f"model.layers.{n}.post_attention_layernorm.weight"] = (h,)
    return arch, tensors


def test_gpt_oss_sinks_router_and_expert_biases() -> None:
    arch, tensors = _gpt_oss()
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    h, e, experts, top_k = 64, 64, 4, 2
    expert = 3 * h * e + 2 * e + h
    per_layer_inactive = (experts - top_k) * expert
    assert stats.active_params == stats.total_params - 2 * per_layer_inactive


def test_gpt_oss_mxfp4_weight_bytes_as_the_checkpoint_stores_them() -> None:
    arch, tensors = _gpt_oss(quantized=True)
    stats = model_stats(arch)
    # The checkpoint: every tensor in bf16 except the expert matrices, which are stored as
    # _blocks (uint8, 16 per 32 values) and _scales (uint8, 1 per 32 values) along the input.
    bf16 = 0
    stored = 0
    for name, shape in tensors.items():
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            experts, cols, rows = shape  # transformers stores them [E, in, out]
            stored += experts * rows * (cols // 32) * (16 + 1)
        else:
            bf16 += math.prod(shape)
    assert stats.quantization == "mxfp4"
    assert stats.total_params == total(tensors)
    assert stats.weight_bytes == 2 * bf16 + stored
    # Attention is excluded by name: its bytes are those of bf16.
    assert stats.layers[0].attention.weight_bytes == 2 * stats.layers[0].attention.params


# ----------------------------------------------------------------------- Qwen2-MoE


def test_qwen2_moe_shared_expert_and_its_gate() -> None:
    h, heads, kv, e, s, experts, top_k, vocab = 16, 4, 4, 8, 24, 6, 2, 20
    d = h // heads
    moe = {
        "num_local_experts": experts,
        "num_experts_per_tok": top_k,
        "expert_intermediate_dim": e,
        "shared_expert_intermediate_dim": s,
    }
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        vocab_size=vocab,
        qkv_bias=True,
        shared_expert_gate=True,
        block_configs=[{"attention": gqa(kv), "ffn": {"moe": moe}}],
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    attention_tensors(tensors, 0, h, heads, kv, d, qkv_bias=True)
    p = "model.layers.0.mlp."
    tensors[p + "gate.weight"] = (experts, h)
    for x in range(experts):
        mlp_tensors(tensors, f"{p}experts.{x}.", h, e)
    mlp_tensors(tensors, p + "shared_expert.", h, s)
    tensors[p + "shared_expert_gate.weight"] = (1, h)
    tensors["model.layers.0.input_layernorm.weight"] = (h,)
    tensors["model.layers.0.post_attention_layernorm.weight"] = (h,)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    assert stats.active_params == total(tensors) - (experts - top_k) * 3 * h * e


# ----------------------------------------------------------------------- DeepSeek (MLA)


def _mla_tensors(
    tensors: Tensors, n: int, h: int, heads: int, mla: dict[str, Any], *, bias: bool = False
) -> None:
    p = f"model.layers.{n}.self_attn."
    nope, rope, v = mla["qk_nope_head_dim"], mla["qk_rope_head_dim"], mla["v_head_dim"]
    r_kv, r_q = mla["kv_lora_rank"], mla.get("q_lora_rank")
    if r_q is None:
        tensors[p + "q_proj.weight"] = (heads * (nope + rope), h)
    else:
        tensors[p + "q_a_proj.weight"] = (r_q, h)
        tensors[p + "q_a_layernorm.weight"] = (r_q,)
        tensors[p + "q_b_proj.weight"] = (heads * (nope + rope), r_q)
        if bias:
            tensors[p + "q_a_proj.bias"] = (r_q,)
    tensors[p + "kv_a_proj_with_mqa.weight"] = (r_kv + rope, h)
    tensors[p + "kv_a_layernorm.weight"] = (r_kv,)
    tensors[p + "kv_b_proj.weight"] = (heads * (nope + v), r_kv)
    tensors[p + "o_proj.weight"] = (h, heads * v)
    if bias:
        tensors[p + "kv_a_proj_with_mqa.bias"] = (r_kv + rope,)
        tensors[p + "o_proj.bias"] = (h,)


MLA_V3 = {
    "q_lora_rank": 24,
    "kv_lora_rank": 16,
    "qk_nope_head_dim": 8,
    "qk_rope_head_dim": 4,
    "v_head_dim": 6,
}


def test_the_indexer_adds_its_four_tensors_and_its_keys() -> None:
    h, heads, vocab = 32, 4, 40
    n_i, d_i = 3, 10
    indexed = {**MLA_V3, "index_n_heads": n_i, "index_head_dim": d_i}
    blocks = [
        {"attention": {"mla": indexed}, "ffn": {"no_op": True}},
        {"attention": {"mla": MLA_V3}, "ffn": {"no_op": True}},
    ]
    arch = ModelArchitecture(
        hidden_size=h, num_attention_heads=heads, vocab_size=vocab, block_configs=blocks
    )
    stats = model_stats(arch, kv_cache_dtype="bf16")
    with_indexer, without = stats.layers
    # wq_b reads the query latent, wk and weights_proj the hidden state; k_norm is a LayerNorm.
    r_q = MLA_V3["q_lora_rank"]
    indexer = n_i * d_i * r_q + d_i * h + 2 * d_i + n_i * h
    assert with_indexer.params - without.params == indexer
    latent = MLA_V3["kv_lora_rank"] + MLA_V3["qk_rope_head_dim"]
    assert without.kv_cache_bytes_per_token == 2 * latent
    assert with_indexer.kv_cache_bytes_per_token == 2 * (latent + d_i)
    assert stats.kv_cache_bytes(1, 100) == 100 * 2 * (2 * latent + d_i)


def test_pooled_indexer_keys_add_their_gate_and_position_bias_and_cache_the_gate_logits() -> None:
    # GLM-5.3-Flash's Glm5NextTextIndexer: index_kpool_compress_gate (d_i, h) and
    # index_kpool_compress_ape (k, d_i) beside DeepSeek-V3.2's four tensors; its cache packs
    # each token's key, gate logits and a padding-mask value ([k, gate_scores, valid]).
    h, heads, vocab = 32, 4, 40
    n_i, d_i, pool = 3, 10, 4
    indexed = {**MLA_V3, "index_n_heads": n_i, "index_head_dim": d_i}
    pooled = {**indexed, "index_kpool": pool}
    blocks = [{"attention": {"mla": mla}, "ffn": {"no_op": True}} for mla in (pooled, indexed)]
    arch = ModelArchitecture(
        hidden_size=h, num_attention_heads=heads, vocab_size=vocab, block_configs=blocks
    )
    with_pool, without = model_stats(arch, kv_cache_dtype="bf16").layers
    tensors: Tensors = {
        "indexer.index_kpool_compress_gate": (d_i, h),
        "indexer.index_kpool_compress_ape": (pool, d_i),
    }
    assert with_pool.params - without.params == total(tensors)
    latent = MLA_V3["kv_lora_rank"] + MLA_V3["qk_rope_head_dim"]
    assert without.kv_cache_bytes_per_token == 2 * (latent + d_i)
    assert with_pool.kv_cache_bytes_per_token == 2 * (latent + d_i + d_i)
    # Neither a weight matrix of a linear layer: a quantization leaves them as they are.
    fp8 = {"quant_method": "fp8", "weight_block_size": [128, 128]}
    quantized = attrs.evolve(arch, quantization=quantization_from_config(fp8))
    q_with, q_without = model_stats(quantized).layers
    assert q_with.weight_bytes - q_without.weight_bytes == 2 * total(tensors)


def test_a_layer_without_rope_slice_has_a_narrower_latent() -> None:
    # Mistral-Large-4's NoPE layers: the RoPE slice folded into the nope part of each head.
    h, heads, vocab = 32, 4, 40
    rope = {**MLA_V3, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4}
    nope = {**MLA_V3, "qk_nope_head_dim": 12, "qk_rope_head_dim": 0}
    blocks = [{"attention": {"mla": mla}, "ffn": {"no_op": True}} for mla in (rope, nope)]
    arch = ModelArchitecture(
        hidden_size=h, num_attention_heads=heads, vocab_size=vocab, block_configs=blocks
    )
    with_rope, without = model_stats(arch, kv_cache_dtype="bf16").layers
    r_kv = MLA_V3["kv_lora_rank"]
    assert with_rope.kv_cache_bytes_per_token == 2 * (r_kv + 4)
    assert without.kv_cache_bytes_per_token == 2 * r_kv
    # kv_a_proj_with_mqa loses the slice (h x 4); q_b_proj and kv_b_proj keep their widths.
    kv_b = heads * (12 + MLA_V3["v_head_dim"]) * r_kv - heads * (8 + MLA_V3["v_head_dim"]) * r_kv
    assert with_rope.params - without.params == h * 4 - kv_b


def _deepseek_v3(
    mla: dict[str, Any], *, bias: bool = False, quantization: WeightQuantization | None = None
) -> tuple[ModelArchitecture, Tensors]:
    h, heads, dense_i, e, shared, experts, top_k, vocab = 32, 4, 48, 8, 2, 8, 3, 40
    moe = {
        "num_local_experts": experts,
        "num_experts_per_tok": top_k,
        "expert_intermediate_dim": e,
        "shared_expert_intermediate_dim": shared * e,
    }
    blocks: list[dict[str, Any]] = [
        {"attention": {"mla": mla}, "ffn": {"intermediate_size": dense_i}},
        {"attention": {"mla": mla}, "ffn": {"moe": moe}},
    ]
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        vocab_size=vocab,
        attention_bias=bias,
        router_score_correction_bias=True,
        quantization=quantization,
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    for n in range(2):
        _mla_tensors(tensors, n, h, heads, mla, bias=bias)
        tensors[f"model.layers.{n}.input_layernorm.weight"] = (h,)
        tensors[f"model.layers.{n}.post_attention_layernorm.weight"] = (h,)
    mlp_tensors(tensors, "model.layers.0.mlp.", h, dense_i)
    p = "model.layers.1.mlp."
    tensors[p + "gate.weight"] = (experts, h)
    # e_score_correction_bias (experts,) is a buffer: stored (fp32), not a parameter.
    for x in range(experts):
        mlp_tensors(tensors, f"{p}experts.{x}.", h, e)
    mlp_tensors(tensors, p + "shared_experts.", h, shared * e)
    return arch, tensors


@pytest.mark.parametrize("bias", [False, True])
def test_deepseek_v3_mla_dense_first_layer_and_moe(bias: bool) -> None:
    arch, tensors = _deepseek_v3(MLA_V3, bias=bias)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    assert [layer.attention.kind for layer in stats.layers] == ["mla", "mla"]
    assert stats.active_params == total(tensors) - (8 - 3) * 3 * 32 * 8


def test_deepseek_v2_lite_mla_without_a_query_latent() -> None:
    mla = {**MLA_V3, "q_lora_rank": None}
    arch, tensors = _deepseek_v3(mla)
    assert model_stats(arch).total_params == total(tensors)


def test_mla_caches_one_latent_per_token_and_layer() -> None:
    arch, _ = _deepseek_v3(MLA_V3)
    stats = model_stats(arch)
    latent = (16 + 4) * 2  # kv_lora_rank + qk_rope_head_dim, bf16, no factor 2
    assert stats.layers[0].kv_cache_bytes_per_token == latent
    assert stats.kv_cache_bytes_per_token == 2 * latent
    assert stats.kv_cache_bytes(2, 1000) == 2 * 1000 * 2 * latent
    assert model_stats(arch, kv_cache_dtype="fp8").kv_cache_bytes_per_token == 2 * 20


def test_deepseek_fp8_block_scales_per_quantized_matrix() -> None:
    q = WeightQuantization(method="fp8", weight_block_size=(16, 16))
    arch, tensors = _deepseek_v3(MLA_V3, quantization=q)
    stats = model_stats(arch)
    plain = stored = 0
    for name, shape in tensors.items():
        if name.endswith(("_proj.weight", "_mqa.weight")):
            rows, cols = shape
            stored += rows * cols + 4 * math.ceil(rows / 16) * math.ceil(cols / 16)
        else:
            plain += math.prod(shape)  # embeddings, lm_head, norms, router
    score_correction_bias = 4 * 8  # fp32, 8 experts, one MoE layer
    assert stats.weight_bytes == 2 * plain + stored + score_correction_bias


# ----------------------------------------------------------------------- Nemotron-H


def test_nemotron_h_relu2_mlps_and_experts_have_two_matrices() -> None:
    h, i, e, s, experts, top_k, vocab = 16, 40, 8, 12, 4, 2, 30
    moe = {
        "num_local_experts": experts,
        "num_experts_per_tok": top_k,
        "expert_intermediate_dim": e,
        "shared_expert_intermediate_dim": s,
        "gated": False,
    }
    blocks = [
        {"attention": {"no_op": True}, "ffn": {"intermediate_size": i, "gated": False}},
        {"attention": {"no_op": True}, "ffn": {"moe": moe}},
    ]
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=4,
        vocab_size=vocab,
        router_score_correction_bias=True,
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    mlp_tensors(tensors, "backbone.layers.0.mixer.", h, i, gated=False)
    tensors["backbone.layers.0.norm.weight"] = (h,)
    p = "backbone.layers.1.mixer."
    tensors[p + "gate.weight"] = (experts, h)
    buffers = experts  # gate.e_score_correction_bias, fp32: stored, not a parameter
    for x in range(experts):
        mlp_tensors(tensors, f"{p}experts.{x}.", h, e, gated=False)
    mlp_tensors(tensors, p + "shared_experts.", h, s, gated=False)
    tensors["backbone.layers.1.norm.weight"] = (h,)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    assert stats.active_params == total(tensors) - (experts - top_k) * 2 * h * e
    assert stats.weight_bytes == 2 * total(tensors) + 4 * buffers


MAMBA = {"state_dim": 16, "num_heads": 4, "head_dim": 8, "num_groups": 2}


def test_mamba_ssm_state_in_the_ssm_cache_dtype() -> None:
    block = {"attention": {"mamba": MAMBA}, "ffn": {"no_op": True}}

    def arch(**fields: Any) -> ModelArchitecture:
        return ModelArchitecture(
            hidden_size=16,
            num_attention_heads=4,
            vocab_size=10,
            block_configs=[block],
            **fields,
        )

    conv, ssm = 96 * 3, 4 * 8 * 16  # conv_dim (32 + 2*2*16) x (kernel - 1); heads x dim x state
    assert model_stats(arch()).mamba_state_bytes_per_sequence == (conv + ssm) * 2
    stats = model_stats(arch(mamba_ssm_cache_dtype="float32"))
    assert stats.mamba_state_bytes_per_sequence == conv * 2 + ssm * 4
    assert (stats.mamba_state_dtype, stats.mamba_ssm_state_dtype) == ("bf16", "float32")
    # A state dtype the caller names wins for both.
    named = model_stats(arch(mamba_ssm_cache_dtype="float32"), mamba_state_dtype="fp16")
    assert named.mamba_state_bytes_per_sequence == (conv + ssm) * 2
    assert named.mamba_ssm_state_dtype == "fp16"
    with pytest.raises(BlockConfigError, match=r"\$\.mamba_ssm_cache_dtype: unknown precision"):
        model_stats(arch(mamba_ssm_cache_dtype="float7"))


def test_mamba_projections_follow_the_quantization() -> None:
    block = {"attention": {"mamba": MAMBA}, "ffn": {"no_op": True}}
    q = WeightQuantization(method="fp8")
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=[block], quantization=q
    )
    attention = model_stats(arch).layers[0].attention
    in_proj, out_proj = (2 * 32 + 2 * 2 * 16 + 4) * 16, 16 * 32
    rest = attention.params - in_proj - out_proj
    assert attention.weight_bytes == (in_proj + 4) + (out_proj + 4) + 2 * rest


# ----------------------------------------------------------------------- linear attention


def gdn(kh: int, dk: int, vh: int, dv: int, **extra: Any) -> dict[str, Any]:
    return {
        "linear_attention": {
            "kind": "gdn",
            "num_key_heads": kh,
            "key_head_dim": dk,
            "num_value_heads": vh,
            "value_head_dim": dv,
            **extra,
        }
    }


def gdn_tensors(
    tensors: Tensors,
    n: int,
    h: int,
    kh: int,
    dk: int,
    vh: int,
    dv: int,
    kernel: int,
    *,
    fused: bool,
) -> None:
    """The tensors of Qwen3NextGatedDeltaNet (fused) or Qwen3_5GatedDeltaNet (separate)."""
    p = f"model.layers.{n}.linear_attn."
    if fused:
        tensors[p + "in_proj_qkvz.weight"] = (2 * kh * dk + 2 * vh * dv, h)
        tensors[p + "in_proj_ba.weight"] = (2 * vh, h)
    else:
        tensors[p + "in_proj_qkv.weight"] = (2 * kh * dk + vh * dv, h)
        tensors[p + "in_proj_z.weight"] = (vh * dv, h)
        tensors[p + "in_proj_b.weight"] = (vh, h)
        tensors[p + "in_proj_a.weight"] = (vh, h)
    tensors[p + "conv1d.weight"] = (2 * kh * dk + vh * dv, 1, kernel)
    tensors[p + "dt_bias"] = (vh,)
    tensors[p + "A_log"] = (vh,)
    tensors[p + "norm.weight"] = (dv,)
    tensors[p + "out_proj.weight"] = (h, vh * dv)


@pytest.mark.parametrize("fused", [True, False])
def test_gated_delta_net_and_gated_attention_as_qwen3_next_builds_them(fused: bool) -> None:
    h, heads, kv, d, vocab, i = 32, 4, 2, 16, 50, 24
    kh, dk, vh, dv, kernel = 2, 8, 4, 12, 3
    blocks = [
        {
            "attention": gdn(kh, dk, vh, dv, conv_kernel=kernel, fused_projections=fused),
            "ffn": {"intermediate_size": i},
        },
        {"attention": gqa(kv, output_gate=True), "ffn": {"intermediate_size": i}},
    ]
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        head_dim=d,
        vocab_size=vocab,
        qk_norm=True,
        attention_bias=True,
        block_configs=blocks,
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    gdn_tensors(tensors, 0, h, kh, dk, vh, dv, kernel, fused=fused)
    p = "model.layers.1.self_attn."
    tensors[p + "q_proj.weight"] = (2 * heads * d, h)  # query and gate side by side
    tensors[p + "q_proj.bias"] = (2 * heads * d,)
    for name in ("k_proj", "v_proj"):
        tensors[p + name + ".weight"] = (kv * d, h)
        tensors[p + name + ".bias"] = (kv * d,)
    tensors[p + "o_proj.weight"] = (h, heads * d)
    tensors[p + "o_proj.bias"] = (h,)
    tensors[p + "q_norm.weight"] = (d,)
    tensors[p + "k_norm.weight"] = (d,)
    for n in range(2):
        mlp_tensors(tensors, f"model.layers.{n}.mlp.", h, i)
        tensors[f"model.layers.{n}.input_layernorm.weight"] = (h,)
        tensors[f"model.layers.{n}.post_attention_layernorm.weight"] = (h,)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    linear, full = stats.layers
    assert (linear.attention.kind, full.attention.kind) == ("gdn", "gqa")
    assert linear.kv_cache_bytes_per_token == 0
    assert full.kv_cache_bytes_per_token == 2 * kv * d * 2
    conv = (2 * kh * dk + vh * dv) * (kernel - 1)
    assert linear.linear_attention_state_bytes_per_sequence == (conv + vh * dk * dv) * 2
    assert full.linear_attention_state_bytes_per_sequence == 0
    assert stats.mamba_state_bytes_per_sequence == 0
    assert stats.linear_attention_state_bytes_per_sequence == (conv + vh * dk * dv) * 2


def test_kimi_delta_attention_as_kimi_linear_builds_it() -> None:
    h, heads, d, kernel, vocab = 24, 4, 8, 4, 40
    kda = {
        "kind": "kda",
        "num_key_heads": heads,
        "key_head_dim": d,
        "num_value_heads": heads,
        "value_head_dim": d,
        "conv_kernel": kernel,
    }
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=3,
        vocab_size=vocab,
        block_configs=[{"attention": {"linear_attention": kda}, "ffn": {"no_op": True}}],
    )
    tensors: Tensors = {}
    model_level(tensors, vocab, h, tied=False)
    p = "model.layers.0.self_attn."
    for name in ("q_proj", "k_proj", "v_proj"):
        tensors[p + name + ".weight"] = (heads * d, h)
    tensors[p + "conv1d.weight"] = (3 * heads * d, 1, kernel)
    tensors[p + "forget_gate.f_a_proj.weight"] = (d, h)
    tensors[p + "forget_gate.f_b_proj.weight"] = (heads * d, d)
    tensors[p + "forget_gate.dt_bias"] = (heads * d,)
    tensors[p + "forget_gate.A_log"] = (1, 1, heads, 1)
    tensors[p + "b_proj.weight"] = (heads, h)
    tensors[p + "g_a_proj.weight"] = (d, h)
    tensors[p + "g_b_proj.weight"] = (heads * d, d)
    tensors[p + "o_norm.weight"] = (d,)
    tensors[p + "o_proj.weight"] = (h, heads * d)
    tensors["model.layers.0.input_layernorm.weight"] = (h,)
    stats = model_stats(arch)
    assert stats.total_params == total(tensors)
    assert stats.layers[0].attention.kind == "kda"
    state = 3 * heads * d * (kernel - 1) + heads * d * d
    assert stats.linear_attention_state_bytes_per_sequence == state * 2


def test_linear_attention_state_in_the_dtypes_of_the_mamba_state() -> None:
    block = {"attention": gdn(2, 8, 4, 8), "ffn": {"no_op": True}}

    def arch(**fields: Any) -> ModelArchitecture:
        return ModelArchitecture(
            hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=[block], **fields
        )

    conv, recurrent = (2 * 2 * 8 + 4 * 8) * 3, 4 * 8 * 8
    assert model_stats(arch()).linear_attention_state_bytes_per_sequence == (conv + recurrent) * 2
    fp32 = model_stats(arch(mamba_ssm_cache_dtype="float32"))
    assert fp32.linear_attention_state_bytes_per_sequence == conv * 2 + recurrent * 4
    named = model_stats(arch(mamba_ssm_cache_dtype="float32"), mamba_state_dtype="fp8")
    assert named.linear_attention_state_bytes_per_sequence == conv + recurrent
    memory = fp32.memory(3, 1000)
    assert memory.linear_attention_state_bytes == 3 * (conv * 2 + recurrent * 4)
    assert memory.kv_cache_bytes == 0
    assert memory.total_bytes == memory.weight_bytes + memory.linear_attention_state_bytes
    assert memory.to_dict()["linear_attention_state_bytes"] == memory.linear_attention_state_bytes


def test_a_linear_replacement_of_a_linear_attention_is_a_linear_layer() -> None:
    block = {"attention": {"replace_with_linear": True, **gdn(2, 8, 4, 8)}, "ffn": {"no_op": True}}
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=[block]
    )
    layer = model_stats(arch).layers[0]
    assert layer.attention.kind == "linear"
    assert layer.attention.params == 16 * 16 + 16
    assert layer.linear_attention_state_bytes_per_sequence == 0


def test_a_model_without_quantization_or_facts_counts_as_before() -> None:
    block = {"attention": gqa(2), "ffn": {"intermediate_size": 32}}
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=100, block_configs=[block]
    )
    stats = model_stats(arch)
    assert stats.quantization is None
    assert stats.total_params == 100 * 16 * 2 + 16 + (2 * 256 + 2 * 128 + 16) + (3 * 16 * 32 + 16)
    assert stats.kv_cache_bytes_per_token == stats.kv_cache_bytes_per_token_unbounded == 32
    assert stats.kv_cache_bytes_bounded_max == 0


# ----------------------------------------------------------------------- real sizes


def _homogeneous(
    *,
    h: int,
    heads: int,
    kv: int,
    i: int,
    layers: int,
    vocab: int,
    head_dim: int | None = None,
    windows: list[int | None] | None = None,
    **fields: Any,
) -> ModelArchitecture:
    windows = windows or [None] * layers
    blocks: list[dict[str, Any]] = [
        {
            "attention": gqa(kv) if window is None else gqa(kv, sliding_window=window),
            "ffn": {"intermediate_size": i},
        }
        for window in windows
    ]
    if head_dim is not None:
        fields["head_dim"] = head_dim
    return ModelArchitecture(
        hidden_size=h, num_attention_heads=heads, vocab_size=vocab, block_configs=blocks, **fields
    )


def test_qwen2_0_5b_as_transformers_counts_it() -> None:
    arch = _homogeneous(
        h=896,
        heads=14,
        kv=2,
        i=4864,
        layers=24,
        vocab=151936,
        tie_word_embeddings=True,
        qkv_bias=True,
    )
    assert model_stats(arch).total_params == QWEN2_0_5B


def test_qwen3_0_6b_as_transformers_counts_it() -> None:
    arch = _homogeneous(
        h=1024,
        heads=16,
        kv=8,
        i=3072,
        layers=28,
        vocab=151936,
        head_dim=128,
        tie_word_embeddings=True,
        qk_norm=True,
    )
    assert model_stats(arch).total_params == QWEN3_0_6B


def test_gemma_2_2b_as_transformers_counts_it() -> None:
    arch = _homogeneous(
        h=2304,
        heads=8,
        kv=4,
        i=9216,
        layers=26,
        vocab=256000,
        head_dim=256,
        windows=[4096, None] * 13,
        tie_word_embeddings=True,
        sandwich_norms=True,
    )
    stats = model_stats(arch)
    assert stats.total_params == GEMMA_2_2B
    # 13 global and 13 local layers, 4 KV heads of 256, K and V, bf16.
    per_layer = 2 * 4 * 256 * 2
    assert stats.kv_cache_bytes(1, 32768) == 13 * per_layer * 32768 + 13 * per_layer * 4096


def test_gpt_oss_20b_as_transformers_counts_it() -> None:
    moe = {
        "num_local_experts": 32,
        "num_experts_per_tok": 4,
        "expert_intermediate_dim": 2880,
        "shared_expert_intermediate_dim": 0,
    }
    blocks = [
        {
            "attention": gqa(8, sliding_window=128) if n % 2 == 0 else gqa(8),
            "ffn": {"moe": moe},
        }
        for n in range(24)
    ]
    arch = ModelArchitecture(
        hidden_size=2880,
        num_attention_heads=64,
        head_dim=64,
        vocab_size=201088,
        attention_bias=True,
        attention_sinks=True,
        router_bias=True,
        expert_bias=True,
        block_configs=blocks,
    )
    stats = model_stats(arch)
    assert stats.total_params == GPT_OSS_20B
    assert stats.active_params == 4_187_440_704  # the card's 3.6B plus the input embedding
    per_layer = 2 * 8 * 64 * 2
    assert stats.kv_cache_bytes(1, 32768) == 12 * per_layer * 32768 + 12 * per_layer * 128
    # As published: MXFP4 experts, everything else bf16. The total is the "total_size" of
    # openai/gpt-oss-20b's model.safetensors.index.json.
    quantized = ModelArchitecture(
        **{name: getattr(arch, name) for name in _GPT_OSS_FIELDS},
        torch_dtype="bfloat16",
        quantization=WeightQuantization(method="mxfp4", unquantized_modules=GPT_OSS_SKIPPED),
    )
    assert model_stats(quantized).weight_bytes == 13_761_264_768


_GPT_OSS_FIELDS = (
    "hidden_size",
    "num_attention_heads",
    "head_dim",
    "vocab_size",
    "attention_bias",
    "attention_sinks",
    "router_bias",
    "expert_bias",
    "block_configs",
)


def test_nvfp4_dense_model_with_excluded_modules() -> None:
    h, heads, kv, i, vocab = 64, 4, 2, 96, 20
    d = h // heads
    q = WeightQuantization(
        method="nvfp4", unquantized_modules=("lm_head", "model.layers.0.self_attn")
    )
    arch = ModelArchitecture(
        hidden_size=h,
        num_attention_heads=heads,
        vocab_size=vocab,
        quantization=q,
        block_configs=[{"attention": gqa(kv), "ffn": {"intermediate_size": i}}] * 2,
    )
    stats = model_stats(arch)

    def nvfp4(rows: int, cols: int) -> int:
        # weight (uint8, two values a byte), weight_scale (fp8, one per 16 values),
        # weight_scale_2 and input_scale (one fp32 each)
        return rows * cols // 2 + rows * cols // 16 + 4 + 4

    attention = [(heads * d, h), (kv * d, h), (kv * d, h), (h, heads * d)]
    mlp = [(i, h), (i, h), (h, i)]
    norms = 2 * h
    layer0 = 2 * sum(r * c for r, c in attention) + sum(nvfp4(r, c) for r, c in mlp)
    layer1 = sum(nvfp4(r, c) for r, c in attention + mlp)
    model_level = 2 * (2 * vocab * h + h)
    assert stats.weight_bytes == model_level + layer0 + layer1 + 2 * 2 * norms


def test_deepseek_v2_lite_as_transformers_counts_it() -> None:
    mla = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
    moe = {
        "num_local_experts": 64,
        "num_experts_per_tok": 6,
        "expert_intermediate_dim": 1408,
        "shared_expert_intermediate_dim": 2 * 1408,
    }
    blocks = [{"attention": {"mla": mla}, "ffn": {"intermediate_size": 10944}}]
    blocks += [{"attention": {"mla": mla}, "ffn": {"moe": moe}}] * 26
    arch = ModelArchitecture(
        hidden_size=2048, num_attention_heads=16, vocab_size=102400, block_configs=blocks
    )
    stats = model_stats(arch)
    assert stats.total_params == DEEPSEEK_V2_LITE
    assert stats.active_params == 2_661_150_208  # the embedding included
    # One latent of 512 + 64 per token and layer, bf16.
    assert stats.kv_cache_bytes(1, 32768) == 27 * (512 + 64) * 2 * 32768


def test_qwen1_5_moe_a2_7b_as_transformers_counts_it() -> None:
    moe = {
        "num_local_experts": 60,
        "num_experts_per_tok": 4,
        "expert_intermediate_dim": 1408,
        "shared_expert_intermediate_dim": 5632,
    }
    arch = ModelArchitecture(
        hidden_size=2048,
        num_attention_heads=16,
        vocab_size=151936,
        qkv_bias=True,
        shared_expert_gate=True,
        block_configs=[{"attention": gqa(16), "ffn": {"moe": moe}}] * 24,
    )
    stats = model_stats(arch)
    assert stats.total_params == 14_315_784_192
    assert stats.active_params == 2_689_173_504


# ----------------------------------------------------------------------- properties

_FLAGS = (
    "attention_bias",
    "mlp_bias",
    "qkv_bias",
    "qk_norm",
    "sandwich_norms",
    "router_bias",
    "expert_bias",
    "attention_sinks",
    "shared_expert_gate",
    "router_score_correction_bias",
    "router_scales",
    "moe_branch_norms",
)


def _fit(block: BlockConfig) -> BlockConfig:
    """``block`` with KV heads that divide its layer's heads (4, or its own), at every depth."""
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
@given(
    st.lists(block_configs(max_depth=1, precisions=("bf16", None)).map(_fit), max_size=4),
    st.fixed_dictionaries({name: st.booleans() for name in _FLAGS}),
    st.booleans(),
    st.integers(min_value=0, max_value=3000),
)
def test_every_fact_adds_up_and_the_cache_follows_its_closed_form(
    blocks: list[BlockConfig], flags: dict[str, Any], across: bool, length: int
) -> None:
    # QK-norm per head or across heads, never both.
    flags = {**flags, "qk_norm_across_heads": across and not flags["qk_norm"]}
    if any(flags[name] for name in _NOT_WITH_COMPRESSION):
        # Refused with a compressed attention (DeepSeek-V4 has none of them).
        blocks = [_compression_dropped(block) for block in blocks]
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=blocks, **flags
    )
    stats = model_stats(arch)
    assert stats.total_params == 2 * 160 + 16 + sum(layer.params for layer in stats.layers)
    off: dict[str, Any] = dict.fromkeys(flags, False)
    plain = model_stats(attrs.evolve(arch, **off))
    assert stats.total_params >= plain.total_params
    assert stats.kv_cache_bytes_per_token == plain.kv_cache_bytes_per_token
    limits = [
        attention.kv_cache_token_limit or 0
        for layer in stats.layers
        for attention in _attentions(layer)
    ]
    kv = stats.kv_cache_bytes(1, length)
    # Compressed attention (DeepSeek-V4) adds one entry per compress_rate tokens beside its
    # window: not a per-token figure.
    compressed = sum(
        attention.compressed_kv_bytes_per_entry * (length // attention.compress_rate)
        for layer in stats.layers
        for attention in _attentions(layer)
        if attention.compress_rate is not None
    )
    assert kv <= stats.kv_cache_bytes_per_token * length + compressed
    if length >= max(limits, default=0):
        assert kv == (
            stats.kv_cache_bytes_per_token_unbounded * length
            + stats.kv_cache_bytes_bounded_max
            + compressed
        )
    for layer in stats.layers:
        assert layer.active_params <= layer.params


_NOT_WITH_COMPRESSION = ("attention_bias", "qkv_bias", "qk_norm", "qk_norm_across_heads")


def _compression_dropped(block: BlockConfig) -> BlockConfig:
    attention = block.attention
    if attention is not None and attention.compressed_attention is not None:
        attention = attrs.evolve(attention, compressed_attention=None)
    parallel = None
    if block.parallel_blocks is not None:
        parallel = tuple(_compression_dropped(inner) for inner in block.parallel_blocks)
    return attrs.evolve(block, attention=attention, parallel_blocks=parallel)


def _attentions(layer: LayerStats) -> list[AttentionStats]:
    return [layer.attention, *(a for inner in layer.parallel_blocks for a in _attentions(inner))]


def _norms_removed(block: BlockConfig, *, shared: bool, without: bool, parallel: bool) -> int:
    """What Falcon-H1's two facts take out of ``block`` (hidden size 16): the input norm of
    each subblock of a parallel block, and each Mamba mixer's gated norm."""
    removed = 0
    kinds = (attention_kind(block.attention), ffn_kind(block.ffn))
    if parallel and shared:
        removed += 16 * sum(kind != "no_op" for kind in kinds)
    if kinds[0] == "mamba" and without:
        assert block.attention is not None
        assert block.attention.mamba is not None
        removed += block.attention.mamba.num_heads * block.attention.mamba.head_dim
    for inner in block.parallel_blocks or ():
        removed += _norms_removed(inner, shared=shared, without=without, parallel=True)
    return removed


@settings(max_examples=60, deadline=None)
@given(
    st.lists(block_configs(max_depth=2, precisions=("bf16", None)).map(_fit), max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_falcon_facts_take_out_exactly_the_norms_they_name(
    blocks: list[BlockConfig], shared: bool, without: bool
) -> None:
    arch = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=blocks
    )
    falcon = attrs.evolve(arch, parallel_blocks_share_input_norm=shared, mamba_without_norm=without)
    before, after = model_stats(arch), model_stats(falcon)
    removed = sum(
        _norms_removed(block, shared=shared, without=without, parallel=False) for block in blocks
    )
    assert before.total_params - after.total_params == removed
    assert before.active_params - after.active_params == removed
    assert after.kv_cache_bytes_per_token == before.kv_cache_bytes_per_token
    assert after.mamba_state_bytes_per_sequence == before.mamba_state_bytes_per_sequence


DEEPSEEK_V3_MLA = {
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
}


def _deepseek_v3_full(moe_layers: int, q: WeightQuantization | None = None) -> ModelArchitecture:
    moe = {
        "num_local_experts": 256,
        "num_experts_per_tok": 8,
        "expert_intermediate_dim": 2048,
        "shared_expert_intermediate_dim": 2048,
    }
    dense: dict[str, Any] = {
        "attention": {"mla": DEEPSEEK_V3_MLA},
        "ffn": {"intermediate_size": 18432},
    }
    sparse: dict[str, Any] = {"attention": {"mla": DEEPSEEK_V3_MLA}, "ffn": {"moe": moe}}
    return ModelArchitecture(
        hidden_size=7168,
        num_attention_heads=128,
        vocab_size=129280,
        router_score_correction_bias=True,
        torch_dtype="bfloat16",
        quantization=q,
        block_configs=[dense] * 3 + [sparse] * moe_layers,
    )


def test_deepseek_v3_as_transformers_counts_it() -> None:
    stats = model_stats(_deepseek_v3_full(58))
    assert stats.total_params == 671_026_404_352
    assert stats.active_params == 37_552_282_624
    assert stats.kv_cache_bytes(1, 32768) == 61 * (512 + 64) * 2 * 32768


def test_deepseek_v3_fp8_checkpoint_bytes_as_published() -> None:
    # The Hub's safetensors summary of deepseek-ai/DeepSeek-V3: BF16 3,918,786,560 +
    # F8_E4M3 680,571,043,840 + F32 41,555,600 values. The checkpoint also holds the
    # multi-token-prediction layer: one more MoE decoder layer (a 62nd block here) and, in
    # bf16, its own embed_tokens and shared_head.head, eh_proj (7,168 x 14,336) and three norms.
    published = 2 * 3_918_786_560 + 680_571_043_840 + 4 * 41_555_600
    q = WeightQuantization(method="fp8", weight_block_size=(128, 128))
    with_mtp_layer = model_stats(_deepseek_v3_full(59, q))
    mtp_extras = 2 * (2 * 129280 * 7168 + 7168 * 14336 + 3 * 7168)
    assert with_mtp_layer.weight_bytes + mtp_extras == published


# ----------------------------------------------------------------------- the family fixtures
#
# Each published config.json of tests/data/families/ built here by hand (not by the readers),
# key by key as its family's modelling code reads it, against EXPECTED.json: transformers'
# meta-device totals and the KV cache of one 32,768-token sequence in bf16.

FAMILIES = Path(__file__).parent / "data" / "families"


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FAMILIES / f"{name}.config.json").read_text())
    return data


def _expected(name: str) -> dict[str, Any]:
    table: dict[str, Any] = json.loads((FAMILIES / "EXPECTED.json").read_text())
    entry: dict[str, Any] = table[f"{name}.config.json"]
    return entry


def _qwen_dense(c: dict[str, Any], **facts: Any) -> ModelArchitecture:
    block = {
        "attention": gqa(c["num_key_value_heads"]),
        "ffn": {"intermediate_size": c["intermediate_size"]},
    }
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        tie_word_embeddings=c["tie_word_embeddings"],
        block_configs=[block] * c["num_hidden_layers"],
        **facts,
    )


def _gemma(c: dict[str, Any], global_layer: Any, **facts: Any) -> ModelArchitecture:
    blocks = [
        {
            "attention": gqa(c["num_key_value_heads"])
            if global_layer(n)
            else gqa(c["num_key_value_heads"], sliding_window=c["sliding_window"]),
            "ffn": {"intermediate_size": c["intermediate_size"]},
        }
        for n in range(c["num_hidden_layers"])
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c["head_dim"],
        vocab_size=c["vocab_size"],
        tie_word_embeddings=c.get("tie_word_embeddings", True),  # Gemma ties by default
        sandwich_norms=True,
        block_configs=blocks,
        **facts,
    )


def _gpt_oss_fixture(c: dict[str, Any]) -> ModelArchitecture:
    moe = {
        "num_local_experts": c["num_local_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["intermediate_size"],
        "shared_expert_intermediate_dim": 0,
    }
    kv = c["num_key_value_heads"]
    blocks = [
        {
            "attention": gqa(kv, sliding_window=c["sliding_window"])
            if kind == "sliding_attention"
            else gqa(kv),
            "ffn": {"moe": moe},
        }
        for kind in c["layer_types"]
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c["head_dim"],
        vocab_size=c["vocab_size"],
        attention_bias=c["attention_bias"],
        attention_sinks=True,
        router_bias=True,
        expert_bias=True,
        block_configs=blocks,
    )


def _qwen2_moe_fixture(c: dict[str, Any]) -> ModelArchitecture:
    moe = {
        "num_local_experts": c["num_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["shared_expert_intermediate_size"],
    }
    block = {"attention": gqa(c["num_key_value_heads"]), "ffn": {"moe": moe}}
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        qkv_bias=True,
        shared_expert_gate=True,
        block_configs=[block] * c["num_hidden_layers"],
    )


def _deepseek_fixture(c: dict[str, Any]) -> ModelArchitecture:
    mla = {
        key: c[key]
        for key in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim")
    }
    mla["v_head_dim"] = c["v_head_dim"]
    moe = {
        "num_local_experts": c["n_routed_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["n_shared_experts"] * c["moe_intermediate_size"],
    }
    dense = {"attention": {"mla": mla}, "ffn": {"intermediate_size": c["intermediate_size"]}}
    sparse = {"attention": {"mla": mla}, "ffn": {"moe": moe}}
    first = c["first_k_dense_replace"]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        router_score_correction_bias=c["model_type"] == "deepseek_v3",
        block_configs=[dense] * first + [sparse] * (c["num_hidden_layers"] - first),
    )


def _mistral_large4_fixture(c: dict[str, Any]) -> ModelArchitecture:
    """Every 4th layer NoPE (the rotary slice folded into the nope part), an indexer from the
    hidden state everywhere, one dense layer then MoE layers."""
    rope, nope = c["qk_rope_head_dim"], c["qk_nope_head_dim"]
    indexer = {"index_n_heads": c["index_n_heads"], "index_head_dim": c["index_head_dim"]}
    common = {"kv_lora_rank": c["kv_lora_rank"], "v_head_dim": c["v_head_dim"], **indexer}
    with_rope = {**common, "qk_nope_head_dim": nope, "qk_rope_head_dim": rope}
    without_rope = {**common, "qk_nope_head_dim": nope + rope, "qk_rope_head_dim": 0}
    moe = {
        "num_local_experts": c["n_routed_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["n_shared_experts"] * c["moe_intermediate_size"],
    }
    interval, first = c["no_rope_layer_interval"], c["first_k_dense_replace"]
    blocks = [
        {
            "attention": {
                "mla": {
                    **(with_rope if (n + 1) % interval else without_rope),
                    "index_from_hidden": True,
                }
            },
            "ffn": {"intermediate_size": c["intermediate_size"]} if n < first else {"moe": moe},
        }
        for n in range(c["num_hidden_layers"])
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        log_position_scaling=True,
        router_fp32=True,
        learned_rope_frequencies=rope // 2,
        block_configs=blocks,
    )


def test_mistral_large4_attention_tensor_by_tensor() -> None:
    # transformers 5.25's MistralLarge4TextAttention of the fixture, per tensor (its
    # --by-module sums divided by the layers holding them): q_proj and o_proj 64 x 128 by
    # 6144; kv_a_proj_with_mqa 6144 x 576 (RoPE) or x 512 (NoPE), kv_a_layernorm 512,
    # kv_b_proj 512 x 64*(64+128) (RoPE) or 64*(128+128) (NoPE), softmax_scaling 2 x 64;
    # the indexer's q_input_norm 2 x 6144, wq_b 6144 x 32*128, wk 6144 x 128, k_norm 2 x 128,
    # weights_proj 6144 x 32 and softmax_scaling 2 x 32; the layer's input norm 6144.
    arch = _mistral_large4_fixture(_fixture("Mistral-Large-4-1T-A52B")["text_config"])
    layers = model_stats(arch).layers
    shared = 2 * 50_331_648 + 512 + 128 + 6_144
    indexer = 12_288 + 25_165_824 + 786_432 + 256 + 196_608 + 64
    assert layers[0].attention.params == shared + 3_538_944 + 6_291_456 + indexer
    assert layers[3].attention.params == shared + 3_145_728 + 8_388_608 + indexer


def _nemotron_h_fixture(c: dict[str, Any]) -> ModelArchitecture:
    no_op = {"no_op": True}
    mamba = {
        "state_dim": c["ssm_state_size"],
        "num_heads": c["mamba_num_heads"],
        "head_dim": c["mamba_head_dim"],
        "num_groups": c["n_groups"],
    }
    moe = {
        "num_local_experts": c["n_routed_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["n_shared_experts"]
        * c["moe_shared_expert_intermediate_size"],
        "gated": False,
    }
    kinds: dict[str, dict[str, Any]] = {
        "M": {"attention": {"mamba": mamba}, "ffn": no_op},
        "*": {"attention": gqa(c["num_key_value_heads"]), "ffn": no_op},
        "-": {
            "attention": no_op,
            "ffn": {"intermediate_size": c["intermediate_size"], "gated": False},
        },
        "E": {"attention": no_op, "ffn": {"moe": moe}},
    }
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c["head_dim"],
        vocab_size=c["vocab_size"],
        mamba_conv_kernel=c["conv_kernel"],
        router_score_correction_bias=True,
        mamba_ssm_cache_dtype=c["mamba_ssm_cache_dtype"],
        block_configs=[kinds[kind] for kind in c["hybrid_override_pattern"]],
    )


def _qwen_hybrid(c: dict[str, Any], *, fused: bool, **facts: Any) -> ModelArchitecture:
    """Qwen3-Next / Qwen3.5-MoE: every 4th layer gated attention, the others GDN; MoE."""
    linear = gdn(
        c["linear_num_key_heads"],
        c["linear_key_head_dim"],
        c["linear_num_value_heads"],
        c["linear_value_head_dim"],
        conv_kernel=c["linear_conv_kernel_dim"],
        fused_projections=fused,
    )
    moe = {
        "num_local_experts": c["num_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["shared_expert_intermediate_size"],
    }
    full = gqa(c["num_key_value_heads"], output_gate=True)
    interval = c["full_attention_interval"]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c["head_dim"],
        vocab_size=c["vocab_size"],
        qk_norm=True,
        shared_expert_gate=True,
        block_configs=[
            {"attention": full if (n + 1) % interval == 0 else linear, "ffn": {"moe": moe}}
            for n in range(c["num_hidden_layers"])
        ],
        **facts,
    )


def _kimi_linear_fixture(c: dict[str, Any]) -> ModelArchitecture:
    layout = c["linear_attn_config"]
    heads, d = layout["num_heads"], layout["head_dim"]
    kda = {
        "kind": "kda",
        "num_key_heads": heads,
        "key_head_dim": d,
        "num_value_heads": heads,
        "value_head_dim": d,
        "conv_kernel": layout["short_conv_kernel_size"],
    }
    mla = {key: c[key] for key in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim")}
    mla.update(qk_rope_head_dim=c["qk_rope_head_dim"], v_head_dim=c["v_head_dim"])
    moe = {
        "num_local_experts": c["num_experts"],
        "num_experts_per_tok": c["num_experts_per_token"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["num_shared_experts"] * c["moe_intermediate_size"],
    }
    full = set(layout["full_attn_layers"])  # numbered from 1
    blocks = [
        {
            "attention": {"mla": mla} if n + 1 in full else {"linear_attention": kda},
            "ffn": {"moe": moe}
            if n >= c["first_k_dense_replace"]
            else {"intermediate_size": c["intermediate_size"]},
        }
        for n in range(c["num_hidden_layers"])
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        router_score_correction_bias=True,
        block_configs=blocks,
    )


def _glm5_next_fixture(config: dict[str, Any]) -> ModelArchitecture:
    """GLM-5.3-Flash's text model: KDA, and MLA with a pooled-key indexer on every 4th layer
    (``deepseek_sparse_attention``); ``mlp_layer_types`` absent, so the class's first three
    dense layers; hyper-connections collapsed by a mean."""
    c = config["text_config"]
    layout = c["linear_attn_config"]
    heads, d = layout["num_heads"], layout["head_dim"]
    kda = {
        "kind": "kda",
        "num_key_heads": heads,
        "key_head_dim": d,
        "num_value_heads": heads,
        "value_head_dim": d,
        "conv_kernel": layout["short_conv_kernel_size"],
    }
    latent = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "q_lora_rank")
    indexer = ("index_n_heads", "index_head_dim", "index_kpool")
    mla = {key: c[key] for key in (*latent, *indexer)}
    moe = {
        "num_local_experts": c["n_routed_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["n_shared_experts"] * c["moe_intermediate_size"],
    }
    blocks = [
        {
            "attention": {"linear_attention": kda} if kind == "linear_attention" else {"mla": mla},
            "ffn": {"moe": moe} if n >= 3 else {"intermediate_size": c["intermediate_size"]},
        }
        for n, kind in enumerate(c["layer_types"])
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        vocab_size=c["vocab_size"],
        tie_word_embeddings=config["tie_word_embeddings"],
        router_score_correction_bias=True,
        hyper_connections=c["hc_mult"],
        hyper_connections_mean_head=True,
        block_configs=blocks,
    )


def _deepseek_v4_fixture(c: dict[str, Any]) -> ModelArchitecture:
    shape = {key: c[key] for key in ("q_lora_rank", "o_groups", "o_lora_rank")}
    # The published per-layer compress_ratios (the MTP layer's last): 0 window only, 4
    # compressed sparse with an indexer, 128 heavily compressed.
    compressed = {
        0: shape,
        4: {
            **shape,
            "compress_rate": 4,
            "index_n_heads": c["index_n_heads"],
            "index_head_dim": c["index_head_dim"],
        },
        128: {**shape, "compress_rate": 128},
    }
    moe = {
        "num_local_experts": c["n_routed_experts"],
        "num_experts_per_tok": c["num_experts_per_tok"],
        "expert_intermediate_dim": c["moe_intermediate_size"],
        "shared_expert_intermediate_dim": c["moe_intermediate_size"],
    }
    blocks = [
        {
            "attention": {
                "num_key_value_heads": c["num_key_value_heads"],
                "sliding_window": c["sliding_window"],
                "compressed_attention": compressed[c["compress_ratios"][n]],
            },
            "ffn": {"moe": {**moe, "hash_routed": n < c["num_hash_layers"]}},
        }
        for n in range(c["num_hidden_layers"])
    ]
    return ModelArchitecture(
        hidden_size=c["hidden_size"],
        num_attention_heads=c["num_attention_heads"],
        head_dim=c["head_dim"],
        vocab_size=c["vocab_size"],
        attention_sinks=True,
        router_score_correction_bias=True,
        hyper_connections=c["hc_mult"],
        block_configs=blocks,
    )


_BUILDERS: dict[str, Any] = {
    "Qwen2.5-0.5B": lambda c: _qwen_dense(c, qkv_bias=True),
    "Qwen3-0.6B": lambda c: _qwen_dense(c, qk_norm=True),
    "gemma-2-2b": lambda c: _gemma(c, lambda n: n % 2 == 1),
    "gemma-3-1b-it": lambda c: _gemma(
        c, lambda n: (n + 1) % c["sliding_window_pattern"] == 0, qk_norm=True
    ),
    "gpt-oss-20b": _gpt_oss_fixture,
    "Qwen1.5-MoE-A2.7B": _qwen2_moe_fixture,
    "DeepSeek-V2-Lite": _deepseek_fixture,
    "DeepSeek-V3": _deepseek_fixture,
    "NVIDIA-Nemotron-3-Nano-30B-A3B": _nemotron_h_fixture,
    "Qwen3-Next-80B-A3B-Instruct": lambda c: _qwen_hybrid(c, fused=True),
    "Qwen3.5-35B-A3B": lambda c: _qwen_hybrid(
        c["text_config"], fused=False, mamba_ssm_cache_dtype="float32"
    ),
    "Kimi-Linear-48B-A3B-Instruct": _kimi_linear_fixture,
    "Mistral-Large-4-1T-A52B": lambda c: _mistral_large4_fixture(c["text_config"]),
    "GLM-5.3-Flash": _glm5_next_fixture,
    "DeepSeek-V4-Flash-Base": _deepseek_v4_fixture,
}


@pytest.mark.parametrize("name", sorted(_BUILDERS))
def test_family_fixture_built_by_hand_gives_the_expected_figures(name: str) -> None:
    if not (FAMILIES / "EXPECTED.json").exists():
        pytest.skip("the family fixtures are not in this checkout")
    expected = _expected(name)
    stats = model_stats(_BUILDERS[name](_fixture(name)), kv_cache_dtype="bf16")
    assert stats.total_params == expected.get("text_params", expected["total_params"])
    assert stats.active_params == expected["active_params"]
    assert stats.kv_cache_bytes(1, 32768) == expected["kv_bytes_32k_bf16"]
    state = stats.linear_attention_state_bytes_per_sequence
    assert state == expected.get("linear_state_bytes_bf16", 0)


def test_gpt_oss_20b_fixture_quantization_config_gives_the_checkpoint_bytes() -> None:
    if not (FAMILIES / "EXPECTED.json").exists():
        pytest.skip("the family fixtures are not in this checkout")
    config = _fixture("gpt-oss-20b")
    arch = attrs.evolve(
        _gpt_oss_fixture(config),
        torch_dtype="bfloat16",
        quantization=quantization_from_config(config["quantization_config"]),
    )
    # "total_size" of openai/gpt-oss-20b's model.safetensors.index.json.
    assert model_stats(arch).weight_bytes == 13_761_264_768
