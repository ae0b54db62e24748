"""WeightQuantization and the model-wide facts: reading, checking, storage and round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import (
    BlockConfigError,
    ModelArchitecture,
    WeightQuantization,
    quantization_from_config,
)

_BLOCK: dict[str, Any] = {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 64}}


def _model(**fields: Any) -> ModelArchitecture:
    return ModelArchitecture(
        hidden_size=32, num_attention_heads=4, vocab_size=100, block_configs=[_BLOCK], **fields
    )


def _problems(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# ----------------------------------------------------------------------- reading


def test_fine_grained_fp8_as_deepseek_v3_publishes_it() -> None:
    q = quantization_from_config(
        {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "weight_block_size": [128, 128],
        }
    )
    assert q == WeightQuantization(method="fp8", weight_block_size=(128, 128))
    assert q.input_scales is False
    assert q.value_bits == 8
    assert q.group_size is None


def test_mxfp4_as_gpt_oss_publishes_it() -> None:
    skipped = ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens"]
    q = quantization_from_config(
        {"quant_method": "mxfp4", "modules_to_not_convert": [*skipped, "lm_head"]}
    )
    assert q.method == "mxfp4"
    assert q.unquantized_modules == (*skipped, "lm_head")
    assert (q.value_bits, q.group_size, q.input_scales) == (4, 32, False)


def test_fp8_blocks_default_as_transformers_reads_them() -> None:
    # FineGrainedFP8Config: absent -> 128 x 128 blocks; null -> one scale per matrix.
    assert quantization_from_config({"quant_method": "fp8"}).weight_block_size == (128, 128)
    per_tensor = quantization_from_config({"quant_method": "fp8", "weight_block_size": None})
    assert per_tensor.weight_block_size is None
    assert per_tensor.to_config()["weight_block_size"] is None


def test_modelopt_nvfp4_and_fp8() -> None:
    q = quantization_from_config(
        {
            "quant_method": "modelopt",
            "quant_algo": "NVFP4",
            "group_size": 16,
            "exclude_modules": ["lm_head"],
            "ignore": ["model.layers.0.mlp", "lm_head"],
        }
    )
    assert q == WeightQuantization(
        method="nvfp4", unquantized_modules=("lm_head", "model.layers.0.mlp")
    )
    assert (q.value_bits, q.group_size, q.input_scales) == (4, 16, True)
    fp8 = quantization_from_config({"quant_method": "modelopt", "quant_algo": "FP8"})
    assert fp8 == WeightQuantization(method="fp8", input_scales=True)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"quant_method": "gptq", "bits": 4}, "$.quantization_config.quant_method: unsupported"),
        ({"bits": 4}, "$.quantization_config.quant_method: missing required key"),
        ({"quant_method": None}, "$.quantization_config.quant_method: must not be null"),
        ({"quant_method": 8}, "$.quantization_config.quant_method: expected str, got int 8"),
        ({"quant_method": "modelopt"}, "$.quantization_config.quant_algo: missing required key"),
        (
            {"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"},
            "$.quantization_config.quant_algo: unsupported 'W4A8_AWQ'",
        ),
        (
            {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16.0},
            "$.quantization_config.group_size: NVFP4 groups 16 values, got float 16.0",
        ),
        (
            {"quant_method": "fp8", "weight_block_size": [128]},
            "$.quantization_config.weight_block_size: expected 2 ints",
        ),
        (
            {"quant_method": "fp8", "weight_block_size": [128, "128"]},
            "$.quantization_config.weight_block_size[1]: expected int, got str",
        ),
        (
            {"quant_method": "fp8", "activation_scheme": "per_token"},
            "$.quantization_config.activation_scheme: unsupported 'per_token'",
        ),
        (
            {"quant_method": "mxfp4", "modules_to_not_convert": "lm_head"},
            "$.quantization_config.modules_to_not_convert: expected a list of str",
        ),
        (
            {"quant_method": "mxfp4", "modules_to_not_convert": ["lm_head", "a("]},
            "$.quantization_config.modules_to_not_convert[1]: not a regular expression",
        ),
        ([], "$.quantization_config: expected an object, got list"),
    ],
)
def test_what_cannot_be_read_is_a_located_error(config: Any, expected: str) -> None:
    with pytest.raises(BlockConfigError) as error:
        quantization_from_config(config)
    assert any(problem.startswith(expected) for problem in _problems(error)), _problems(error)


def test_the_constructor_is_strict() -> None:
    bad: list[dict[str, Any]] = [
        {"method": "int4"},
        {"method": "mxfp4", "weight_block_size": (128, 128)},
        {"method": "fp8", "weight_block_size": (128, 0)},
        {"method": "fp8", "weight_block_size": (128, True)},
        {"method": "fp8", "input_scales": 1},
        {"method": "mxfp4", "input_scales": True},
        {"method": "nvfp4", "input_scales": False},
        {"method": "fp8", "unquantized_modules": "lm_head"},
        {"method": "fp8", "unquantized_modules": ["lm_head", 3]},
    ]
    for fields in bad:
        with pytest.raises(BlockConfigError):
            WeightQuantization(**fields)


# ----------------------------------------------------------------------- storage


def test_matrix_bytes_by_hand() -> None:
    rows, cols = 300, 256
    # fp8, 128 x 128 blocks: 3 x 2 fp32 scales (ceil(300/128) = 3, 256/128 = 2).
    block = WeightQuantization(method="fp8", weight_block_size=(128, 128))
    assert block.matrix_bytes(rows, cols) == rows * cols + 3 * 2 * 4
    # fp8 per tensor: one fp32 scale; static activations add an fp32 input scale.
    assert WeightQuantization(method="fp8").matrix_bytes(rows, cols) == rows * cols + 4
    static = WeightQuantization(method="fp8", input_scales=True)
    assert static.matrix_bytes(rows, cols) == rows * cols + 8
    # mxfp4: half a byte per value and one byte per 32 values: 8 groups per row.
    assert WeightQuantization(method="mxfp4").matrix_bytes(rows, cols) == (
        rows * cols // 2 + rows * 8
    )
    # nvfp4: half a byte per value, one fp8 scale per 16 values, two fp32 scalars.
    assert WeightQuantization(method="nvfp4").matrix_bytes(rows, cols) == (
        rows * cols // 2 + rows * 16 + 8
    )


def test_gpt_oss_20b_expert_stack_matches_its_safetensors_shapes() -> None:
    # gate_up_proj_blocks [32, 5760, 90, 16] + gate_up_proj_scales [32, 5760, 90], uint8.
    q = WeightQuantization(method="mxfp4")
    assert 32 * q.matrix_bytes(5760, 2880) == 32 * 5760 * 90 * 16 + 32 * 5760 * 90


def test_unquantized_modules_match_as_transformers_does() -> None:
    q = WeightQuantization(
        method="mxfp4",
        unquantized_modules=("model.layers.*.self_attn", "lm_head", "router"),
    )
    assert not q.is_quantized(["model.layers.3.self_attn.q_proj"])
    assert not q.is_quantized(["lm_head"])
    assert not q.is_quantized(["model.layers.3.mlp.router"])  # a suffix
    assert q.is_quantized(["model.layers.3.mlp.experts"])
    assert not q.is_quantized(["backbone.layers.3.mixer", "model.layers.3.self_attn"])


def test_to_config_reads_back() -> None:
    for q in (
        WeightQuantization(method="fp8"),
        WeightQuantization(method="fp8", weight_block_size=(128, 64), input_scales=True),
        WeightQuantization(method="mxfp4", unquantized_modules=("lm_head",)),
        WeightQuantization(method="nvfp4", unquantized_modules=("lm_head", "x.*")),
    ):
        assert quantization_from_config(q.to_config()) == q


# ----------------------------------------------------------------------- on the model


_FACTS: dict[str, Any] = {
    "qkv_bias": True,
    "qk_norm": True,
    "sandwich_norms": True,
    "router_bias": True,
    "expert_bias": True,
    "attention_sinks": True,
    "shared_expert_gate": True,
    "router_score_correction_bias": True,
    "quantization": WeightQuantization(method="fp8", weight_block_size=(128, 128)),
    "mamba_ssm_cache_dtype": "float32",
    "model_type": "qwen2",
}


def test_defaults_are_todays_model() -> None:
    model = _model()
    for name, value in _FACTS.items():
        assert getattr(model, name) is (False if type(value) is bool else None)


@pytest.mark.parametrize("name", sorted(_FACTS))
def test_every_fact_saves_and_loads_back(name: str, tmp_path: Path) -> None:
    model = _model(**{name: _FACTS[name]})
    path = model.save(tmp_path / "config.json")
    again = ModelArchitecture.load(path)
    assert getattr(again, name) == _FACTS[name]
    assert again == model
    assert (
        ModelArchitecture.load(again.save(tmp_path / "b.json")).to_mapping() == again.to_mapping()
    )


def test_all_facts_at_once_save_and_load_back(tmp_path: Path) -> None:
    model = _model(**_FACTS)
    assert ModelArchitecture.load(model.save(tmp_path / "config.json")) == model


def test_a_model_without_the_facts_writes_none_of_their_keys() -> None:
    mapping = _model().to_mapping()
    assert not set(mapping) & {*_FACTS, "quantization_config"}


def test_an_unchanged_quantization_config_is_kept_as_written() -> None:
    written = {
        "quant_method": "modelopt",
        "quant_algo": "FP8",
        "kv_cache_quant_algo": "FP8",
        "producer": {"name": "modelopt"},
    }
    config = {**_model().to_mapping(), "quantization_config": written}
    model = ModelArchitecture.from_mapping(config)
    assert model.quantization == WeightQuantization(method="fp8", input_scales=True)
    assert model.to_mapping()["quantization_config"] == written
    changed = attrs.evolve(model, quantization=WeightQuantization(method="mxfp4"))
    assert changed.to_mapping()["quantization_config"] == {"quant_method": "mxfp4"}
    dropped = attrs.evolve(model, quantization=None)
    assert "quantization_config" not in dropped.to_mapping()


def test_the_model_constructor_is_strict() -> None:
    bad: dict[str, Any] = {
        "qkv_bias": 1,
        "qk_norm": "true",
        "sandwich_norms": None,
        "router_bias": 0,
        "expert_bias": "false",
        "attention_sinks": 1.0,
        "shared_expert_gate": [],
        "router_score_correction_bias": {},
        "quantization": {"method": "fp8"},
        "mamba_ssm_cache_dtype": 32,
        "model_type": ["qwen2"],
    }
    with pytest.raises(BlockConfigError) as error:
        _model(**bad)
    assert sorted(problem.path[0] for problem in error.value.problems) == sorted(bad)


def test_config_keys_are_read_strictly_and_located() -> None:
    config = {
        **_model().to_mapping(),
        "qk_norm": "true",
        "mamba_ssm_cache_dtype": 32,
        "quantization_config": {"quant_method": "awq"},
    }
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(config)
    assert sorted(_problems(error)) == [
        "$.mamba_ssm_cache_dtype: expected str or null, got int 32",
        "$.qk_norm: expected bool, got str 'true'",
        "$.quantization_config.quant_method: unsupported 'awq'; supported: "
        "('fp8', 'mxfp4', 'modelopt')",
    ]
