"""The Mistral-Large-4 reader (``mistral_large4_text``, and the ``mistral_large4`` wrapper):
what transformers 5.25's MistralLarge4TextConfig and its modelling code build, layer by layer
and tensor by tensor, the KV cache each layer keeps, and what the reader refuses at its key.

The totals of the small variants below were counted with transformers 5.25.0 on the meta
device (``MistralLarge4TextModel`` plus ``lm_head``, as for the fixture; see
tests/data/families/SOURCES.md); their KV bytes per token follow the cache transformers
fills (a forward pass of the ``sharing`` variant held 40, 0, 40, 16, 0, 40, 16, 0 values per
token in its eight layers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    MLAConfig,
    ModelArchitecture,
    model_stats,
    readers,
)
from block_config._cli import EXIT_OK, main

FAMILIES = Path(__file__).parent / "data" / "families"
FIXTURE = FAMILIES / "Mistral-Large-4-1T-A52B.config.json"
EXPECTED: dict[str, Any] = json.loads((FAMILIES / "EXPECTED.json").read_text())[FIXTURE.name]
LAYERS = 72


def _fixture(**keys: Any) -> dict[str, Any]:
    """The fixture's text part as a config of its own, with ``keys`` changed."""
    config: dict[str, Any] = json.loads(FIXTURE.read_text())["text_config"]
    config.update(keys)
    return config


def _errors(config: dict[str, Any], **options: Any) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config, **options)
    return [str(problem) for problem in info.value.problems]


def _mla(arch: ModelArchitecture, index: int) -> MLAConfig:
    attention = arch.block_configs[index].attention
    assert attention is not None
    assert attention.mla is not None
    return attention.mla


# A small config of the family: its keys as transformers' MistralLarge4TextConfig reads them.
SMALL = {
    "model_type": "mistral_large4_text",
    "vocab_size": 100,
    "hidden_size": 64,
    "intermediate_size": 96,
    "moe_intermediate_size": 32,
    "num_hidden_layers": 8,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "kv_lora_rank": 16,
    "qk_rope_head_dim": 8,
    "qk_nope_head_dim": 8,
    "v_head_dim": 8,
    "index_n_heads": 2,
    "index_head_dim": 16,
}
FULL, SHARED = "full", "shared"
#: Variants of SMALL, transformers 5.25's parameter count, and the KV values per token of each
#: layer (bf16: 2 bytes each).
VARIANTS: dict[str, tuple[dict[str, Any], int, list[int]]] = {
    "defaults": ({}, 345_892, [40, 40, 40, 32] * 2),
    "attention_bias and mlp_layer_types": (
        {
            "attention_bias": True,
            "mlp_layer_types": ["dense", "sparse", "dense"] + ["sparse"] * 4 + ["dense"],
        },
        321_492,
        [40, 40, 40, 32] * 2,
    ),
    "num_local_experts and first_k_dense_replace": (
        {"num_local_experts": 6, "n_shared_experts": 2, "first_k_dense_replace": 3},
        413_604,
        [40, 40, 40, 32] * 2,
    ),
    "num_experts without shared experts": (
        {"num_experts": 5, "n_shared_experts": 0},
        346_340,
        [40, 40, 40, 32] * 2,
    ),
    "sharing": (
        {
            "kv_source_layers": [0, 0, 2, 3, 2, 5, 5, 3],
            "no_rope_layers": [1, 1, 1, 0, 1, 1, 1, 0],
            "indexer_types": [FULL, SHARED, FULL, SHARED, SHARED, FULL, FULL, SHARED],
        },
        326_740,
        [40, 0, 40, 16, 0, 40, 16, 0],
    ),
    "sharing with attention_bias": (
        {
            "attention_bias": True,
            "kv_source_layers": [0, 0, 0, 3, 4, 4, 6, 3],
            "indexer_types": [FULL, FULL, SHARED, FULL, SHARED, FULL, SHARED, FULL],
        },
        330_704,
        [40, 16, 0, 32, 24, 16, 24, 16],
    ),
    "interval, schedule and tied embeddings": (
        {
            "no_rope_layer_interval": 2,
            "index_topk_freq": 3,
            "index_skip_topk_offset": 1,
            "tie_word_embeddings": True,
        },
        322_672,
        [40, 16, 24, 32, 24, 16, 40, 16],
    ),
    "no_rope_layers longer than the layers, a pattern": (
        {"no_rope_layers": [0, 1, 0, 1, 0, 1, 0, 1, 1, 1], "index_topk_pattern": "FSFSFFFS"},
        335_800,
        [32, 24, 32, 24, 32, 40, 32, 24],
    ),
}


