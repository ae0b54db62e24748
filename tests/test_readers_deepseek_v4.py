"""DeepSeek-V4 (``deepseek_v4``): what DeepseekV4Config's rules build, the compressed
attention and hash-routed MoE in the block model, their counts and KV cache, and what the
reader refuses at its key rather than count wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import (
    AttentionConfig,
    BlockConfigError,
    CompressedAttentionConfig,
    ModelArchitecture,
    MoEConfig,
    model_stats,
    readers,
)

FAMILIES = Path(__file__).parent / "data" / "families"
FIXTURE = FAMILIES / "DeepSeek-V4-Flash-Base.config.json"
SEQUENCE = 32768
CSA = "compressed_sparse_attention"
HCA = "heavily_compressed_attention"
SLIDING = "sliding_attention"


def _fixture(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(FIXTURE.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def _compression(arch: ModelArchitecture) -> list[CompressedAttentionConfig]:
    found = []
    for block in arch.block_configs:
        assert block.attention is not None
        assert block.attention.compressed_attention is not None
        found.append(block.attention.compressed_attention)
    return found


def _hashed(arch: ModelArchitecture) -> list[bool]:
    flags = []
    for block in arch.block_configs:
        assert block.ffn is not None
        assert block.ffn.moe is not None
        flags.append(block.ffn.moe.hash_routed is True)
    return flags


# --------------------------------------------------------------------------- the reader


def test_the_family_is_registered() -> None:
    assert "deepseek_v4" in readers.supported_model_types()
    assert readers.architecture_of("deepseek_v4") == "DeepseekV4ForCausalLM"


def test_the_published_layout_comes_from_compress_ratios() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    rates = [c.compress_rate for c in _compression(arch)]
    # 44 published entries: the 43 layers and the MTP layer, read for the layers only.
    assert rates == [None, None] + [4 if n % 2 == 0 else 128 for n in range(2, 43)]
    indexed = [c.has_indexer for c in _compression(arch)]
    assert indexed == [rate == 4 for rate in rates]
    first = _compression(arch)[2]
    assert (first.q_lora_rank, first.o_groups, first.o_lora_rank) == (1024, 8, 1024)
    assert (first.index_n_heads, first.index_head_dim) == (64, 128)
    assert _hashed(arch) == [True] * 3 + [False] * 40
    assert arch.hyper_connections == 4
    assert arch.hyper_connections_mean_head is False
    assert (arch.attention_sinks, arch.router_score_correction_bias) == (True, True)
    attention = arch.block_configs[0].attention
    assert attention is not None
    assert (attention.num_key_value_heads, attention.sliding_window) == (1, 128)
    assert arch.head_dim == 512
    assert arch.mtp is None


def test_without_layer_types_or_ratios_the_class_default_layout() -> None:
    arch = ModelArchitecture.from_mapping(_fixture(compress_ratios=None, num_hidden_layers=6))
    assert [c.compress_rate for c in _compression(arch)] == [128, 128, 128, 4, 128, 4]


def test_layer_types_win_over_compress_ratios() -> None:
    types = [SLIDING, CSA, HCA, CSA, HCA]
    arch = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=5, layer_types=types))
    assert [c.compress_rate for c in _compression(arch)] == [None, 4, 128, 4, 128]


def test_mlp_layer_types_win_over_num_hash_layers() -> None:
    mlp = ["moe", "hash_moe", "moe", "hash_moe"]
    arch = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=4, mlp_layer_types=mlp))
    assert _hashed(arch) == [False, True, False, True]
    none = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=4, num_hash_layers=0))
    assert _hashed(none) == [False] * 4


# Each variant counted with transformers 5.25.0's modelling code on the meta device
# (/work/shared/tools/hf_meta_params.py) from the fixture with these changes.
VARIANTS: list[tuple[dict[str, Any], int]] = [
    ({"compress_ratios": None, "num_hash_layers": None}, 284_325_869_015),
    (
        {
            "compress_ratios": None,
            "num_hidden_layers": 6,
            "compress_rates": {CSA: 8, HCA: 64},
            "layer_types": [SLIDING, CSA, HCA, CSA, HCA, SLIDING],
        },
        40_564_379_593,
    ),
    ({"num_hidden_layers": 5, "compress_rate_csa": 16, "compress_rate_hca": 32}, 33_983_739_731),
    (
        {
            "num_hidden_layers": 4,
            "num_hash_layers": None,
            "mlp_layer_types": ["moe", "hash_moe", "moe", "hash_moe"],
        },
        27_388_199_517,
    ),
    (
        {
            "num_hidden_layers": 3,
            "tie_word_embeddings": True,
            "hc_mult": 2,
            "o_groups": 4,
            "intermediate_size": 1024,
            "num_local_experts": 64,
            "num_experts_per_tok": 4,
            "q_lora_rank": 512,
            "index_n_heads": 32,
            "index_head_dim": 64,
            "head_dim": 256,
            "num_attention_heads": 32,
        },
        3_088_368_869,
    ),
]


@pytest.mark.parametrize(("changes", "total"), VARIANTS)
def test_variants_count_as_transformers_builds_them(changes: dict[str, Any], total: int) -> None:
    arch = ModelArchitecture.from_mapping(_fixture(**changes))
    assert model_stats(arch).total_params == total


def test_intermediate_size_and_num_local_experts_replace_the_moe_keys() -> None:
    arch = ModelArchitecture.from_mapping(
        _fixture(num_hidden_layers=1, intermediate_size=1024, num_local_experts=64)
    )
    ffn = arch.block_configs[0].ffn
    assert ffn is not None
    assert ffn.moe == MoEConfig(
        num_local_experts=64,
        num_experts_per_tok=6,
        expert_intermediate_dim=1024,
        shared_expert_intermediate_dim=1024,
        hash_routed=True,
    )


# --------------------------------------------------------------------------- counts


def test_the_fixture_counts_tensor_by_tensor() -> None:
    stats = model_stats(ModelArchitecture.load(FIXTURE))
    h, d, heads = 4096, 512, 64
    hc = (2 * 4 + 16) * 4 * h + 24 + 3
    attention = 1024 * h + 1024 + 1024 * heads * d + d * h + d + 2 * 8 * 1024 * heads * d // 8
    attention += heads + h + hc  # sinks, input norm, attn_hc
    assert stats.layers[0].attention.params == attention
    hca = 2 * d * h + 128 * d + d
    assert stats.layers[3].attention.params == attention + hca
    indexer = 2 * 2 * 128 * h + 4 * 2 * 128 + 128 + 64 * 128 * 1024 + 64 * h
    csa = 2 * 2 * d * h + 4 * 2 * d + d + indexer
    assert stats.layers[2].attention.params == attention + csa
    experts = 256 * 3 * 2048 * h
    ffn = 256 * h + experts + 3 * 2048 * h + h + hc  # router, experts, shared, norm, ffn_hc
    assert stats.layers[0].ffn.params == stats.layers[5].ffn.params == ffn
    assert stats.layers[0].ffn.active_params == ffn - experts + 6 * 3 * 2048 * h
    head = 4 * 4 * h + 4 + 1
    model_level = 2 * 129280 * h + h + head
    assert stats.total_params - sum(layer.params for layer in stats.layers) == model_level


def test_the_kv_cache_keeps_the_window_and_the_compressed_entries() -> None:
    stats = model_stats(ModelArchitecture.load(FIXTURE), kv_cache_dtype="bf16")
    window = 128 * 512 * 2
    per_layer = {0: window, 3: window + 256 * 512 * 2, 2: window + 8192 * (512 + 128) * 2}
    for index, expected in per_layer.items():
        assert stats.layers[index].kv_cache_bytes(SEQUENCE) == expected
    assert per_layer == {0: 131_072, 3: 393_216, 2: 10_616_832}
    assert stats.kv_cache_bytes(1, SEQUENCE) == 43 * window + 21 * 8192 * 1280 + 20 * 256 * 1024
    # Not proportional to the length: whole entries only, and the window fills first.
    assert stats.layers[2].kv_cache_bytes(7) == 7 * 1024 + 1 * 1280
    assert stats.layers[3].kv_cache_bytes(1000) == 128 * 1024 + 7 * 1024
    assert stats.layers[2].attention.compress_rate == 4
    assert stats.layers[2].attention.compressed_kv_bytes_per_entry == 1280
    assert stats.layers[0].attention.compress_rate is None
    assert stats.kv_cache_bytes_per_token == 43 * 1024  # the window part


def test_hash_routing_changes_buffers_not_parameters() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    hashed = arch.block_configs[0]
    assert hashed.ffn is not None
    assert hashed.ffn.moe is not None
    moe = attrs.evolve(hashed.ffn.moe, hash_routed=None)
    routed = attrs.evolve(hashed, ffn=attrs.evolve(hashed.ffn, moe=moe))
    a = model_stats(arch.with_block_configs([hashed]))
    b = model_stats(arch.with_block_configs([routed]))
    assert (a.total_params, a.active_params) == (b.total_params, b.active_params)
    # tid2eid (vocab x top-k int32) instead of the fp32 score-correction bias.
    assert a.weight_bytes - b.weight_bytes == 129280 * 6 * 4 - 256 * 4


# --------------------------------------------------------------------------- the block model


def test_compressed_attention_is_written_only_when_set() -> None:
    plain = AttentionConfig(num_key_value_heads=1)
    assert "compressed_attention" not in plain.to_dict()
    assert "compressed_attention" not in repr(plain)
    window_only = CompressedAttentionConfig(q_lora_rank=8, o_groups=2, o_lora_rank=4)
    assert window_only.to_dict() == {"q_lora_rank": 8, "o_groups": 2, "o_lora_rank": 4}
    attention = AttentionConfig(num_key_value_heads=1, compressed_attention=window_only)
    assert AttentionConfig.from_dict(attention.to_dict()) == attention
    assert attention.is_compressed_attention
    assert "hash_routed" not in MoEConfig().to_dict()
    assert MoEConfig(hash_routed=False) == MoEConfig()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"index_n_heads": 4}, "$.index_head_dim: required with the other indexer field"),
        (
            {"index_n_heads": 4, "index_head_dim": 8},
            "$.compress_rate: required with an indexer, which reads compressed entries",
        ),
        ({"compress_rate": 0}, "$.compress_rate: expected int from 1 to"),
        ({"o_groups": "8"}, "$.o_groups: expected int, got str '8'"),
    ],
)
def test_compressed_attention_rules(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(BlockConfigError) as info:
        CompressedAttentionConfig.from_dict(
            {"q_lora_rank": 8, "o_groups": 2, "o_lora_rank": 4, **fields}
        )
    assert str(info.value.problems[0]).startswith(message)


@pytest.mark.parametrize(
    ("attention", "message"),
    [
        ({"no_op": True}, "$.compressed_attention: must be null when no_op is true"),
        (
            {
                "mla": {
                    "kv_lora_rank": 1,
                    "qk_nope_head_dim": 1,
                    "qk_rope_head_dim": 1,
                    "v_head_dim": 1,
                }
            },
            "$.compressed_attention: must be null when mla is set",
        ),
        ({"num_key_value_heads": 1, "output_gate": True}, "$.output_gate: must be null when "),
        ({"num_key_value_heads": 1, "kv_source_layer": 0}, "$.kv_source_layer: must be null"),
        ({}, "$.num_key_value_heads: required unless"),
    ],
)
def test_an_attention_has_compression_only_where_it_makes_sense(
    attention: dict[str, Any], message: str
) -> None:
    compressed = {"q_lora_rank": 8, "o_groups": 2, "o_lora_rank": 4}
    with pytest.raises(BlockConfigError) as info:
        AttentionConfig.from_dict({**attention, "compressed_attention": compressed})
    assert any(str(problem).startswith(message) for problem in info.value.problems)


def test_model_facts_deepseek_v4_has_not_are_refused_with_compression() -> None:
    arch = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=1))
    with pytest.raises(BlockConfigError) as info:
        model_stats(attrs.evolve(arch, qk_norm=True, attention_bias=True))
    assert [str(problem) for problem in info.value.problems] == [
        "$.block_configs[0].attention.compressed_attention: not modelled with attention_bias, "
        "qk_norm: DeepSeek-V4's attention has no biases and no q/k norms of that kind"
    ]


def test_native_round_trip_keeps_every_figure() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    written = arch.to_mapping("native")
    assert written["hc_mult"] == 4
    again = ModelArchitecture.from_mapping(written)
    assert again.block_configs == arch.block_configs
    assert again.hyper_connections == 4
    a, b = model_stats(arch), model_stats(again)
    assert (a.total_params, a.active_params, a.kv_cache_bytes(1, SEQUENCE)) == (
        b.total_params,
        b.active_params,
        b.kv_cache_bytes(1, SEQUENCE),
    )
    third, fourth = written["block_configs"][2:4]
    assert third["attention"]["compressed_attention"]["compress_rate"] == 4
    assert third["ffn"]["moe"]["hash_routed"] is True
    assert fourth["attention"]["compressed_attention"] == {
        "q_lora_rank": 1024,
        "o_groups": 8,
        "o_lora_rank": 1024,
        "compress_rate": 128,
    }
    assert "hash_routed" not in fourth["ffn"]["moe"]


def test_yaml_round_trip() -> None:
    pytest.importorskip("yaml")
    arch = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=4))
    again = ModelArchitecture.from_yaml(arch.to_yaml("native"))
    assert again.block_configs == arch.block_configs


def test_the_legacy_dialect_refuses_it_at_its_path() -> None:
    arch = ModelArchitecture.from_mapping(_fixture(num_hidden_layers=1))
    with pytest.raises(BlockConfigError) as info:
        arch.to_mapping("legacy")
    paths = [problem.path for problem in info.value.problems]
    assert (0, "attention", "compressed_attention") in [p[-3:] for p in paths]


def test_show_names_the_compressed_layers() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "block_config", "show", str(FIXTURE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "21 x gqa 1 KV window 128 + 1 entry/4 tokens" in out
    assert "20 x gqa 1 KV window 128 + 1 entry/128 tokens" in out
    assert "KV compressed:   41 attention(s) add one entry per 4/128 tokens" in out


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"num_key_value_heads": 2},
            "$.num_key_value_heads: not supported: 2; DeepSeek-V4's attention has one key-value "
            "head (transformers builds one whatever this says)",
        ),
        (
            {"n_shared_experts": 2},
            "$.n_shared_experts: not supported: 2; transformers builds one shared expert "
            "whatever this says",
        ),
        (
            {"n_shared_experts": 0},
            "$.n_shared_experts: not supported: 0; transformers builds one shared expert "
            "whatever this says",
        ),
        (
            {"mlp_bias": True},
            "$.mlp_bias: not supported: true; transformers would put biases on the shared "
            "expert only, which is not modelled",
        ),
        (
            {"o_groups": 3},
            "$.o_groups: 3 does not divide num_attention_heads * head_dim (32768): the output "
            "projection's groups would not be whole",
        ),
        (
            {"compress_ratios": [0, 0, 4, 8]},
            "$.compress_ratios[3]: expected 0, 4 or 128, got int 8",
        ),
        (
            {"compress_ratios": [0, 4]},
            "$.compress_ratios: has 2 items but num_hidden_layers is 4",
        ),
        (
            {"layer_types": [SLIDING, CSA, "full_attention", HCA]},
            "$.layer_types[2]: expected one of sliding_attention, compressed_sparse_attention, "
            "heavily_compressed_attention, got str 'full_attention'",
        ),
        ({"layer_types": [SLIDING]}, "$.layer_types: has 1 items but num_hidden_layers is 4"),
        (
            {"compress_rates": {CSA: 4}},
            "$.compress_rates.heavily_compressed_attention: missing: layer 3 is "
            "heavily_compressed_attention, which needs its rate",
        ),
        ({"compress_rates": [4, 128]}, "$.compress_rates: expected an object, got list"),
        ({"compress_rates": {CSA: 4, HCA: 0}}, "$.compress_rates.heavily_compressed_attention"),
        ({"compress_rate_csa": "4"}, "$.compress_rate_csa: expected int, got str '4'"),
        (
            {"mlp_layer_types": ["moe", "dense", "moe", "moe"]},
            "$.mlp_layer_types[1]: expected one of hash_moe, moe, got str 'dense'",
        ),
        ({"num_hash_layers": "3"}, "$.num_hash_layers: expected int, got str '3'"),
        ({"hc_mult": None}, "$.hc_mult: expected int, got null"),
        ({"intermediate_size": None}, "$.intermediate_size: expected int, got null"),
        ({"sliding_window": 0}, "$.sliding_window: expected int from 1 to"),
    ],
)
def test_what_is_not_modelled_is_refused_at_its_key(changes: dict[str, Any], message: str) -> None:
    config = _fixture(num_hidden_layers=4, compress_ratios=[0, 0, 4, 128])
    config.update(changes)
    errors = _errors(config)
    assert any(error.startswith(message) for error in errors), errors


def test_family_checks_the_keys_it_needs() -> None:
    llama = json.loads((FAMILIES / "Llama-3.1-8B.config.json").read_text())
    with pytest.raises(BlockConfigError):
        ModelArchitecture.from_mapping(llama, family="deepseek_v4")
