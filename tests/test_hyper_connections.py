"""Hyper-connections (DeepSeek-V4, GLM-5.3-Flash): the model-wide number of residual streams,
its weights around every subblock and after the last layer, and how it is read and written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from block_config import BlockConfigError, ModelArchitecture, diff_models, model_stats

FAMILIES = Path(__file__).parent / "data" / "families"

H = 64
LAYERS = 3


def _native(**changes: Any) -> dict[str, Any]:
    """A small native config: a dense layer, an MoE layer and one with no FFN."""
    config: dict[str, Any] = {
        "model_type": "llama",
        "hidden_size": H,
        "num_attention_heads": 4,
        "vocab_size": 100,
        "torch_dtype": "bfloat16",
        "block_configs": [
            {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 96}},
            {
                "attention": {"num_key_value_heads": 2},
                "ffn": {"moe": {"num_local_experts": 4, "num_experts_per_tok": 2}},
            },
            {"attention": {"num_key_value_heads": 1}, "ffn": {"no_op": True}},
        ],
    }
    config.update(changes)
    return config


def _errors(config: dict[str, Any]) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config)
    return [str(problem) for problem in info.value.problems]


def test_hc_mult_is_read_and_written_only_when_set() -> None:
    plain = ModelArchitecture.from_mapping(_native())
    assert (plain.hyper_connections, plain.hyper_connections_mean_head) == (None, False)
    assert "hc_mult" not in plain.to_mapping("native")
    assert "hyper_connections_mean_head" not in plain.to_mapping("native")
    arch = ModelArchitecture.from_mapping(_native(hc_mult=4))
    assert arch.hyper_connections == 4
    fresh = attrs.evolve(plain, hyper_connections=4, source={})
    written = fresh.to_mapping("native")
    assert written["hc_mult"] == 4
    assert "hyper_connections_mean_head" not in written
    assert ModelArchitecture.from_mapping(written) == fresh
    mean = attrs.evolve(fresh, hyper_connections_mean_head=True)
    written = mean.to_mapping("native")
    assert written["hyper_connections_mean_head"] is True
    assert ModelArchitecture.from_mapping(written) == mean
    # Dropped again: the key is written as null, which reads as no hyper-connections.
    dropped = attrs.evolve(arch, hyper_connections=None).to_mapping("native")
    assert dropped["hc_mult"] is None
    assert ModelArchitecture.from_mapping(dropped).hyper_connections is None


def test_hyper_connections_survive_yaml_and_the_legacy_dialect() -> None:
    pytest.importorskip("yaml")
    arch = ModelArchitecture.from_mapping(_native(hc_mult=2))
    assert ModelArchitecture.from_yaml(arch.to_yaml("native")).hyper_connections == 2
    legacy_blocks = {
        "model_type": "nemotron-nas",
        "hidden_size": H,
        "num_attention_heads": 4,
        "vocab_size": 100,
        "hc_mult": 2,
        "block_configs": [
            {"attention": {"n_heads_in_group": 2}, "ffn": {"ffn_mult": 1.5}},
        ],
    }
    legacy = ModelArchitecture.from_mapping(legacy_blocks)
    assert legacy.dialect == "legacy"
    assert legacy.hyper_connections == 2
    assert ModelArchitecture.from_mapping(legacy.to_mapping("legacy")).hyper_connections == 2


def test_each_subblock_that_is_not_a_no_op_has_its_stream_weights() -> None:
    plain = model_stats(ModelArchitecture.from_mapping(_native()))
    streams = 4
    hc = model_stats(ModelArchitecture.from_mapping(_native(hc_mult=streams)))
    mixes = 2 * streams + streams * streams  # pre, post and comb
    per_subblock = mixes * streams * H + mixes + 3  # fn, base, scale
    head = streams * streams * H + streams + 1  # hc_fn, hc_base, hc_scale
    assert (per_subblock, head) == (6171, 1029)
    # Five subblocks: three attentions, the dense FFN and the MoE (the third FFN is a no-op).
    assert hc.total_params - plain.total_params == 5 * per_subblock + head
    # Every token goes through all of them, MoE layer included.
    assert hc.active_params - plain.active_params == 5 * per_subblock + head
    for before, after in zip(plain.layers, hc.layers, strict=True):
        assert after.attention.params - before.attention.params == per_subblock
        extra = 0 if before.ffn.kind == "no_op" else per_subblock
        assert after.ffn.params - before.ffn.params == extra
        assert after.ffn.active_params - before.ffn.active_params == extra
    # bf16 like the norms beside them; the KV cache does not change.
    assert hc.weight_bytes - plain.weight_bytes == 2 * (5 * per_subblock + head)
    assert hc.kv_cache_bytes_per_token == plain.kv_cache_bytes_per_token


def test_an_unweighted_mean_head_has_no_weights() -> None:
    weighted = model_stats(ModelArchitecture.from_mapping(_native(hc_mult=4)))
    mean = model_stats(
        ModelArchitecture.from_mapping(_native(hc_mult=4, hyper_connections_mean_head=True))
    )
    assert weighted.total_params - mean.total_params == 4 * 4 * H + 4 + 1


def test_one_stream_still_has_its_weights() -> None:
    plain = model_stats(ModelArchitecture.from_mapping(_native()))
    one = model_stats(ModelArchitecture.from_mapping(_native(hc_mult=1)))
    assert one.total_params - plain.total_params == 5 * (3 * H + 3 + 3) + (H + 1 + 1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hc_mult": 0}, "$.hc_mult: expected int from 1 to"),
        ({"hc_mult": "4"}, "$.hc_mult: expected int, got str '4'"),
        ({"hc_mult": True}, "$.hc_mult: expected int, got bool True"),
        ({"hc_mult": 2.0}, "$.hc_mult: expected int, got float 2.0"),
        (
            {"hyper_connections_mean_head": True},
            "$.hyper_connections_mean_head: cannot be true without hyper_connections (hc_mult)",
        ),
        (
            {"hc_mult": 2, "hyper_connections_mean_head": "yes"},
            "$.hyper_connections_mean_head: expected bool, got str 'yes'",
        ),
    ],
)
def test_bad_values_are_refused_at_their_key(changes: dict[str, Any], message: str) -> None:
    errors = _errors(_native(**changes))
    assert len(errors) == 1
    assert errors[0].startswith(message)


def test_the_model_object_checks_its_fields() -> None:
    arch = ModelArchitecture.from_mapping(_native())
    with pytest.raises(BlockConfigError, match=r"\$\.hyper_connections: expected int"):
        attrs.evolve(arch, hyper_connections="4")  # type: ignore[arg-type]
    with pytest.raises(BlockConfigError, match=r"\$\.hyper_connections: expected int from 1"):
        attrs.evolve(arch, hyper_connections=-1)


def test_parallel_blocks_with_hyper_connections_are_refused() -> None:
    config = _native(hc_mult=2)
    config["block_configs"][1]["parallel_blocks"] = [
        {"attention": {"mamba": {"state_dim": 8, "num_heads": 4, "head_dim": 8, "num_groups": 1}}}
    ]
    assert _errors(config) == [
        "$.block_configs[1].parallel_blocks: hyper-connections around parallel blocks are not "
        "modelled"
    ]
    del config["hc_mult"]
    ModelArchitecture.from_mapping(config)


def test_show_json_and_diff_state_the_streams(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_native(hc_mult=4)))
    out = subprocess.run(
        [sys.executable, "-m", "block_config", "show", "--json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(out.stdout)
    assert (document["hyper_connections"], document["hyper_connections_mean_head"]) == (4, False)
    plain = ModelArchitecture.from_mapping(_native())
    diff = diff_models(plain, ModelArchitecture.from_mapping(_native(hc_mult=4)))
    changed = {change.path: (change.a, change.b) for change in diff.model}
    assert changed["hyper_connections"] == (None, 4)


def test_dialects_that_cannot_say_it_refuse_it() -> None:
    arch = ModelArchitecture.load(FAMILIES / "Llama-3.1-8B.config.json")
    with_streams = attrs.evolve(arch, hyper_connections=4)
    for dialect in ("per-layer", "gpt_oss_puzzle", "nemotron_h_puzzle"):
        with pytest.raises(BlockConfigError):
            with_streams.to_mapping(dialect)