def test_the_family_and_its_wrapper_are_registered() -> None:
    assert {"mistral_large4_text", "mistral_large4"} <= set(readers.supported_model_types())


def test_the_fixture_gives_transformers_figures() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    assert arch.model_type == "mistral_large4"
    stats = model_stats(arch, kv_cache_dtype="bf16")
    # The text model: the vision tower is not counted.
    assert stats.total_params == EXPECTED["text_params"] == 1_050_118_202_912
    assert stats.active_params == EXPECTED["active_params"]
    assert stats.kv_cache_bytes(1, 32_768) == EXPECTED["kv_bytes_32k_bf16"]


def test_every_layer_is_mla_without_query_latent_with_an_indexer_from_the_hidden_state() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    for index in range(LAYERS):
        mla = _mla(arch, index)
        assert mla.q_lora_rank is None
        assert (mla.index_n_heads, mla.index_head_dim, mla.index_from_hidden) == (32, 128, True)
        assert mla.kv_lora_rank == 512
        assert mla.v_head_dim == 128
        attention = arch.block_configs[index].attention
        assert attention is not None
        assert attention.kv_source_layer is None
    assert arch.log_position_scaling is True
    assert arch.router_fp32 is True
    assert arch.learned_rope_frequencies == 32  # qk_rope_head_dim / 2


def test_every_fourth_layer_is_nope_with_the_rotary_slice_folded_into_the_nope_part() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    nope = [index for index in range(LAYERS) if _mla(arch, index).qk_rope_head_dim == 0]
    assert nope == list(range(3, LAYERS, 4))
    assert (_mla(arch, 3).qk_nope_head_dim, _mla(arch, 0).qk_nope_head_dim) == (128, 64)
    assert _mla(arch, 0).qk_rope_head_dim == 64
    layers = model_stats(arch, kv_cache_dtype="bf16").layers
    # RoPE: latent 512, rotary key 64, indexer keys 128; NoPE: no rotary key.
    assert (layers[0].kv_cache_bytes_per_token, layers[3].kv_cache_bytes_per_token) == (
        (512 + 64 + 128) * 2,
        (512 + 128) * 2,
    )


def test_the_first_layer_is_dense_and_the_others_experts_with_a_shared_one() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    first, second = arch.block_configs[0].ffn, arch.block_configs[1].ffn
    assert first is not None
    assert second is not None
    assert first.intermediate_size == 24576
    assert second.moe is not None
    assert (second.moe.num_local_experts, second.moe.num_experts_per_tok) == (128, 4)
    assert second.moe.shared_expert_intermediate_dim == 6144
    assert all(block.ffn is not None and block.ffn.is_moe for block in arch.block_configs[1:])


