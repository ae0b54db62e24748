"""Every published family fixture loads, and ``show --json`` gives its expected figures.

The fixtures and their figures (tests/data/families/EXPECTED.json) are independent ground
truth: transformers' own modelling code counted on the meta device, published checkpoint
totals, and KV-cache sizes derived by hand. Totals must be exact; for a multimodal wrapper,
whose vision tower is not counted, the text model's count (``text_params``) is the total.
Active parameters per token, KV bytes for one 32,768-token sequence in bf16 and, where the
table gives it, the per-sequence Mamba or linear-attention state in bf16 must be exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from block_config import ModelArchitecture, readers
from block_config._cli import EXIT_OK, main

FAMILIES = Path(__file__).parent / "data" / "families"
EXPECTED: dict[str, dict[str, Any]] = json.loads((FAMILIES / "EXPECTED.json").read_text())
SEQUENCE = 32_768


def _show(name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    argv = ["show", "--json", str(FAMILIES / name), "--batch-size", "1"]
    argv += ["--seq-len", str(SEQUENCE), "--kv-cache-dtype", "bf16"]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert captured.err == ""  # no warning either
    document: dict[str, Any] = json.loads(captured.out)
    return document


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_loads_with_its_familys_reader(name: str) -> None:
    expected = EXPECTED[name]
    arch = ModelArchitecture.load(FAMILIES / name)
    assert arch.model_type == expected["model_type"]
    assert arch.dialect == "homogeneous"
    assert expected["model_type"] in readers.supported_model_types()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_total_parameters_are_exact(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECTED[name]
    total = expected.get("text_params", expected["total_params"])
    assert _show(name, capsys)["total_params"] == total


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_active_parameters_are_exact(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _show(name, capsys)["active_params"] == EXPECTED[name]["active_params"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kv_cache_of_one_long_sequence_is_exact(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    memory = _show(name, capsys)["memory"]
    assert (memory["batch_size"], memory["sequence_length"]) == (1, SEQUENCE)
    assert memory["kv_cache_bytes"] == EXPECTED[name]["kv_bytes_32k_bf16"]


LINEAR_STATE = sorted(
    name for name, entry in EXPECTED.items() if "linear_state_bytes_bf16" in entry
)


@pytest.mark.parametrize("name", LINEAR_STATE)
def test_linear_attention_state_and_active_parameters_are_exact(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = EXPECTED[name]
    document = _show(name, capsys)
    assert (
        document["linear_attention_state_bytes_per_sequence"]
        == (expected["linear_state_bytes_bf16"])
    )
    assert document["memory"]["linear_attention_state_bytes"] == expected["linear_state_bytes_bf16"]
    assert document["mamba_state_bytes_per_sequence"] == 0
    assert document["active_params"] == expected["active_params"]
    kinds = {layer["attention"]["kind"] for layer in document["layers"]}
    kda = "Kimi" in name or "GLM" in name
    assert kinds == ({"kda", "mla"} if kda else {"gdn", "gqa"})
    gated = {layer["attention"]["output_gate"] for layer in document["layers"]}
    # Kimi's and GLM-5.3's MLA and Olmo-Hybrid's OLMo-3 attention have no output gate.
    assert gated == ({False} if kda or "Olmo" in name else {False, True})


def test_every_fixture_has_expected_figures() -> None:
    fixtures = {path.name for path in FAMILIES.glob("*.config.json")}
    assert fixtures == set(EXPECTED)


STATE = sorted(name for name, entry in EXPECTED.items() if "mamba_state_bytes_bf16" in entry)


def test_the_2026_fixtures_state_their_mamba_state() -> None:
    assert {
        "granite-4.0-h-tiny.config.json",
        "Falcon-H1-7B-Base.config.json",
        "Olmo-3-7B.config.json",
    } <= set(STATE)


@pytest.mark.parametrize("name", STATE)
def test_mamba_state_of_one_sequence_is_exact(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    memory = _show(name, capsys)["memory"]
    assert memory["mamba_state_bytes"] == EXPECTED[name]["mamba_state_bytes_bf16"]


def test_show_names_the_linear_attention_and_its_state(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["show", str(FAMILIES / "Qwen3.5-35B-A3B.config.json")])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "attention:       30 x gdn, 10 x gqa 2 KV gated" in out
    assert "linear state:    64,389,120 bytes/sequence (61.41 MiB) in bf16" in out
    assert "(recurrent state in float32)" in out
