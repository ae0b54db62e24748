"""The readers registry: how a reader is chosen, what each family's rules build, and that
nothing is read by guessing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    ModelArchitecture,
    readers,
)
from block_config._cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main

HF = Path(__file__).parent / "data" / "hf"

#: The model types issue 9 asks for, each read by a reader of its own family.
ISSUE_FAMILIES = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "gemma2",
    "gemma3_text",
    "gemma3",
    "gpt_oss",
    "llama4_text",
    "llama4",
    "deepseek_v2",
    "deepseek_v3",
    "nemotron_h",
    "qwen3_vl",
)


def _config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HF / f"{name}.config.json").read_text())
    return data


def _errors(config: dict[str, Any], **options: Any) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config, **options)
    return [str(problem) for problem in info.value.problems]


def _dense(kv: int, size: int, **attention: Any) -> BlockConfig:
    return BlockConfig(
        attention={"num_key_value_heads": kv, **attention}, ffn={"intermediate_size": size}
    )


# --------------------------------------------------------------------------- the registry


def test_every_family_of_the_issue_is_supported() -> None:
    supported = readers.supported_model_types()
    assert set(ISSUE_FAMILIES) <= set(supported)
    assert list(supported) == sorted(supported)
    assert readers.reader_for("llama") is readers.reader_for("mistral")
    assert readers.reader_for("gemma3") is None  # a wrapper, read through its text part
    assert readers.reader_for("nemotron-nas") is None  # a dialect, chosen by block_configs


def test_a_model_type_is_registered_once() -> None:
    mixtral = readers.reader_for("mixtral")
    assert mixtral is not None
    with pytest.raises(ValueError, match="'llama' already has a reader"):
        readers.register("llama")(mixtral)
    with pytest.raises(ValueError, match="'gemma3' already has a reader"):
        readers.register_text_wrapper("gemma3", text_model_type="gemma3_text")


def test_block_configs_choose_the_dialect_whatever_the_model_type() -> None:
    native = ModelArchitecture.from_mapping(
        {
            **_config("llama"),
            "model_type": "gemma2",
            "block_configs": [
                {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 64}}
            ]
            * 4,
        }
    )
    assert native.dialect == "native"
    assert native.model_type == "gemma2"
    assert not native.sandwich_norms  # the native dialect says what it holds itself
    choice = readers.choose({"model_type": "unheard_of", "block_configs": []})
    assert choice.text_key is None
    assert choice.model_type == "unheard_of"


def test_family_reads_a_config_as_another_family_and_keeps_its_model_type() -> None:
    config = {**_config("llama"), "model_type": "my_llama"}
    arch = ModelArchitecture.from_mapping(config, family="llama")
    assert arch.model_type == "llama"
    out = arch.to_mapping()
    assert out["model_type"] == "my_llama"  # the file keeps saying what it is
    assert ModelArchitecture.from_mapping(out).block_configs == arch.block_configs
    # family= also overrides a type that has a reader.
    as_qwen2 = ModelArchitecture.from_mapping(_config("llama"), family="qwen2")
    assert (as_qwen2.qkv_bias, as_qwen2.model_type) == (True, "qwen2")


# --------------------------------------------------------------------------- wrappers


def _vl(**top: Any) -> dict[str, Any]:
    text = {**_config("qwen3"), "model_type": "qwen3_vl_text"}
    return {"model_type": "qwen3_vl", "text_config": text, "vision_config": {"depth": 2}, **top}


def test_a_multimodal_wrapper_is_read_through_its_text_config() -> None:
    arch = ModelArchitecture.from_mapping(_vl(tie_word_embeddings=False))
    qwen3 = ModelArchitecture.from_mapping(_config("qwen3"))
    assert arch.block_configs == qwen3.block_configs
    assert (arch.model_type, arch.qk_norm, arch.head_dim) == ("qwen3_vl", True, 128)
    # The wrapper's tie_word_embeddings decides; the text part's when the wrapper is silent.
    assert arch.tie_word_embeddings is False
    assert ModelArchitecture.from_mapping(_vl()).tie_word_embeddings is True


def test_a_wrappers_problems_are_located_in_its_text_config() -> None:
    config = _vl()
    config["text_config"]["num_key_value_heads"] = 3
    assert _errors(config) == [
        "$.text_config.num_key_value_heads: 3 does not divide num_attention_heads (4)"
    ]
    config = _vl()
    config["text_config"]["model_type"] = "unheard_of"
    (message,) = _errors(config)
    assert message.startswith("$.text_config.model_type: no reader for str 'unheard_of'")
    assert _errors({"model_type": "gemma3", "text_config": [1]}) == [
        "$.text_config: expected the text model's config object, got list"
    ]
    assert _errors(_vl(tie_word_embeddings="no")) == [
        "$.tie_word_embeddings: expected bool, got str 'no'"
    ]


def test_an_unregistered_wrapper_whose_text_part_names_a_family_is_read() -> None:
    arch = ModelArchitecture.from_mapping({"model_type": "llava", "text_config": _config("llama")})
    assert arch.block_configs == ModelArchitecture.from_mapping(_config("llama")).block_configs
    assert arch.model_type == "llava"


def test_a_wrapper_is_written_back_into_its_text_config() -> None:
    config = _vl(tie_word_embeddings=False)
    arch = ModelArchitecture.from_mapping(config)
    out = arch.to_mapping()
    assert "block_configs" not in out
    assert {key: out[key] for key in out if key != "text_config"} == {
        key: config[key] for key in config if key != "text_config"
    }
    text = out["text_config"]
    assert text["model_type"] == "qwen3_vl_text"
    assert text["qk_norm"] is True  # stated, so that the native dialect reads it back
    reread = ModelArchitecture.from_mapping(out)
    assert reread.dialect == "native"
    assert (reread.block_configs, reread.qk_norm) == (arch.block_configs, True)
    changed = ModelArchitecture.from_mapping(out).with_block_configs(arch.block_configs[:1])
    again = ModelArchitecture.from_mapping(changed.to_mapping())
    assert again.num_hidden_layers == 1
    assert again.to_mapping()["text_config"]["num_hidden_layers"] == 1


# --------------------------------------------------------------------------- family rules


def test_a_deepseek_config_with_a_misspelled_expert_key_is_refused_not_read_as_dense() -> None:
    config = {
        "model_type": "deepseek_v3",
        "hidden_size": 512,
        "num_attention_heads": 4,
        "vocab_size": 1000,
        "num_hidden_layers": 4,
        "intermediate_size": 1024,
        "moe_intermediate_size": 128,
        "num_routed_experts": 8,  # DeepSeek spells it n_routed_experts
        "num_experts_per_tok": 2,
    }
    assert _errors(config) == ["$.n_routed_experts: missing required key"]


def test_qwen_mlp_only_layers_are_a_set() -> None:
    once = ModelArchitecture.from_mapping({**_config("qwen2_moe"), "mlp_only_layers": [3]})
    twice = ModelArchitecture.from_mapping({**_config("qwen2_moe"), "mlp_only_layers": [3, 3]})
    assert once.block_configs == twice.block_configs
    assert (once.qkv_bias, once.shared_expert_gate) == (True, True)


def test_qwen_sliding_window_layers_start_at_max_window_layers() -> None:
    config = {**_config("qwen2"), "use_sliding_window": True, "max_window_layers": 1}
    blocks = ModelArchitecture.from_mapping(config).block_configs
    assert blocks == (_dense(1, 1184), _dense(1, 1184, sliding_window=4096), blocks[1])
    assert blocks[1] is blocks[2]
    # Without use_sliding_window, the window is not used (Qwen2.5's configs carry one).
    plain = ModelArchitecture.from_mapping(_config("qwen2")).block_configs
    assert plain == (_dense(1, 1184),) * 3


def _windows(config: dict[str, Any]) -> list[int | None]:
    blocks = ModelArchitecture.from_mapping(config).block_configs
    return [block.attention.sliding_window for block in blocks]  # type: ignore[union-attr]


def test_qwen3_moe_slides_in_every_layer_whatever_max_window_layers_says() -> None:
    # Qwen3MoeConfig has no max_window_layers: every attention takes config.sliding_window.
    config = {
        **_config("qwen3_moe"),
        "use_sliding_window": True,
        "sliding_window": 64,
        "max_window_layers": 3,
    }
    assert _windows(config) == [64, 64, 64]


def test_qwen2_moe_slides_in_alternate_layers_below_max_window_layers() -> None:
    # Qwen2MoeConfig: layer i slides when (i + 1) is odd and i < max_window_layers.
    config = {**_config("qwen2_moe"), "use_sliding_window": True, "sliding_window": 64}
    assert _windows(config) == [64, None, 64, None, None, None]  # max_window_layers 4
    assert _windows({**config, "max_window_layers": 28}) == [64, None] * 3


#: num_key_value_heads when the key is absent: the configuration class's default (null, or
#: absent for Llama, means one KV head per query head).
_KV_DEFAULTS = {
    "llama": 32,
    "mistral": 8,
    "mixtral": 8,
    "qwen2": 32,
    "qwen3": 32,
    "qwen2_moe": 16,
    "qwen3_moe": 4,
    "nemotron_h": 8,
}


@pytest.mark.parametrize("name", sorted(_KV_DEFAULTS))
def test_absent_kv_heads_take_the_configuration_class_default(name: str) -> None:
    config = {**_config(name), "num_attention_heads": 32, "head_dim": 8}
    config.pop("num_key_value_heads", None)
    blocks = ModelArchitecture.from_mapping(config).block_configs
    kv = {b.attention.num_key_value_heads for b in blocks if b.attention} - {None}
    assert kv == {_KV_DEFAULTS[name]}
    config["num_key_value_heads"] = None  # null: as many as the query heads
    blocks = ModelArchitecture.from_mapping(config).block_configs
    kv = {b.attention.num_key_value_heads for b in blocks if b.attention} - {None}
    assert kv == {32}


@pytest.mark.parametrize("name", ["gpt-oss-20b", "Llama-4-Scout-17B-16E"])
def test_absent_kv_heads_default_to_eight_in_gpt_oss_and_llama4(name: str) -> None:
    config = json.loads((HF.parent / "families" / f"{name}.config.json").read_text())
    text = config.get("text_config", config)
    text.update(num_attention_heads=32, head_dim=8)
    del text["num_key_value_heads"]
    blocks = ModelArchitecture.from_mapping(config).block_configs
    assert {block.attention.num_key_value_heads for block in blocks if block.attention} == {8}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        *[(name, "mlp_bias") for name in ("mistral", "mixtral", "qwen2", "qwen3")],
        *[(name, "mlp_bias") for name in ("qwen2_moe", "qwen3_moe")],
        *[(name, "attention_bias") for name in ("mistral", "mixtral", "qwen2", "qwen2_moe")],
    ],
)
def test_bias_keys_the_modelling_code_never_reads_add_no_parameters(name: str, key: str) -> None:
    from block_config import model_stats

    plain = ModelArchitecture.from_mapping({**_config(name), key: False})
    biased = ModelArchitecture.from_mapping({**_config(name), key: True})
    assert model_stats(biased).total_params == model_stats(plain).total_params
    assert getattr(biased, key) is False
    # Llama reads both.
    llama = ModelArchitecture.from_mapping({**_config("llama"), key: True})
    assert getattr(llama, key) is True


def test_mistral_attends_within_its_sliding_window_when_set() -> None:
    blocks = ModelArchitecture.from_mapping(_config("mistral")).block_configs
    assert blocks == (_dense(8, 1792, sliding_window=4096),) * 3
    config = {**_config("mistral"), "sliding_window": None}
    assert ModelArchitecture.from_mapping(config).block_configs == (_dense(8, 1792),) * 3
    absent = _config("mistral")
    del absent["sliding_window"]  # MistralConfig's default
    assert ModelArchitecture.from_mapping(absent).block_configs == blocks


def _gemma(model_type: str, layers: int, **extra: Any) -> dict[str, Any]:
    return {
        "model_type": model_type,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "num_hidden_layers": layers,
        "vocab_size": 100,
        "sliding_window": 32,
        **extra,
    }


def test_gemma_layer_patterns_and_defaults() -> None:
    gemma2 = ModelArchitecture.from_mapping(_gemma("gemma2", 4))
    windows = [block.attention.sliding_window for block in gemma2.block_configs]  # type: ignore[union-attr]
    assert windows == [32, None, 32, None]
    assert (gemma2.tie_word_embeddings, gemma2.sandwich_norms, gemma2.qk_norm) == (
        True,
        True,
        False,
    )
    gemma3 = ModelArchitecture.from_mapping(_gemma("gemma3_text", 12))
    windows = [block.attention.sliding_window for block in gemma3.block_configs]  # type: ignore[union-attr]
    assert windows == [32] * 5 + [None] + [32] * 5 + [None]
    assert (gemma3.qk_norm, gemma3.sandwich_norms, gemma3.tie_word_embeddings) == (
        True,
        True,
        True,
    )
    listed = ["full_attention", "sliding_attention"]
    typed = ModelArchitecture.from_mapping(_gemma("gemma3_text", 2, layer_types=listed))
    assert [block.attention.sliding_window for block in typed.block_configs] == [None, 32]  # type: ignore[union-attr]
    assert _errors(_gemma("gemma2", 2, layer_types=["full_attention"])) == [
        "$.layer_types: has 1 items but num_hidden_layers is 2"
    ]
    assert _errors(_gemma("gemma2", 1, layer_types=["global"])) == [
        "$.layer_types[0]: expected one of full_attention, sliding_attention, got str 'global'"
    ]


def test_llama4_interleaves_dense_layers_and_chunks_the_rope_layers() -> None:
    config = {
        "model_type": "llama4_text",
        "hidden_size": 64,
        "intermediate_size": 32,
        "intermediate_size_mlp": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "num_hidden_layers": 4,
        "vocab_size": 100,
        "num_local_experts": 4,
        "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 2,
        "attention_chunk_size": 256,
    }
    blocks = ModelArchitecture.from_mapping(config).block_configs
    ffns = [block.ffn for block in blocks]
    assert [ffn.moe is not None for ffn in ffns if ffn is not None] == [False, True, False, True]
    moe = blocks[1].ffn.moe  # type: ignore[union-attr]
    assert moe is not None
    assert (moe.expert_intermediate_dim, moe.shared_expert_intermediate_dim) == (32, 32)
    assert blocks[0].ffn.intermediate_size == 128  # type: ignore[union-attr]
    llama4 = [block.attention.llama4 for block in blocks]  # type: ignore[union-attr]
    assert [(a.use_rope, a.attention_chunk_size) for a in llama4 if a is not None] == [
        (True, 256),
        (True, 256),
        (True, 256),
        (False, None),  # every fourth layer is NoPE and global
    ]


def test_nemotron_h_attention_has_no_biases_whatever_attention_bias_says() -> None:
    # NemotronHAttention builds q, k, v and o with bias=False; attention_bias is not read.
    from block_config import model_stats

    config = _config("nemotron_h")
    biased = ModelArchitecture.from_mapping({**config, "attention_bias": True})
    assert biased.attention_bias is False
    plain = ModelArchitecture.from_mapping({**config, "attention_bias": False})
    assert model_stats(biased).total_params == model_stats(plain).total_params


def test_nemotron_h_mlps_and_experts_are_ungated() -> None:
    arch = ModelArchitecture.load(HF / "nemotron_h.config.json")
    mlp, moe = arch.block_configs[1].ffn, arch.block_configs[4].ffn
    assert mlp is not None
    assert moe is not None
    assert moe.moe is not None
    assert (mlp.is_gated, moe.moe.gated) == (False, False)
    assert arch.router_score_correction_bias


# --------------------------------------------------------------------------- command line


def test_cli_family_reads_an_unknown_model_type(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**_config("llama"), "model_type": "my_llama"}))
    assert main(["show", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "$.model_type: no reader for str 'my_llama'; supported: deepseek_v2" in err
    for command in (["show"], ["validate"], ["plot", "-o", str(tmp_path / "x.png")]):
        if command == ["plot", "-o", str(tmp_path / "x.png")]:
            pytest.importorskip("matplotlib")
        assert main([*command, str(path), "--family", "llama"]) == EXIT_OK
    out = tmp_path / "out.json"
    assert main(["convert", str(path), "--to", "native", "-o", str(out), "--family", "llama"]) == 0
    assert main(["diff", str(path), str(out), "--family", "llama"]) == EXIT_OK
    capsys.readouterr()
    assert main(["show", str(path), "--family", "lama"]) == EXIT_USAGE
    assert "invalid choice: 'lama'" in capsys.readouterr().err


# --------------------------------------------------------------------------- linear attention

FAMILIES = Path(__file__).parent / "data" / "families"


def _family(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FAMILIES / f"{name}.config.json").read_text())
    return data


def _kinds(arch: ModelArchitecture) -> list[str]:
    kinds = []
    for block in arch.block_configs:
        attention = block.attention
        assert attention is not None
        if attention.linear_attention is not None:
            kinds.append(attention.linear_attention.kind)
        elif attention.mla is not None:
            kinds.append("mla")
        else:
            kinds.append("gated" if attention.output_gate else "gqa")
    return kinds


def _qwen3_next(**keys: Any) -> dict[str, Any]:
    config = {**_family("Qwen3-Next-80B-A3B-Instruct"), "num_hidden_layers": 8, **keys}
    return {key: value for key, value in config.items() if value is not None}


def test_qwen3_next_places_full_attention_every_interval_layers() -> None:
    arch = ModelArchitecture.from_mapping(_qwen3_next(full_attention_interval=None))
    assert _kinds(arch) == ["gdn", "gdn", "gdn", "gated"] * 2
    arch = ModelArchitecture.from_mapping(_qwen3_next(full_attention_interval=2))
    assert _kinds(arch) == ["gdn", "gated"] * 4
    linear = arch.block_configs[0].attention
    assert linear is not None
    assert linear.linear_attention is not None
    assert linear.linear_attention.fused_projections
    assert (linear.linear_attention.num_key_heads, linear.linear_attention.num_value_heads) == (
        16,
        32,
    )


def test_qwen3_next_layer_types_and_their_legacy_names() -> None:
    types = ["mamba", "attention", "linear_attention", "full_attention"] * 2
    arch = ModelArchitecture.from_mapping(_qwen3_next(layer_types=types))
    assert _kinds(arch) == ["gdn", "gated"] * 4
    assert _errors(_qwen3_next(layer_types=["linear_attention"] * 7 + ["sliding_attention"])) == [
        "$.layer_types[7]: expected one of linear_attention, full_attention, mamba, attention, "
        "got str 'sliding_attention'"
    ]
    assert _errors(_qwen3_next(layer_types=["linear_attention"] * 3)) == [
        "$.layer_types: has 3 items but num_hidden_layers is 8"
    ]


def test_qwen3_next_defaults_and_dense_layers() -> None:
    config = _qwen3_next(head_dim=None, num_key_value_heads=None, mlp_only_layers=[0, 5])
    arch = ModelArchitecture.from_mapping(config)
    assert arch.head_dim == 256
    full = arch.block_configs[3].attention
    assert full is not None
    assert full.num_key_value_heads == 2
    dense = [block.ffn is not None and block.ffn.moe is None for block in arch.block_configs]
    assert dense == [True, False, False, False, False, True, False, False]
    assert arch.block_configs[0].ffn == FFNConfig(intermediate_size=5632)
    none = ModelArchitecture.from_mapping(_qwen3_next(num_experts=0))
    assert all(block.ffn is not None and block.ffn.moe is None for block in none.block_configs)
    assert _errors(_qwen3_next(mlp_only_layers=[9])) == [
        "$.mlp_only_layers[0]: layer 9 does not exist (num_hidden_layers is 8)"
    ]
    assert _errors(_qwen3_next(linear_num_value_heads=None)) == [
        "$.linear_num_value_heads: missing required key"
    ]


def test_qwen3_5_is_read_through_its_text_config_with_a_gate_whatever_the_config_says() -> None:
    config = _family("Qwen3.5-35B-A3B")
    config["text_config"] = {**config["text_config"], "attn_output_gate": False}
    arch = ModelArchitecture.from_mapping(config)
    assert arch.model_type == "qwen3_5_moe"
    assert _kinds(arch)[:4] == ["gdn", "gdn", "gdn", "gated"]
    assert arch.mamba_ssm_cache_dtype == "float32"
    assert arch.shared_expert_gate
    linear = arch.block_configs[0].attention
    assert linear is not None
    assert linear.linear_attention is not None
    assert not linear.linear_attention.fused_projections


def test_qwen3_5_dense_text_model() -> None:
    text = {
        "model_type": "qwen3_5_text",
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "vocab_size": 100,
        "linear_num_key_heads": 2,
        "linear_key_head_dim": 8,
        "linear_num_value_heads": 4,
        "linear_value_head_dim": 8,
    }
    config = {"model_type": "qwen3_5", "tie_word_embeddings": True, "text_config": text}
    arch = ModelArchitecture.from_mapping(config)
    assert arch.tie_word_embeddings
    assert not arch.shared_expert_gate
    assert (arch.head_dim, arch.block_configs[3].attention) == (
        256,
        AttentionConfig(num_key_value_heads=4, output_gate=True),
    )
    assert all(block.ffn == FFNConfig(intermediate_size=96) for block in arch.block_configs)


def _kimi(**keys: Any) -> dict[str, Any]:
    config = {**_family("Kimi-Linear-48B-A3B-Instruct"), **keys}
    return {key: value for key, value in config.items() if value is not None}


def test_kimi_linear_numbers_its_layers_from_one() -> None:
    arch = ModelArchitecture.from_mapping(_kimi())
    kinds = _kinds(arch)
    assert [index + 1 for index, kind in enumerate(kinds) if kind == "mla"] == [
        4,
        8,
        12,
        16,
        20,
        24,
        27,
    ]
    assert kinds.count("kda") == 20
    assert arch.block_configs[0].ffn == FFNConfig(intermediate_size=9216)
    moe = arch.block_configs[1].ffn
    assert moe is not None
    assert moe.moe is not None
    assert (moe.moe.num_local_experts, moe.moe.num_experts_per_tok) == (256, 8)
    assert moe.moe.shared_expert_intermediate_dim == 1024


def test_kimi_linear_refuses_a_layer_map_that_leaves_a_layer_out() -> None:
    layout = _family("Kimi-Linear-48B-A3B-Instruct")["linear_attn_config"]
    short = {**layout, "kda_layers": layout["kda_layers"][1:]}
    assert _errors(_kimi(linear_attn_config=short)) == [
        "$.linear_attn_config.kda_layers: layer 1 is in neither full_attn_layers nor kda_layers"
    ]
    past = {**layout, "full_attn_layers": [*layout["full_attn_layers"][:-1], 28]}
    assert _errors(_kimi(linear_attn_config=past)) == [
        "$.linear_attn_config.full_attn_layers[6]: layer 28 does not exist (layers are numbered "
        "from 1 to 27)"
    ]


def test_kimi_linear_layer_types_win_over_the_layer_map() -> None:
    types = ["linear_attention"] * 26 + ["full_attention"]
    mlp = ["sparse"] * 27
    arch = ModelArchitecture.from_mapping(_kimi(layer_types=types, mlp_layer_types=mlp))
    assert _kinds(arch) == ["kda"] * 26 + ["mla"]
    assert all(block.ffn is not None and block.ffn.moe is not None for block in arch.block_configs)
    assert _errors(_kimi(mlp_layer_types=["moe"] * 27))[0] == (
        "$.mlp_layer_types[0]: expected one of dense, sparse, got str 'moe'"
    )


def test_kimi_linear_without_a_layer_map_follows_the_configuration_class() -> None:
    arch = ModelArchitecture.from_mapping(_kimi(linear_attn_config=None, num_hidden_layers=9))
    assert _kinds(arch) == ["kda"] * 4 + ["mla"] + ["kda"] * 3 + ["mla"]


def test_a_config_read_as_a_linear_attention_family_needs_that_familys_keys() -> None:
    llama = _config("llama")
    assert _errors(llama, family="qwen3_next") == [
        "$.linear_num_key_heads: missing required key",
        "$.linear_key_head_dim: missing required key",
        "$.linear_num_value_heads: missing required key",
        "$.linear_value_head_dim: missing required key",
        "$.shared_expert_intermediate_size: missing required key",
        "$.num_experts: missing required key",
        "$.num_experts_per_tok: missing required key",
        "$.moe_intermediate_size: missing required key",
    ]
    assert _errors(llama, family="kimi_linear") == [
        "$.num_experts: missing required key",
        "$.num_experts_per_token: missing required key",
        "$.moe_intermediate_size: missing required key",
    ]
