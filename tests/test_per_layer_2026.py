"""``per_layer_config`` on the families of 2026, against what transformers 5.25 builds.

Of their modelling classes, only Gemma 4's builds layers from ``config.per_layer_config[i]``,
and only with the same overrides on every layer of one type (its RoPE and KV sharing are set
per layer type): a layer's own ``num_key_value_heads`` or ``head_dim`` is built, a layer's own
``sliding_window``, ``num_attention_heads`` or ``intermediate_size`` raises
``AmbiguousGlobalPerLayerAttributeError``. The others read every size from the global config
and raise on any override; their readers refuse overrides (tests/test_readers_2026.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from block_config import ModelArchitecture, model_stats

FAMILIES = Path(__file__).parent / "data" / "families"

#: gemma-4-E2B-it's text model with one override on every layer of one type: transformers
#: 5.25's Gemma4ForCausalLM built on the meta device from the fixture's text_config with that
#: per_layer_config (the model without overrides: 4,628,569,344).
GEMMA4_COUNTS = {
    ("full_attention", "num_key_value_heads", 2): 4_584_526_592,
    ("full_attention", "head_dim", 128): 4_558_966_272,
    ("sliding_attention", "num_key_value_heads", 2): 4_591_604_480,
    ("sliding_attention", "head_dim", 128): 4_489_363_200,
}


def _gemma4_text() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FAMILIES / "gemma-4-E2B-it.config.json").read_text(encoding="utf-8")
    )
    text: dict[str, Any] = data.get("text_config", data)
    return text


@pytest.mark.parametrize(("kind", "name", "value"), sorted(GEMMA4_COUNTS))
def test_gemma4_overrides_of_one_layer_type_count_as_transformers_builds_them(
    kind: str, name: str, value: int
) -> None:
    config = _gemma4_text()
    base = ModelArchitecture.from_mapping(config)
    sliding = [
        block.attention is not None and block.attention.sliding_window is not None
        for block in base.block_configs
    ]
    layers = [index for index, flag in enumerate(sliding) if flag == (kind == "sliding_attention")]
    assert layers
    config["per_layer_config"] = {str(index): {name: value} for index in layers}
    model = ModelArchitecture.from_mapping(config)
    assert model_stats(model).total_params == GEMMA4_COUNTS[kind, name, value]
    for index, (block, before) in enumerate(
        zip(model.block_configs, base.block_configs, strict=True)
    ):
        assert block.attention is not None
        assert before.attention is not None
        # A layer's head width is its own, else the model's (kept only where they differ).
        width = block.attention.head_dim or model.head_dim
        widths = {"head_dim": width, "num_key_value_heads": block.attention.num_key_value_heads}
        if index in layers:
            assert widths[name] == value
        # Any per_layer_config makes Gemma4Config ignore global_head_dim (a global layer
        # without its own head_dim has the model's), as the counts above show; the FFNs stay.
        assert block.ffn == before.ffn


@pytest.mark.parametrize("name", ["GLM-4.5-Air", "GLM-4.7"])
def test_glm_is_written_per_layer_with_its_own_keys_of_its_biases_and_qk_norm(name: str) -> None:
    model = ModelArchitecture.load(FAMILIES / f"{name}.config.json")
    out = model.to_mapping("per-layer")
    # Glm4MoeConfig's attention_bias is q/k/v biases (qkv_bias), use_qk_norm the QK-norm.
    assert (out["attention_bias"], out["use_qk_norm"]) == (model.qkv_bias, model.qk_norm)
    assert "qkv_bias" not in out
    assert "qk_norm" not in out
    assert out["per_layer_config"] == {}
    back = ModelArchitecture.from_mapping(out)
    assert back.block_configs == model.block_configs
    assert back.mtp == model.mtp
    assert (back.qkv_bias, back.qk_norm) == (model.qkv_bias, model.qk_norm)
