"""The typed contract of the per-layer fields for other model families (issues 9 and 17).

Never executed: ``mypy --strict`` checks it, with ``warn_unused_ignores`` on.
"""

from __future__ import annotations

from typing import assert_type

from hypothesis.strategies import SearchStrategy

from block_config import (
    LINEAR_ATTENTION_KINDS,
    AttentionConfig,
    AttentionKind,
    BlockConfig,
    CompressedAttentionConfig,
    FFNConfig,
    LinearAttentionConfig,
    MemoryEstimate,
    MLAConfig,
    ModelArchitecture,
    MoEConfig,
    model_stats,
)
from block_config.strategies import (
    compressed_attention_configs,
    linear_attention_configs,
    mla_configs,
)

mla = MLAConfig(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)
assert_type(mla.kv_lora_rank, int)
assert_type(mla.qk_nope_head_dim, int)
assert_type(mla.qk_rope_head_dim, int)
assert_type(mla.v_head_dim, int)
assert_type(mla.q_lora_rank, int | None)
# DeepSeek Sparse Attention's indexer (DeepSeek-V3.2, GLM-5).
indexed = MLAConfig(
    kv_lora_rank=512,
    qk_nope_head_dim=128,
    qk_rope_head_dim=64,
    v_head_dim=128,
    q_lora_rank=1536,
    index_n_heads=64,
    index_head_dim=128,
)
assert_type(indexed.index_n_heads, int | None)
assert_type(indexed.index_head_dim, int | None)
assert_type(indexed.has_indexer, bool)
# The indexer's key pooling (GLM-5.3-Flash).
pooled = MLAConfig(
    kv_lora_rank=512,
    qk_nope_head_dim=256,
    qk_rope_head_dim=0,
    v_head_dim=256,
    q_lora_rank=1536,
    index_n_heads=32,
    index_head_dim=128,
    index_kpool=4,
)
assert_type(pooled.index_kpool, int | None)
MLAConfig(  # type: ignore[call-arg]
    kv_lora_rank=512, qk_nope_head_dim=256, qk_rope_head_dim=0, v_head_dim=256, kpool=4
)