def test_the_routers_and_lerope_scales_are_kept_in_fp32() -> None:
    arch = ModelArchitecture.load(FIXTURE)
    stats = model_stats(arch)
    router = 71 * 128 * 6144  # parameters, counted by transformers as mlp.gate.weight
    # Everything at 2 bytes (bf16), the routers and the 32 LeRoPE scales at 4.
    assert stats.weight_bytes == 2 * stats.total_params + 2 * (router + 32)
    plain = ModelArchitecture.from_mapping(_fixture(mlp_layer_types=["dense"] * LAYERS))
    assert plain.router_fp32 is False


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_small_variants_give_transformers_counts_and_cache(name: str) -> None:
    changes, total, values = VARIANTS[name]
    arch = ModelArchitecture.from_mapping({**SMALL, **changes})
    stats = model_stats(arch, kv_cache_dtype="bf16")
    assert stats.total_params == total
    assert [layer.kv_cache_bytes_per_token for layer in stats.layers] == [2 * v for v in values]


def test_a_layer_reading_another_layers_latent_has_no_latent_projection_of_its_own() -> None:
    changes, _, _ = VARIANTS["sharing"]
    arch = ModelArchitecture.from_mapping({**SMALL, **changes})
    sources = [
        None if block.attention is None else block.attention.kv_source_layer
        for block in arch.block_configs
    ]
    assert sources == [None, 0, None, None, 2, None, 5, 3]
    own = model_stats(ModelArchitecture.from_mapping(SMALL)).layers
    shared = model_stats(arch).layers
    # Layer 1 (RoPE, no indexer of its own): kv_a_proj_with_mqa (64 x (16 + 8)) and
    # kv_a_layernorm (16) are gone, and with them the indexer (2*16*64 + 16*64 + 2*16 + 2*64
    # + the q_input_norm 2*64 + 2*2 log-position scales).
    indexer = 2 * 16 * 64 + 16 * 64 + 2 * 16 + 2 * 64 + 2 * 64 + 2 * 2
    assert own[1].attention.params - shared[1].attention.params == 64 * 24 + 16 + indexer
    # Layer 6 keeps its indexer: only the latent projection and norm are gone.
    assert own[6].attention.params - shared[6].attention.params == 64 * 24 + 16
    assert shared[6].attention.kv_source_layer == 5


def test_the_fixture_with_kv_sharing_and_shared_indexers_gives_transformers_figures() -> None:
    sources = [index - index % 4 if index % 4 in (1, 2) else index for index in range(LAYERS)]
    config = _fixture(kv_source_layers=sources, index_topk_pattern="FFSS" * 18)
    del config["index_topk_freq"], config["index_skip_topk_offset"]
    stats = model_stats(ModelArchitecture.from_mapping(config), kv_cache_dtype="bf16")
    assert stats.total_params == 1_049_048_969_504  # transformers 5.25, meta device
    # Per four layers: store (latent, rotary key, indexer keys), reuse_but_indexer (indexer
    # keys), reuse (nothing), a NoPE layer of its own with a shared indexer (latent only).
    per_token = (512 + 64 + 128) + 128 + 0 + 512
    assert stats.kv_cache_bytes(1, 32_768) == 18 * per_token * 2 * 32_768 == 1_585_446_912


def test_the_text_config_reads_as_a_config_of_its_own() -> None:
    own = ModelArchitecture.from_mapping(_fixture())
    assert own.model_type == "mistral_large4_text"
    arch = ModelArchitecture.load(FIXTURE)
    assert own.block_configs == arch.block_configs
    assert model_stats(own).total_params == EXPECTED["text_params"]
    inner = _fixture()
    wrapper = {"model_type": "mistral_large4", "text_config": inner}
    del inner["model_type"]  # the wrapper names its text part's type
    assert ModelArchitecture.from_mapping(wrapper).block_configs == own.block_configs
    inner["kv_source_layers"] = [0, 2, *range(2, LAYERS)]
    assert _errors(wrapper) == [
        "$.text_config.kv_source_layers[1]: layer 1 must read the K/V of an earlier layer "
        "that owns its cache (is its own source), got 2"
    ]


