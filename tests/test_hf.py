"""Homogeneous Hugging Face configs become per-layer block lists, one family at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import BlockConfig, BlockConfigError, ModelArchitecture
from block_config.readers import ReadOptions, reader_for

HF = Path(__file__).parent / "data" / "hf"


def _config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HF / f"{name}.config.json").read_text())
    return data


def _load(name: str) -> ModelArchitecture:
    return ModelArchitecture.load(HF / f"{name}.config.json")


def _dense(kv: int, size: int) -> BlockConfig:
    return BlockConfig(attention={"num_key_value_heads": kv}, ffn={"intermediate_size": size})


def _moe(kv: int, experts: int, per_tok: int, size: int, shared: int) -> BlockConfig:
    return BlockConfig(
        attention={"num_key_value_heads": kv},
        ffn={
            "moe": {
                "num_local_experts": experts,
                "num_experts_per_tok": per_tok,
                "expert_intermediate_dim": size,
                "shared_expert_intermediate_dim": shared,
            }
        },
    )


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


# --------------------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("name", "layers", "block", "head_dim"),
    [
        ("llama", 4, _dense(2, 688), 32),
        ("qwen2", 3, _dense(1, 1184), 32),
        ("qwen3", 2, _dense(2, 768), 128),
        # No num_key_value_heads: every head has its own KV head; Mistral's sliding window.
        (
            "mistral",
            3,
            BlockConfig(
                attention={"num_key_value_heads": 8, "sliding_window": 4096},
                ffn={"intermediate_size": 1792},
            ),
            64,
        ),
    ],
)
def test_dense_families(name: str, layers: int, block: BlockConfig, head_dim: int) -> None:
    arch = _load(name)
    assert arch.dialect == "homogeneous"
    assert arch.block_configs == (block,) * layers
    assert arch.head_dim == head_dim
    assert arch.tie_word_embeddings is _config(name)["tie_word_embeddings"]


def test_mixtral_experts_are_as_wide_as_intermediate_size_with_no_shared_expert() -> None:
    assert _load("mixtral").block_configs == (_moe(2, 8, 2, 896, 0),) * 3


def test_qwen2_moe_follows_the_sparse_step_and_mlp_only_layers() -> None:
    blocks = _load("qwen2_moe").block_configs
    sparse, dense = _moe(4, 6, 2, 176, 704), _dense(4, 704)
    # decoder_sparse_step 2: layers 1, 3, 5 are sparse, but layer 3 is in mlp_only_layers.
    assert blocks == (dense, sparse, dense, dense, dense, sparse)


def test_qwen3_moe_has_no_shared_expert() -> None:
    blocks = _load("qwen3_moe").block_configs
    assert blocks == (_moe(2, 16, 4, 96, 0),) * 3
    assert blocks[0].ffn is not None
    assert blocks[0].ffn.moe is not None
    assert blocks[0].ffn.moe.shared_expert_intermediate_dim == 0


def test_nemotron_h_layers_follow_the_pattern() -> None:
    arch = _load("nemotron_h")
    mamba = BlockConfig(
        attention={"mamba": {"state_dim": 64, "num_heads": 16, "head_dim": 32, "num_groups": 2}},
        ffn={"no_op": True},
    )
    # relu2: the MLP and the experts are ungated (two matrices).
    mlp = BlockConfig(attention={"no_op": True}, ffn={"intermediate_size": 768, "gated": False})
    attention = BlockConfig(attention={"num_key_value_heads": 2}, ffn={"no_op": True})
    moe = BlockConfig(
        attention={"no_op": True},
        ffn={
            "moe": {
                "num_local_experts": 8,
                "num_experts_per_tok": 2,
                "expert_intermediate_dim": 128,
                "shared_expert_intermediate_dim": 256,
                "gated": False,
            }
        },
    )
    # "M-M*EM-E"
    assert arch.block_configs == (mamba, mlp, mamba, attention, moe, mamba, mlp, moe)
    assert (arch.head_dim, arch.mamba_conv_kernel) == (64, 4)


def test_nemotron_h_layers_block_type_is_read_too() -> None:
    config = _config("nemotron_h")
    del config["hybrid_override_pattern"]
    config["layers_block_type"] = [
        "mamba",
        "mlp",
        "mamba",
        "attention",
        "moe",
        "mamba",
        "mlp",
        "moe",
    ]
    assert ModelArchitecture.from_mapping(config).block_configs == _load("nemotron_h").block_configs


def test_nemotron_h_has_one_shared_expert_whatever_n_shared_experts_says() -> None:
    # transformers' NemotronHMOE builds one shared expert of
    # moe_shared_expert_intermediate_size; n_shared_experts does not scale it.
    for count in (0, 1, 2):
        config = {**_config("nemotron_h"), "n_shared_experts": count}
        moe = ModelArchitecture.from_mapping(config).block_configs[4].ffn
        assert moe is not None
        assert moe.moe is not None
        assert moe.moe.shared_expert_intermediate_dim == 256
    config = _config("nemotron_h")
    del config["moe_shared_expert_intermediate_size"]
    assert _errors(config) == ["$.moe_shared_expert_intermediate_size: missing required key"]


def test_layers_share_one_object_per_shape() -> None:
    blocks = _load("llama").block_configs
    assert all(block is blocks[0] for block in blocks)


# --------------------------------------------------------------------------- problems


def test_kv_heads_must_divide_the_heads() -> None:
    config = {**_config("llama"), "num_key_value_heads": 3}
    assert _errors(config) == ["$.num_key_value_heads: 3 does not divide num_attention_heads (8)"]


def test_family_keys_are_strict_and_reported_at_their_keys() -> None:
    config = {**_config("llama"), "intermediate_size": 688.0, "num_key_value_heads": "2"}
    assert _errors(config) == [
        "$.num_key_value_heads: expected int, got str '2'",
        "$.intermediate_size: expected int, got float 688.0",
    ]
    config = _config("llama")
    del config["intermediate_size"]
    del config["num_hidden_layers"]
    assert _errors(config) == ["$.num_hidden_layers: missing required key"]
    config = _config("llama")
    del config["intermediate_size"]
    assert _errors(config) == ["$.intermediate_size: missing required key"]


def test_moe_problems() -> None:
    assert _errors({**_config("mixtral"), "num_experts_per_tok": 9}) == [
        "$.num_experts_per_tok: must not exceed num_local_experts (8), got 9"
    ]
    qwen2 = _config("qwen2_moe")
    del qwen2["shared_expert_intermediate_size"]
    assert _errors(qwen2) == ["$.shared_expert_intermediate_size: missing required key"]
    assert _errors({**_config("qwen2_moe"), "mlp_only_layers": [1, 6]}) == [
        "$.mlp_only_layers[1]: layer 6 does not exist (num_hidden_layers is 6)"
    ]
    assert _errors({**_config("qwen2_moe"), "mlp_only_layers": [True]}) == [
        "$.mlp_only_layers[0]: expected int, got bool True"
    ]


def test_qwen_moe_with_every_layer_sparse_needs_no_dense_width() -> None:
    config = _config("qwen3_moe")
    del config["intermediate_size"]
    assert len(ModelArchitecture.from_mapping(config).block_configs) == 3


def test_nemotron_h_problems() -> None:
    assert _errors({**_config("nemotron_h"), "hybrid_override_pattern": "M-X*EM-E"}) == [
        "$.hybrid_override_pattern: unknown layer kind 'X' at position 2 (expected M, -, * or E)"
    ]
    assert _errors({**_config("nemotron_h"), "num_hidden_layers": 9}) == [
        "$.num_hidden_layers: is 9 but hybrid_override_pattern has 8 layers"
    ]
    assert _errors({**_config("nemotron_h"), "hybrid_override_pattern": 5}) == [
        "$.hybrid_override_pattern: expected str, got int 5"
    ]
    config = _config("nemotron_h")
    del config["n_groups"]  # n_group (the router's) is no stand-in
    assert _errors(config) == ["$.n_groups: missing required key"]
    config = _config("nemotron_h")
    del config["hybrid_override_pattern"]
    config["layers_block_type"] = ["mamba", "hybrid"] + ["mlp"] * 6
    assert _errors(config) == [
        "$.layers_block_type[1]: expected one of attention, full_attention, linear_attention, "
        "mamba, mlp, moe, got str 'hybrid'"
    ]
    config["layers_block_type"] = "mamba"
    assert _errors(config) == ["$.layers_block_type: expected a list of str, got str 'mamba'"]


def test_an_unknown_model_type_is_refused_naming_the_supported_ones() -> None:
    config = {**_config("llama"), "model_type": "my_llama"}
    (message,) = _errors(config)
    assert message.startswith("$.model_type: no reader for str 'my_llama'; supported: ")
    listed = message.split("; supported: ")[1].split(" (or say how")[0].split(", ")
    assert listed == sorted(listed)
    assert {"gpt_oss", "llama", "llama4", "llama4_text", "mistral", "nemotron_h"} <= set(listed)
    # Unless the caller says how to read it.
    arch = ModelArchitecture.from_mapping(config, family="llama")
    assert arch.block_configs == _load("llama").block_configs
    assert arch.source["model_type"] == "my_llama"


def test_no_model_type_and_no_block_configs_is_refused() -> None:
    config = _config("llama")
    del config["model_type"]
    (message,) = _errors(config)
    assert message.startswith("$.model_type: missing, and there are no block_configs")
    assert len(ModelArchitecture.from_mapping(config, family="llama").block_configs) == 4
    # A wrapper without a type is not read through its text part by guessing either.
    nested = {"text_config": _config("llama"), "hidden_size": 8, "num_attention_heads": 1}
    assert _errors({**nested, "vocab_size": 8})[0].startswith("$.model_type: missing")


def test_a_family_no_reader_is_registered_for_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"family must be one of \('deepseek_v2', "):
        ModelArchitecture.from_mapping(_config("llama"), family="lama")


def test_the_heads_are_only_needed_when_valid() -> None:
    config = {**_config("llama"), "num_attention_heads": "8"}
    assert _errors(config) == ["$.num_attention_heads: expected int, got str '8'"]
    llama = reader_for("llama")
    assert llama is not None
    with pytest.raises(BlockConfigError) as info:
        llama(config, ReadOptions(model_type="llama"))
    assert [str(problem) for problem in info.value.problems] == [
        "$.num_attention_heads: expected int, got str '8'"
    ]


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("llama", {}),
        ("mixtral", {}),
        # The native dialect states the family's model-wide facts, so that it reads back.
        ("qwen2_moe", {"qkv_bias": True, "shared_expert_gate": True}),
        ("nemotron_h", {"router_score_correction_bias": True}),
    ],
)
def test_a_homogeneous_config_saves_as_native_and_keeps_every_other_key(
    name: str, facts: dict[str, Any]
) -> None:
    config = _config(name)
    arch = _load(name)
    out = arch.to_mapping()
    assert {key: value for key, value in out.items() if key != "block_configs"} == {
        **config,
        **facts,
    }
    reread = ModelArchitecture.from_mapping(out)
    assert reread.dialect == "native"
    assert reread.block_configs == arch.block_configs
    assert attrs.evolve(reread, dialect="homogeneous") == arch


def test_a_dense_homogeneous_config_saves_as_legacy_when_widths_allow() -> None:
    with pytest.raises(BlockConfigError, match=r"intermediate_size 688: ffn_mult only gives"):
        _load("llama").to_mapping("legacy")
    arch = ModelArchitecture.from_mapping({**_config("llama"), "intermediate_size": 768})
    out = arch.to_mapping("legacy")
    assert (out["num_key_value_heads"], out["intermediate_size"]) == (None, None)
    assert out["block_configs"][0]["attention"]["n_heads_in_group"] == 4
    assert out["block_configs"][0]["ffn"]["ffn_mult"] == 4.5  # 3 * 768 / (2 * 256)
    assert ModelArchitecture.from_mapping(out).block_configs == arch.block_configs