latent = AttentionConfig(mla=mla, sliding_window=4096)
from_mapping = AttentionConfig(
    mla={"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
)
assert_type(latent.mla, MLAConfig | None)
assert_type(latent.sliding_window, int | None)
assert_type(latent.is_mla, bool)

relu2 = FFNConfig(intermediate_size=21504, gated=False)
assert_type(relu2.gated, bool | None)
assert_type(relu2.is_gated, bool)
experts = MoEConfig(num_local_experts=128, num_experts_per_tok=6, gated=False)
assert_type(experts.gated, bool | None)
assert_type(experts.is_gated, bool)

block = BlockConfig(attention=latent, ffn=FFNConfig(moe=experts))
assert_type(MLAConfig.from_dict(mla.to_dict()), MLAConfig)
assert_type(mla_configs(), SearchStrategy[MLAConfig])

# MLAConfig is frozen and keyword-only, as every block-config class.
mla.kv_lora_rank = 1  # type: ignore[misc]
MLAConfig(512, 128, 64, 128)  # type: ignore[call-arg]
latent.sliding_window = 8  # type: ignore[misc]
FFNConfig(intermediate_size=8, gated="false")  # type: ignore[arg-type]
AttentionConfig(num_key_value_heads=8, sliding_window="4096")  # type: ignore[arg-type]

# Linear attention (Gated DeltaNet, Kimi Delta Attention) and attention output gates.
gdn = LinearAttentionConfig(
    kind="gdn", num_key_heads=16, key_head_dim=128, num_value_heads=32, value_head_dim=128
)
assert_type(gdn.kind, str)
assert_type(gdn.num_key_heads, int)
assert_type(gdn.key_head_dim, int)
assert_type(gdn.num_value_heads, int)
assert_type(gdn.value_head_dim, int)
assert_type(gdn.conv_kernel, int)
assert_type(gdn.fused_projections, bool)
assert_type(gdn.conv_dim, int)
assert_type(LINEAR_ATTENTION_KINDS, tuple[str, ...])
assert_type(LinearAttentionConfig.from_dict(gdn.to_dict()), LinearAttentionConfig)
assert_type(linear_attention_configs(), SearchStrategy[LinearAttentionConfig])

delta = AttentionConfig(linear_attention=gdn)
assert_type(delta.linear_attention, LinearAttentionConfig | None)
assert_type(delta.is_linear_attention, bool)
gated = AttentionConfig(num_key_value_heads=2, output_gate=True)
assert_type(gated.output_gate, bool | None)

hybrid = ModelArchitecture(
    hidden_size=2048,
    num_attention_heads=16,
    head_dim=256,
    vocab_size=151936,
    block_configs=[
        BlockConfig(attention=delta, ffn=FFNConfig(intermediate_size=5120)),
        BlockConfig(attention=gated, ffn=FFNConfig(intermediate_size=5120)),
    ],
)
stats = model_stats(hybrid)
assert_type(stats.linear_attention_state_bytes_per_sequence, int)
assert_type(stats.linear_attention_state_bytes(8), int)
assert_type(stats.layers[0].linear_attention_state_bytes_per_sequence, int)
assert_type(stats.layers[0].attention.linear_attention_state_bytes_per_sequence, int)
assert_type(stats.layers[0].attention.kind, AttentionKind)
assert_type(stats.layers[1].attention.output_gate, bool)
memory = stats.memory(8, 32768)
assert_type(memory, MemoryEstimate)
assert_type(memory.linear_attention_state_bytes, int)

gdn.kind = "kda"  # type: ignore[misc]
LinearAttentionConfig("gdn", 16, 128, 32, 128)  # type: ignore[call-arg]
AttentionConfig(num_key_value_heads=2, output_gate="true")  # type: ignore[arg-type]

# A layer's own query-head count and head width (per_layer_config overrides, Gemma 4's
# global layers), and a latent MoE (Nemotron-3-Super).
wide = AttentionConfig(num_key_value_heads=2, num_attention_heads=16, head_dim=512)
assert_type(wide.num_attention_heads, int | None)
assert_type(wide.head_dim, int | None)
latent_experts = MoEConfig(num_local_experts=512, num_experts_per_tok=22, latent_dim=1024)
assert_type(latent_experts.latent_dim, int | None)
AttentionConfig(num_key_value_heads=2, head_dim="512")  # type: ignore[arg-type]
# The model-wide facts of the 2026 families: QK-norm across all heads (OLMo-3, MiniMax-M2).
olmo3 = ModelArchitecture.load("Olmo-3-7B/config.json", family="olmo3")
assert_type(olmo3.qk_norm_across_heads, bool)
# Falcon-H1: attention and Mamba side by side after one norm, Mamba without its gated norm.
falcon = ModelArchitecture.load("Falcon-H1-7B/config.json")
assert_type(falcon.parallel_blocks_share_input_norm, bool)
assert_type(falcon.mamba_without_norm, bool)
ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[BlockConfig(attention={"num_key_value_heads": 4}, ffn={"intermediate_size": 8})],
    qk_norm_across_heads=True,
)
ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[],
    qk_norm_across_heads="yes",  # type: ignore[arg-type]
)

# Gemma 4: a layer reading an earlier layer's K/V, and per-layer embeddings.
shared_kv = AttentionConfig(num_key_value_heads=1, kv_source_layer=0)
assert_type(shared_kv.kv_source_layer, int | None)
gemma4 = ModelArchitecture(
    hidden_size=1536,
    num_attention_heads=8,
    head_dim=256,
    vocab_size=262144,
    block_configs=[
        BlockConfig(
            attention=AttentionConfig(num_key_value_heads=1), ffn=FFNConfig(intermediate_size=6144)
        ),
        BlockConfig(attention=shared_kv, ffn=FFNConfig(intermediate_size=12288)),
    ],
    per_layer_input_size=256,
    per_layer_input_vocab_size=262144,
)
assert_type(gemma4.per_layer_input_size, int | None)
assert_type(gemma4.per_layer_input_vocab_size, int | None)
assert_type(model_stats(gemma4).layers[1].attention.kv_source_layer, int | None)
# Gemma 4's MoE block: routed experts beside the dense MLP (the shared expert), with the
# router's scales and the norms around the two branches as model-wide facts.
gemma4_moe = ModelArchitecture(
    hidden_size=2816,
    num_attention_heads=16,
    head_dim=256,
    vocab_size=262144,
    block_configs=[
        BlockConfig(
            attention=AttentionConfig(num_key_value_heads=8),
            ffn=FFNConfig(
                moe=MoEConfig(
                    num_local_experts=128,
                    num_experts_per_tok=8,
                    expert_intermediate_dim=704,
                    shared_expert_intermediate_dim=2112,
                )
            ),
        )
    ],
    router_scales=True,
    moe_branch_norms=True,
)
assert_type(gemma4_moe.router_scales, bool)
# Gemma 4's global layers with attention_k_eq_v: no v_proj, the values are the keys.
keyed = AttentionConfig(num_key_value_heads=2, head_dim=512, values_from_keys=True)
assert_type(keyed.values_from_keys, bool | None)
assert_type(model_stats(gemma4_moe).layers[0].attention.values_from_keys, bool)
AttentionConfig(num_key_value_heads=2, values_from_keys="true")  # type: ignore[arg-type]
assert_type(gemma4_moe.moe_branch_norms, bool)
ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[],
    moe_branch_norms="yes",  # type: ignore[arg-type]
)