def test_the_class_defaults_fill_in_a_config_of_the_family() -> None:
    sparse = {"model_type": "mistral_large4_text"}
    arch = ModelArchitecture.from_mapping(sparse)
    assert model_stats(arch).total_params == EXPECTED["text_params"]
    # An empty text_config is the text model's defaults too (its type named by the wrapper).
    wrapper = ModelArchitecture.from_mapping({"model_type": "mistral_large4", "text_config": {}})
    assert wrapper.block_configs == arch.block_configs


def test_num_experts_then_num_local_experts_win_over_n_routed_experts() -> None:
    def experts(**keys: Any) -> int:
        ffn = ModelArchitecture.from_mapping(_fixture(**keys)).block_configs[1].ffn
        assert ffn is not None
        assert ffn.moe is not None
        return ffn.moe.num_local_experts

    assert experts(num_local_experts=16) == 16
    assert experts(num_local_experts=16, num_experts=32) == 32
    assert experts(num_experts=None) == 128


def test_a_config_of_another_family_must_state_every_size() -> None:
    llama = json.loads((FAMILIES / "Llama-3.1-8B.config.json").read_text())
    assert _errors(llama, family="mistral_large4_text") == [
        "$.qk_rope_head_dim: missing required key",
        "$.qk_nope_head_dim: missing required key",
        "$.index_n_heads: missing required key",
        "$.index_head_dim: missing required key",
        "$.kv_lora_rank: missing required key",
        "$.v_head_dim: missing required key",
        "$.n_routed_experts: missing required key",
        "$.num_experts_per_tok: missing required key",
        "$.moe_intermediate_size: missing required key",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"kv_source_layers": [0] * 71},
            "$.kv_source_layers: has 71 items but num_hidden_layers is 72",
        ),
        (
            {"kv_source_layers": [0, 0, 1, *range(3, LAYERS)]},
            "$.kv_source_layers[2]: layer 2 must read the K/V of an earlier layer that owns "
            "its cache (is its own source), got 1",
        ),
        (
            {"kv_source_layers": [-1, *range(1, LAYERS)]},
            "$.kv_source_layers[0]: layer 0 must read the K/V of an earlier layer that owns "
            "its cache (is its own source), got -1",
        ),
        (
            {"kv_source_layers": [0, "0", *range(2, LAYERS)]},
            "$.kv_source_layers[1]: expected int, got str '0'",
        ),
        (
            {"kv_source_layers": [0, 1, 2, 0, *range(4, LAYERS)]},
            "$.kv_source_layers[3]: not supported: NoPE layer 3 reading the latent of RoPE "
            "layer 0; transformers hands latents on by RoPE kind",
        ),
        (
            {"kv_source_layers": [0, 1, 1, 3, 4, 0, *range(6, LAYERS)]},
            "$.kv_source_layers[5]: not supported: layer 1 stores its latent after layer 0, "
            "so transformers' layer 5 would read layer 1's, not layer 0's",
        ),
        (
            {"no_rope_layers": [1, 2, *[1] * 70]},
            "$.no_rope_layers[1]: expected 0 (NoPE) or 1 (RoPE), got 2",
        ),
        (
            {"no_rope_layers": [1, True, *[1] * 70]},
            "$.no_rope_layers[1]: expected int, got bool True",
        ),
        (
            {"no_rope_layers": [1] * 71},
            "$.no_rope_layers: has 71 items but num_hidden_layers is 72",
        ),
        (
            {"no_rope_layer_interval": 0},
            "$.no_rope_layer_interval: expected int from 1 to 9223372036854775807, got 0",
        ),
        (
            {"mlp_layer_types": [*["sparse"] * 71, "moe"]},
            "$.mlp_layer_types[71]: expected dense or sparse, got str 'moe'",
        ),
        (
            {"indexer_types": [*["full"] * 71, "none"]},
            "$.indexer_types[71]: expected full or shared, got str 'none'",
        ),
        (
            {"layer_types": [*["indexed_attention"] * 71, "full_attention"]},
            "$.layer_types[71]: expected one of indexed_attention, got str 'full_attention'",
        ),
        (
            {"rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5}},
            "$.rope_parameters.partial_rotary_factor: not supported: float 0.5 (LeRoPE's "
            "scales are counted for the whole rotary slice)",
        ),
        (
            {"qk_rope_head_dim": 0},
            "$.qk_rope_head_dim: expected int from 1 to 9223372036854775807, got 0",
        ),
    ],
)
def test_what_transformers_refuses_or_the_reader_does_not_model_is_an_error_at_its_key(
    changes: dict[str, Any], message: str
) -> None:
    assert _errors(_fixture(**changes)) == [message]


