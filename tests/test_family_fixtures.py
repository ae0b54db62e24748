"""The published family fixtures and their table of expected figures agree with each other.

These tests check the evidence itself (tests/data/families/): every fixture is a readable
config.json with a model_type, EXPECTED.json describes exactly the fixtures present, and its
figures are whole numbers that fit together. Comparing the library against the figures is
the business of the family readers' tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FAMILIES = Path(__file__).parent / "data" / "families"
SUFFIX = ".config.json"
FIXTURES = sorted(path.name for path in FAMILIES.glob(f"*{SUFFIX}"))


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _expected() -> dict[str, dict[str, Any]]:
    table = _json(FAMILIES / "EXPECTED.json")
    assert isinstance(table, dict)
    return table


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def test_there_is_one_fixture_per_family_of_the_issue() -> None:
    types = {_json(FAMILIES / name)["model_type"] for name in FIXTURES}
    wanted = {
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma2",
        "gemma3_text", "gemma3", "gpt_oss", "llama4", "deepseek_v2", "deepseek_v3",
        "nemotron_h", "qwen3_vl",
        # The families of 2026 without linear attention.
        "olmo3", "glm4_moe", "minimax_m2", "granitemoehybrid", "falcon_h1",
        "deepseek_v32", "glm_moe_dsa", "mistral4", "mistral_large4", "deepseek_v4",
        "gemma4_text",
        # The families of 2026 with linear attention.
        "qwen3_next", "qwen3_5_moe", "kimi_linear", "olmo_hybrid", "glm5_next",
    }  # fmt: skip
    assert wanted <= types, sorted(wanted - types)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_a_config_with_a_model_type(name: str) -> None:
    config = _json(FAMILIES / name)
    assert isinstance(config, dict)
    assert isinstance(config.get("model_type"), str)
    assert config["model_type"]
    architectures = config.get("architectures")
    assert isinstance(architectures, list)
    assert architectures
    assert all(isinstance(item, str) for item in architectures)
    text = config.get("text_config")
    if text is not None:
        assert isinstance(text, dict)
        assert isinstance(text.get("model_type"), str)
        assert text["model_type"]


def test_expected_covers_exactly_the_fixtures() -> None:
    assert sorted(_expected()) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_expected_figures_are_whole_and_consistent(name: str) -> None:
    entry = _expected()[name]
    config = _json(FAMILIES / name)
    assert entry["model_type"] == config["model_type"]
    for key in ("total_params", "active_params", "kv_bytes_32k_bf16"):
        assert _is_int(entry[key]), key
        assert entry[key] > 0, key
    assert entry["active_params"] <= entry["total_params"]
    for key in ("total_params_source", "active_params_source", "kv_derivation"):
        assert isinstance(entry[key], str), key
        assert entry[key], key
    assert isinstance(entry["transformers_version"], str)
    assert entry["transformers_version"]
    published = entry["published_total"]
    assert published is None or (_is_int(published) and published > 0)
    assert isinstance(entry["published_total_source"], str)
    assert entry["published_total_source"]
    if published is not None and entry["published_vs_counted"].startswith("equal"):
        assert published == entry["total_params"]
    if "linear_state_bytes_bf16" in entry:
        assert _is_int(entry["linear_state_bytes_bf16"])
        assert entry["linear_state_bytes_bf16"] > 0
        assert isinstance(entry["linear_state_derivation"], str)
        assert entry["linear_state_derivation"]
    for key in ("mamba_state_bytes_bf16", "mtp_layer_params", "buffers", "indexer_params"):
        if key in entry:
            assert _is_int(entry[key]), key
            assert entry[key] >= 0, key
    if "mtp_layer_params" in entry:
        assert isinstance(entry["mtp_layer_params_derivation"], str)
        assert entry["mtp_layer_params_derivation"]
    if "checkpoint_params" in entry:
        # A checkpoint holds the model (vision tower included) and its MTP layers.
        assert entry["checkpoint_params"] == entry["total_params"] + entry["mtp_layer_params"]
        assert isinstance(entry["checkpoint_params_derivation"], str)
        assert entry["checkpoint_params_derivation"]
        if entry["published_total"] is not None:
            assert entry["checkpoint_params"] == entry["published_total"]
    if "routed_expert_params" in entry:
        routed = entry["routed_expert_params"]
        assert _is_int(routed)
        assert 0 < routed < entry["total_params"]
        assert entry["active_params"] < entry["total_params"]


@pytest.mark.parametrize("name", FIXTURES)
def test_multimodal_fixtures_say_what_the_text_model_holds(name: str) -> None:
    entry = _expected()[name]
    if "text_config" not in _json(FAMILIES / name):
        assert "text_params" not in entry
        return
    text = entry["text_params"]
    assert _is_int(text)
    assert 0 < text < entry["total_params"]
    assert entry["active_params"] <= text


def test_every_fixture_has_its_provenance_written_down() -> None:
    sources = (FAMILIES / "SOURCES.md").read_text(encoding="utf-8")
    missing = [name for name in FIXTURES if f"`{name}`" not in sources]
    assert not missing
