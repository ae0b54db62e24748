"""The typed contract of the per-layer fields for other model families (issue 9).

Never executed: ``mypy --strict`` checks it, with ``warn_unused_ignores`` on.
"""

from __future__ import annotations

from typing import assert_type

from hypothesis.strategies import SearchStrategy

from block_config import AttentionConfig, BlockConfig, FFNConfig, MLAConfig, MoEConfig
from block_config.strategies import mla_configs

mla = MLAConfig(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)
assert_type(mla.kv_lora_rank, int)
assert_type(mla.qk_nope_head_dim, int)
assert_type(mla.qk_rope_head_dim, int)
assert_type(mla.v_head_dim, int)
assert_type(mla.q_lora_rank, int | None)

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

# A layer's own query-head count and head width (per_layer_config overrides, Gemma 4's
# global layers), and a latent MoE (Nemotron-3-Super).
wide = AttentionConfig(num_key_value_heads=2, num_attention_heads=16, head_dim=512)
assert_type(wide.num_attention_heads, int | None)
assert_type(wide.head_dim, int | None)
latent_experts = MoEConfig(num_local_experts=512, num_experts_per_tok=22, latent_dim=1024)
assert_type(latent_experts.latent_dim, int | None)
AttentionConfig(num_key_value_heads=2, head_dim="512")  # type: ignore[arg-type]