def test_per_layer_overrides_are_refused_as_transformers_builds_none() -> None:
    config = _fixture(per_layer_config={"0": {"intermediate_size": 8}})
    assert _errors(config) == [
        "$.per_layer_config.0.intermediate_size: mistral_large4_text layers are not read with "
        "their own intermediate_size: block-config reads no per-layer value it does not model "
        "(mistral_large4_text layers have no per-layer attributes: transformers 5.25's "
        "MistralLarge4TextModel builds no layer with its own values: it reads them from the "
        "global config, which raises AmbiguousGlobalPerLayerAttributeError on any override)"
    ]


def test_a_deepseek_v32_config_read_as_the_family_is_told_what_would_change() -> None:
    deepseek = json.loads((FAMILIES / "DeepSeek-V3.2-Exp.config.json").read_text())
    errors = _errors(deepseek, family="mistral_large4_text")
    # Its query latent is not read (Mistral-Large-4 has none) and its layers would become
    # NoPE every fourth layer by this family's default.
    assert [error.split(":")[0] for error in errors] == [
        "$.index_skip_topk_offset",
        "$.index_topk_freq",
        "$.no_rope_layer_interval",
        "$.num_nextn_predict_layers",
        "$.q_lora_rank",
    ]
    assert "whose reader does not look at this key" in errors[-1]


# ------------------------------------------------------------------------- the block model

