"""The typed contract of the weight-quantization API and the model-wide facts.

Never executed: ``mypy --strict`` checks it (the ``typecheck`` nox session).
"""

from __future__ import annotations

from typing import Any, assert_type

from block_config import (
    ModelArchitecture,
    QuantizationMethod,
    WeightQuantization,
    quantization_from_config,
)

q = quantization_from_config({"quant_method": "fp8", "weight_block_size": [128, 128]})
assert_type(q, WeightQuantization)
assert_type(q.method, QuantizationMethod)
assert_type(q.weight_block_size, tuple[int, int] | None)
assert_type(q.input_scales, bool | None)
assert_type(q.unquantized_modules, tuple[str, ...])
assert_type(q.value_bits, int)
assert_type(q.group_size, int | None)
assert_type(q.matrix_bytes(4096, 4096), int)
assert_type(q.is_quantized(["lm_head"]), bool)
assert_type(q.to_config(), dict[str, Any])
assert_type(
    quantization_from_config({}, ("text_config", "quantization_config")), WeightQuantization
)
WeightQuantization(method="nvfp4", unquantized_modules=["lm_head"])
WeightQuantization(method="int4")  # type: ignore[arg-type]

model = ModelArchitecture.load("config.json")
assert_type(model.quantization, WeightQuantization | None)
assert_type(model.qkv_bias, bool)
assert_type(model.qk_norm, bool)
assert_type(model.sandwich_norms, bool)
assert_type(model.router_bias, bool)
assert_type(model.expert_bias, bool)
assert_type(model.attention_sinks, bool)
assert_type(model.shared_expert_gate, bool)
assert_type(model.router_score_correction_bias, bool)
assert_type(model.mamba_ssm_cache_dtype, str | None)
assert_type(model.model_type, str | None)