# Mistral-Large-4: an indexer reading the hidden state, a layer reading an earlier layer's
# latent, log-position query scaling, fp32 routers and LeRoPE's learned frequency scales.
from_hidden = MLAConfig(
    kv_lora_rank=512,
    qk_nope_head_dim=64,
    qk_rope_head_dim=64,
    v_head_dim=128,
    index_n_heads=32,
    index_head_dim=128,
    index_from_hidden=True,
)
assert_type(from_hidden.index_from_hidden, bool | None)
MLAConfig(
    kv_lora_rank=512,
    qk_nope_head_dim=64,
    qk_rope_head_dim=64,
    v_head_dim=128,
    index_from_hidden="yes",  # type: ignore[arg-type]
)
large4 = ModelArchitecture(
    hidden_size=6144,
    num_attention_heads=64,
    vocab_size=204800,
    block_configs=[
        BlockConfig(
            attention=AttentionConfig(mla=from_hidden), ffn=FFNConfig(intermediate_size=24576)
        ),
        BlockConfig(
            attention=AttentionConfig(mla=from_hidden, kv_source_layer=0),
            ffn=FFNConfig(intermediate_size=24576),
        ),
    ],
    log_position_scaling=True,
    router_fp32=True,
    learned_rope_frequencies=32,
)
assert_type(large4.log_position_scaling, bool)
assert_type(large4.router_fp32, bool)
assert_type(large4.learned_rope_frequencies, int | None)
assert_type(model_stats(large4).layers[1].attention.kv_source_layer, int | None)

# Hyper-connections (DeepSeek-V4, GLM-5.3-Flash): the residual streams, model-wide.
streams = ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[BlockConfig(attention={"num_key_value_heads": 4}, ffn={"intermediate_size": 8})],
    hyper_connections=4,
    hyper_connections_mean_head=True,
)
assert_type(streams.hyper_connections, int | None)
assert_type(streams.hyper_connections_mean_head, bool)
ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[],
    learned_rope_frequencies="32",  # type: ignore[arg-type]
)
ModelArchitecture(
    hidden_size=64,
    num_attention_heads=4,
    vocab_size=100,
    block_configs=[],
    hyper_connections="4",  # type: ignore[arg-type]
)

# DeepSeek-V4: shared-KV attention with compressed history, and hash-routed MoE layers.
compressed = CompressedAttentionConfig(
    q_lora_rank=1024,
    o_groups=8,
    o_lora_rank=1024,
    compress_rate=4,
    index_n_heads=64,
    index_head_dim=128,
)
assert_type(compressed.q_lora_rank, int)
assert_type(compressed.compress_rate, int | None)
assert_type(compressed.index_n_heads, int | None)
assert_type(compressed.has_indexer, bool)
dsv4_attention = AttentionConfig(
    num_key_value_heads=1, sliding_window=128, compressed_attention=compressed
)
assert_type(dsv4_attention.compressed_attention, CompressedAttentionConfig | None)
assert_type(dsv4_attention.is_compressed_attention, bool)
hashed = MoEConfig(num_local_experts=256, num_experts_per_tok=6, hash_routed=True)
assert_type(hashed.hash_routed, bool | None)
assert_type(compressed_attention_configs(), SearchStrategy[CompressedAttentionConfig])
CompressedAttentionConfig(q_lora_rank=1024, o_groups="8", o_lora_rank=1024)  # type: ignore[arg-type]
dsv4 = ModelArchitecture.load("DeepSeek-V4-Flash-Base/config.json")
dsv4_layer = model_stats(dsv4).layers[2].attention
assert_type(dsv4_layer.compress_rate, int | None)
assert_type(dsv4_layer.compressed_kv_bytes_per_entry, int)
