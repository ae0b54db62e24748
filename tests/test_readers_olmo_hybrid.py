"""The Olmo-Hybrid reader (``olmo_hybrid``): what transformers 5.25's OlmoHybridConfig and
its modelling code build, Gated DeltaNet and OLMo-3 attention layers, and what the reader
refuses at its key rather than count wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import BlockConfigError, ModelArchitecture, model_stats, readers

FAMILIES = Path(__file__).parent / "data" / "families"
FIXTURE = FAMILIES / "Olmo-Hybrid-7B.config.json"
LINEAR, FULL = "linear_attention", "full_attention"


def _config(**keys: Any) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(FIXTURE.read_text())
    config.update(keys)
    return {key: value for key, value in config.items() if value is not None}


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def _kinds(arch: ModelArchitecture) -> list[str]:
    return [
        LINEAR
        if block.attention is not None and block.attention.linear_attention is not None
        else FULL
        for block in arch.block_configs
    ]


def test_registered_by_model_type_and_architecture() -> None:
    assert "olmo_hybrid" in readers.supported_model_types()
    assert readers.architecture_of("olmo_hybrid") == "OlmoHybridForCausalLM"


def test_the_7b_model_as_transformers_builds_it() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    assert _kinds(arch) == [LINEAR, LINEAR, LINEAR, FULL] * 8
    assert arch.qk_norm_across_heads is True
    assert arch.qk_norm is False
    linear = arch.block_configs[0].attention
    assert linear is not None
    assert linear.linear_attention is not None
    gdn = linear.linear_attention
    assert (gdn.kind, gdn.num_key_heads, gdn.key_head_dim) == ("gdn", 30, 96)
    assert (gdn.num_value_heads, gdn.value_head_dim, gdn.conv_kernel) == (30, 192, 4)
    assert gdn.fused_projections is False
    full = arch.block_configs[3].attention
    assert full is not None
    assert (full.num_key_value_heads, full.output_gate) == (30, None)


def test_layer_params_as_the_modelling_code_shapes_them() -> None:
    stats = model_stats(ModelArchitecture.load(FIXTURE))
    h, ffn = 3840, 11008
    k, v, heads = 30 * 96, 30 * 192, 30
    # q, k, v, g, a, b and o projections, the depthwise conv over q, k and v (kernel 4, no
    # bias), A_log and dt_bias per value head, the gated norm of one value head, and the
    # layer's input norm (the one before the MLP belongs to the FFN).
    gdn = h * (2 * k + 2 * v + 2 * heads) + v * h + (2 * k + v) * 4 + 2 * heads + 192 + h
    assert stats.layers[0].attention.params == gdn
    # OLMo-3 attention: four projections of 30 x 128, norms over all query and key heads.
    gqa = 4 * h * h + 2 * h + h
    assert stats.layers[3].attention.params == gqa
    assert stats.layers[0].ffn.params == stats.layers[3].ffn.params == 3 * h * ffn + h
    assert stats.total_params == 7_430_870_688


def test_defaults_follow_the_configuration_class() -> None:
    config = {"model_type": "olmo_hybrid", "architectures": ["OlmoHybridForCausalLM"]}
    arch = ModelArchitecture.from_mapping(config)
    assert arch.block_configs == ModelArchitecture.load(FIXTURE).block_configs
    assert (arch.hidden_size, arch.num_attention_heads, arch.vocab_size) == (3840, 30, 100352)
    assert arch.tie_word_embeddings is False


def test_linear_widths_default_from_the_hidden_size_and_heads() -> None:
    config = _config(
        linear_key_head_dim=None,
        linear_value_head_dim=None,
        linear_num_key_heads=15,
        linear_num_value_heads=None,
    )
    gdn = ModelArchitecture.from_mapping(config).block_configs[0].attention
    assert gdn is not None
    assert gdn.linear_attention is not None
    # int(0.75 * 3840 / 15) = 192, the value width twice that; value heads the model's 30.
    assert gdn.linear_attention.key_head_dim == 192
    assert gdn.linear_attention.value_head_dim == 384
    assert gdn.linear_attention.num_value_heads == 30
    odd = _config(
        hidden_size=1120,
        num_attention_heads=14,
        num_key_value_heads=14,
        linear_num_key_heads=9,
        linear_num_value_heads=18,
        linear_key_head_dim=None,
        linear_value_head_dim=None,
    )
    gdn = ModelArchitecture.from_mapping(odd).block_configs[0].attention
    assert gdn is not None
    assert gdn.linear_attention is not None
    assert gdn.linear_attention.key_head_dim == int(0.75 * 1120 / 9) == 93


def test_layer_types_default_to_three_linear_then_one_full() -> None:
    arch = ModelArchitecture.from_mapping(_config(layer_types=None, num_hidden_layers=6))
    assert _kinds(arch) == [LINEAR, LINEAR, LINEAR, FULL, LINEAR, LINEAR]
    # Too few layers for a fourth: the class makes the last one full attention.
    arch = ModelArchitecture.from_mapping(_config(layer_types=None, num_hidden_layers=3))
    assert _kinds(arch) == [LINEAR, LINEAR, FULL]


def test_layer_types_are_checked() -> None:
    types = [LINEAR, FULL, "sliding_attention", 3, [FULL]]
    assert _errors(_config(num_hidden_layers=5, layer_types=types)) == [
        "$.layer_types[2]: expected one of linear_attention, full_attention, got str "
        "'sliding_attention'",
        "$.layer_types[3]: expected one of linear_attention, full_attention, got int 3",
        "$.layer_types[4]: expected one of linear_attention, full_attention, got list",
    ]
    assert _errors(_config(num_hidden_layers=4, layer_types=[LINEAR, FULL])) == [
        "$.layer_types: has 2 items but num_hidden_layers is 4"
    ]
    assert _errors(_config(layer_types="full_attention")) == [
        "$.layer_types: expected a list of str, got str 'full_attention'"
    ]


@pytest.mark.parametrize(
    ("kinds", "missing"),
    [([FULL, FULL], "linear-attention"), ([LINEAR, LINEAR], "full-attention")],
)
def test_a_model_needs_both_kinds_of_layer(kinds: list[str], missing: str) -> None:
    kind = LINEAR if missing == "linear-attention" else FULL
    assert _errors(_config(num_hidden_layers=2, layer_types=kinds)) == [
        f"$.layer_types: Olmo-Hybrid needs at least one {missing} layer ({kind!r}), found none"
    ]


def test_attention_bias_and_head_dim_are_read() -> None:
    plain = model_stats(ModelArchitecture.load(FIXTURE))
    biased = model_stats(ModelArchitecture.from_mapping(_config(attention_bias=True)))
    h = 3840
    assert biased.layers[3].attention.params - plain.layers[3].attention.params == 4 * h
    # The Gated DeltaNet has no biases whatever attention_bias says.
    assert biased.layers[0].attention.params == plain.layers[0].attention.params
    narrow = ModelArchitecture.from_mapping(_config(head_dim=64, num_key_value_heads=10))
    full = narrow.block_configs[3].attention
    assert full is not None
    assert (narrow.head_dim, full.num_key_value_heads) == (64, 10)
    stats = model_stats(narrow)
    q, kv = 30 * 64, 10 * 64
    assert stats.layers[3].attention.params == 2 * h * q + 2 * h * kv + q + kv + h


def test_bad_values_are_refused_at_their_keys() -> None:
    assert _errors(_config(linear_num_key_heads="30", linear_conv_kernel_dim=3.5)) == [
        "$.linear_num_key_heads: expected int, got str '30'",
        "$.linear_conv_kernel_dim: expected int, got float 3.5",
    ]
    assert _errors(_config(num_key_value_heads=7)) == [
        "$.num_key_value_heads: 7 does not divide num_attention_heads (30)"
    ]


def test_per_layer_widths_are_read_and_written_back() -> None:
    overrides = {
        "0": {"linear_num_value_heads": 60, "linear_value_head_dim": 128},
        "3": {"num_key_value_heads": 10},
        "5": {"intermediate_size": 4096},
    }
    arch = ModelArchitecture.from_mapping(_config(per_layer_config=overrides))
    assert arch.dialect == "per-layer"
    first = arch.block_configs[0].attention
    assert first is not None
    assert first.linear_attention is not None
    assert (first.linear_attention.num_value_heads, first.linear_attention.value_head_dim) == (
        60,
        128,
    )
    stats = model_stats(arch)
    plain = model_stats(ModelArchitecture.load(FIXTURE))
    assert stats.kv_cache_bytes_per_token == plain.kv_cache_bytes_per_token - 2 * 20 * 128 * 2
    out = arch.to_mapping("per-layer")
    assert out["layer_types"] == [LINEAR, LINEAR, LINEAR, FULL] * 8
    assert out["per_layer_config"] == overrides
    assert ModelArchitecture.from_mapping(out).block_configs == arch.block_configs


def test_per_layer_skips_are_refused() -> None:
    errors = _errors(_config(per_layer_config={"1": {"skip": ["mlp"]}}))
    assert len(errors) == 1
    assert errors[0].startswith("$.per_layer_config.1.skip[0]: olmo_hybrid layers have no subblock")


def test_a_written_model_reads_back_the_same() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    blocks = list(arch.block_configs)
    first = blocks[0].attention
    assert first is not None
    assert first.linear_attention is not None
    wider = attrs.evolve(first.linear_attention, num_key_heads=15)
    blocks[0] = attrs.evolve(blocks[0], attention=attrs.evolve(first, linear_attention=wider))
    child = arch.with_block_configs(blocks)
    out = child.to_mapping("per-layer")
    assert out["per_layer_config"] == {"0": {"linear_num_key_heads": 15}}
    assert ModelArchitecture.from_mapping(out).block_configs == child.block_configs


#: Totals transformers 5.25.0 counts on the meta device (``hf_meta_params.py``) for configs
#: that leave the 7B fixture's values to OlmoHybridConfig's defaults or change them.
VARIANTS: list[tuple[dict[str, Any], int]] = [
    ({"model_type": "olmo_hybrid", "architectures": ["OlmoHybridForCausalLM"]}, 7_430_870_688),
    (_config(head_dim=64, num_key_value_heads=10, attention_bias=True), 7_116_313_248),
    (_config(num_hidden_layers=3, layer_types=None), 1_387_657_464),
    (
        _config(
            hidden_size=1120,
            num_attention_heads=14,
            num_key_value_heads=14,
            linear_num_key_heads=9,
            linear_num_value_heads=18,
            linear_key_head_dim=None,
            linear_value_head_dim=None,
            num_hidden_layers=6,
            layer_types=None,
        ),
        517_668_110,
    ),
]


@pytest.mark.parametrize(("config", "total"), VARIANTS)
def test_totals_equal_transformers_count(config: dict[str, Any], total: int) -> None:
    assert model_stats(ModelArchitecture.from_mapping(config)).total_params == total


def test_a_config_read_as_olmo_hybrid_needs_its_linear_widths() -> None:
    llama = json.loads((FAMILIES / "Llama-3.1-8B.config.json").read_text())
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(llama, family="olmo_hybrid")
    assert [str(problem) for problem in info.value.problems] == [
        "$.linear_num_key_heads: missing required key",
        "$.linear_key_head_dim: missing required key",
        "$.linear_num_value_heads: missing required key",
        "$.linear_value_head_dim: missing required key",
    ]
    renamed = {**json.loads(FIXTURE.read_text()), "model_type": "olmo3"}
    arch = ModelArchitecture.from_mapping(renamed, family="olmo_hybrid")
    assert arch.block_configs == ModelArchitecture.load(FIXTURE).block_configs
