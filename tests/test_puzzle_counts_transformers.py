"""The Puzzle fixtures' counts against transformers' own layer classes on the meta device.

transformers has no class for ``gpt_oss_puzzle`` or ``nemotron_h_puzzle``: each layer is
built as the dialects' loading code builds it (the family's configuration class carrying that
layer's block values), then summed with the embedding, final norm and head. Needs torch and
transformers (not project dependencies): skipped without them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from block_config import ModelArchitecture, model_stats

torch = pytest.importorskip("torch", reason="torch and transformers are not project dependencies")
transformers = pytest.importorskip("transformers")

DIALECTS = Path(__file__).parent / "data" / "dialects"
#: Keys the dialects own, left out of the family's configuration class.
_DIALECT_KEYS = {
    "architectures",
    "model_type",
    "block_configs",
    "mtp_block_configs",
    "quantization_config",
    "torch_dtype",
    "layer_types",
    "num_hidden_layers",
    "hybrid_override_pattern",
    "layers_block_type",
    "mtp_hybrid_override_pattern",
    "mtp_layers_block_type",
    "num_nextn_predict_layers",
}


def _params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _globals(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in _DIALECT_KEYS}


def _gpt_oss(raw: dict[str, Any]) -> int:
    modelling = pytest.importorskip("transformers.models.gpt_oss.modeling_gpt_oss")
    config_class = transformers.GptOssConfig
    base = _globals(raw)
    with torch.device("meta"):
        shell = modelling.GptOssForCausalLM(config_class(**base, num_hidden_layers=1))
        total = _params(shell) - _params(shell.model.layers[0])
        for block in raw["block_configs"]:
            window = block["sliding_window"]
            kind = "full_attention" if window is None else "sliding_attention"
            layer = config_class(
                **{**base, "num_local_experts": block["num_local_experts"]},
                sliding_window=window or 128,
                num_hidden_layers=1,
                layer_types=[kind],
            )
            total += _params(modelling.GptOssDecoderLayer(layer, 0))
    return total


def _nemotron_h(raw: dict[str, Any]) -> tuple[int, int]:
    modelling = pytest.importorskip("transformers.models.nemotron_h.modeling_nemotron_h")
    config_class = transformers.NemotronHConfig
    base = _globals(raw)
    symbols = {"M": "mamba", "*": "attention", "E": "moe", "-": "mlp"}
    blocks = raw.get("block_configs") or [
        {"block_type": symbols[c]} for c in raw["hybrid_override_pattern"]
    ]
    mtp = raw.get("mtp_block_configs") or [
        {"block_type": symbols[c]} for c in raw.get("mtp_hybrid_override_pattern", "")
    ]

    def layer(block: dict[str, Any]) -> int:
        values = {k: v for k, v in block.items() if k != "block_type" and v is not None}
        config = config_class(
            **{**base, **values}, num_hidden_layers=1, layers_block_type=[block["block_type"]]
        )
        return _params(modelling.NemotronHBlock(config, 0))

    h = raw["hidden_size"]
    with torch.device("meta"):
        shell = modelling.NemotronHForCausalLM(
            config_class(**base, num_hidden_layers=1, layers_block_type=["mamba"])
        )
        total = _params(shell) - _params(shell.model.layers[0]) + sum(map(layer, blocks))
        # vLLM's nemotron_h_mtp.py adds eh_proj (2h -> h) and three norms to the blocks.
        depth = raw.get("num_nextn_predict_layers") or 0
        mtp_total = depth * (sum(map(layer, mtp)) + 2 * h * h + 3 * h)
    return total, mtp_total


@pytest.mark.parametrize(
    "name",
    [
        "gpt-oss-puzzle-88B.reconstructed.config.json",
        "nemotron-h-puzzle-75B-shaped-global-moe.config.json",
        "nemotron-h-puzzle-trtllm-blocks.config.json",
        "NVIDIA-Nemotron-3-Super-120B-A12B.reconstructed.config.json",
    ],
)
def test_counts_equal_transformers_layer_by_layer(name: str) -> None:
    path = DIALECTS / name
    raw = json.loads(path.read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        puzzle_gpt_oss = raw["model_type"] == "gpt_oss_puzzle"
        expected = (_gpt_oss(raw), 0) if puzzle_gpt_oss else _nemotron_h(raw)
    stats = model_stats(ModelArchitecture.load(path))
    assert (stats.total_params, stats.mtp_params) == expected