_LATENT = {"kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8}


def _blocks(*attentions: dict[str, Any]) -> list[BlockConfig]:
    return [
        BlockConfig(attention=attention, ffn={"intermediate_size": 32}) for attention in attentions
    ]


def _model(*attentions: dict[str, Any]) -> ModelArchitecture:
    return ModelArchitecture(
        hidden_size=64, num_attention_heads=4, vocab_size=100, block_configs=_blocks(*attentions)
    )


def test_an_mla_attention_reads_an_mla_latent_of_its_own_widths() -> None:
    reader = {"mla": _LATENT, "kv_source_layer": 0}
    assert _model({"mla": _LATENT}, reader).block_configs[1].attention == AttentionConfig(
        mla=_LATENT, kv_source_layer=0
    )
    with pytest.raises(BlockConfigError) as info:
        _model({"num_key_value_heads": 2}, reader)
    assert [str(problem) for problem in info.value.problems] == [
        "$.block_configs[1].attention.kv_source_layer: names layer 0: an MLA attention cannot "
        "read a GQA attention's K/V"
    ]
    with pytest.raises(BlockConfigError) as info:
        _model({"mla": {**_LATENT, "qk_rope_head_dim": 0}}, reader)
    assert [str(problem) for problem in info.value.problems] == [
        "$.block_configs[1].attention.kv_source_layer: names layer 0: its latent has "
        "qk_rope_head_dim 0, this layer's 8"
    ]
    with pytest.raises(BlockConfigError) as info:
        _model({"mla": _LATENT}, {"num_key_value_heads": 2, "kv_source_layer": 0})
    assert [str(problem) for problem in info.value.problems] == [
        "$.block_configs[1].attention.kv_source_layer: names layer 0: a GQA attention cannot "
        "read an MLA attention's latent"
    ]


def test_a_compressed_attention_is_no_kv_source() -> None:
    compressed = {
        "num_key_value_heads": 1,
        "compressed_attention": {"q_lora_rank": 8, "o_groups": 2, "o_lora_rank": 8},
    }
    with pytest.raises(BlockConfigError) as info:
        _model(compressed, {"num_key_value_heads": 1, "kv_source_layer": 0})
    assert [str(problem) for problem in info.value.problems] == [
        "$.block_configs[1].attention.kv_source_layer: names layer 0: a compressed attention's "
        "K/V is read by no other layer"
    ]


def test_an_indexer_from_the_hidden_state_needs_no_query_latent_but_an_indexer() -> None:
    indexer = {"index_n_heads": 2, "index_head_dim": 16}
    mla = MLAConfig(**_LATENT, **indexer, index_from_hidden=True)
    assert mla.to_dict() == {**_LATENT, "q_lora_rank": None, **indexer, "index_from_hidden": True}
    assert MLAConfig.from_dict(mla.to_dict()) == mla
    assert "index_from_hidden" not in MLAConfig(**_LATENT, index_from_hidden=False).to_dict()
    with pytest.raises(BlockConfigError) as info:
        MLAConfig.from_dict({**_LATENT, "index_from_hidden": True})
    assert [str(problem) for problem in info.value.problems] == [
        "$.index_from_hidden: must be null without an indexer (index_n_heads)"
    ]
    with pytest.raises(BlockConfigError) as info:
        MLAConfig.from_dict({**_LATENT, **indexer, "index_from_hidden": "yes"})
    assert info.value.problems[0].path == ("index_from_hidden",)


def test_the_model_wide_facts_are_written_and_read_back_by_the_native_dialect() -> None:
    arch = ModelArchitecture.from_mapping(_fixture())
    native = arch.to_mapping("native")
    # Under the wrapper they are written into its text_config.
    wrapped = ModelArchitecture.load(FIXTURE).to_mapping("native")
    assert wrapped["text_config"]["learned_rope_frequencies"] == 32
    assert ModelArchitecture.from_mapping(wrapped).learned_rope_frequencies == 32
    assert native["log_position_scaling"] is True
    assert native["router_fp32"] is True
    assert native["learned_rope_frequencies"] == 32
    back = ModelArchitecture.from_mapping(native)
    assert back.block_configs == arch.block_configs
    assert (back.log_position_scaling, back.router_fp32, back.learned_rope_frequencies) == (
        True,
        True,
        32,
    )
    assert model_stats(back) == model_stats(arch)
    plain = ModelArchitecture.from_mapping(
        {
            "hidden_size": 64,
            "num_attention_heads": 4,
            "vocab_size": 100,
            "block_configs": [
                {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 8}}
            ],
        }
    ).to_mapping("native")
    assert not {"log_position_scaling", "router_fp32", "learned_rope_frequencies"} & set(plain)
    bad = {**native, "learned_rope_frequencies": 1.5}
    assert _errors(bad) == ["$.learned_rope_frequencies: expected int, got float 1.5"]


def test_the_legacy_dialect_refuses_the_family() -> None:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.load(FIXTURE).to_mapping("legacy")
    assert info.value.problems[0].path == ("block_configs", 0, "attention", "mla")


def test_show_json_states_the_model_wide_facts_and_the_shared_layers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    changes, _, _ = VARIANTS["sharing"]
    path = Path(__file__).parent / "data" / "families" / FIXTURE.name
    assert main(["show", "--json", str(path)]) == EXIT_OK
    shown = json.loads(capsys.readouterr().out)
    assert (shown["log_position_scaling"], shown["router_fp32"]) == (True, True)
    assert shown["learned_rope_frequencies"] == 32
    arch = ModelArchitecture.from_mapping({**SMALL, **changes})
    stats = model_stats(arch).to_dict()
    assert [layer["attention"]["kv_source_layer"] for layer in stats["layers"]] == [
        None, 0, None, None, 2, None, 5, 3,
    ]  # fmt: skip
