"""transformers' ``per_layer_config``: read on every family as transformers applies it, never
ignored, and written back so that transformers' own configuration class reads the same."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from published import SUPER, ULTRA, needs_published

from block_config import (
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    ConversionWarning,
    FFNConfig,
    ModelArchitecture,
    model_stats,
    readers,
)

DATA = Path(__file__).parent / "data"
DOCS = DATA / "dialects" / "llama-per-layer-docs-example.config.json"
ANY_MODEL = DATA / "dialects" / "anymodel-llama-deploy.config.json"
FAMILIES = DATA / "families"


def config(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def messages(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def with_overrides(overrides: Any, path: Path = DOCS) -> dict[str, Any]:
    data = config(path)
    data["per_layer_config"] = overrides
    return data


class TestTheDocsExample:
    def test_every_override_is_applied(self) -> None:
        model = ModelArchitecture.load(DOCS)
        assert model.dialect == "per-layer"
        assert model.model_type == "llama"
        plain = BlockConfig(
            attention=AttentionConfig(num_key_value_heads=8),
            ffn=FFNConfig(intermediate_size=14336),
        )
        expected = [plain] * 32
        expected[5] = BlockConfig(attention=plain.attention, ffn=FFNConfig(intermediate_size=8192))
        expected[11] = BlockConfig(attention=AttentionConfig(num_key_value_heads=4), ffn=plain.ffn)
        expected[23] = BlockConfig(attention=plain.attention, ffn=FFNConfig(no_op=True))
        expected[27] = BlockConfig(attention=AttentionConfig(no_op=True), ffn=plain.ffn)
        assert list(model.block_configs) == expected

    def test_counts_equal_transformers_layer_by_layer(self) -> None:
        # tests/data/dialects/SOURCES.md: transformers 5.25, each layer built from
        # config.per_layer_config[i] on the meta device.
        assert model_stats(ModelArchitecture.load(DOCS)).total_params == 6_943_928_320
        homogeneous = config(DOCS)
        del homogeneous["per_layer_config"]
        assert model_stats(ModelArchitecture.from_mapping(homogeneous)).total_params > (
            6_943_928_320
        )

    def test_keys_as_transformers_reads_them(self) -> None:
        padded = ModelArchitecture.load(DOCS)
        spelled = with_overrides(
            {"5": {"intermediate_size": 8192}, "11": {"num_key_value_heads": 4},
             "023": {"skip": ["mlp", "mlp"]}, "27": {"skip": ["attention"]}}
        )  # fmt: skip
        assert ModelArchitecture.from_mapping(spelled).block_configs == padded.block_configs


def test_the_anymodel_deploy_form_reads_as_its_base_architecture() -> None:
    model = ModelArchitecture.load(ANY_MODEL)
    assert (model.dialect, model.model_type) == ("per-layer", "llama")
    assert [block.attention.no_op for block in model.block_configs if block.attention] == [
        False, True, False, False,
    ]  # fmt: skip
    third = model.block_configs[2]
    assert third.attention == AttentionConfig(num_key_value_heads=4)
    assert third.ffn == FFNConfig(intermediate_size=8192)
    assert model.block_configs[3].ffn == FFNConfig(no_op=True)
    assert model_stats(model).total_params == 1_625_321_472  # transformers 5.25, SOURCES.md
    unknown = config(ANY_MODEL)
    unknown["base_architecture"] = "FalconForCausalLM"
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(unknown)
    assert messages(error)[0].startswith(
        "$.base_architecture: an AnyModel config is read as its base architecture; expected "
        "one of DeepseekV2ForCausalLM,"
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FAMILIES.glob("*.config.json")))
def test_no_family_reads_a_per_layer_config_as_homogeneous(name: str) -> None:
    data = config(FAMILIES / name)
    part = data.get("text_config", data)
    part["per_layer_config"] = {}
    model = ModelArchitecture.from_mapping(data)
    assert model.dialect == "per-layer"
    del part["per_layer_config"]
    if "global_head_dim" in part:
        # Gemma 4's class reads global_head_dim only without per_layer_config: an empty one
        # leaves the global layers at the model's head width.
        assert model.block_configs != ModelArchitecture.from_mapping(data).block_configs
        del part["global_head_dim"]
        part["per_layer_config"] = {}
        assert model.block_configs == ModelArchitecture.from_mapping(data).block_configs
        return
    assert model.block_configs == ModelArchitecture.from_mapping(data).block_configs


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"05": {"rope_theta": 500000.0}},
            "$.per_layer_config.05.rope_theta: llama layers are not read with their own "
            "rope_theta: block-config reads no per-layer value it does not model (per-layer "
            "attributes of llama: head_dim, intermediate_size, num_key_value_heads)",
        ),
        (
            {"3": {"hidden_size": 2048}},
            "$.per_layer_config.3.hidden_size: llama layers are not read with their own "
            "hidden_size",
        ),
        ({"32": {"intermediate_size": 8}}, "$.per_layer_config.32: layer 32 is outside [0, 32)"),
        ({"-1": {}}, "$.per_layer_config['-1']: expected a layer index"),
        ({" 5": {}}, "$.per_layer_config[' 5']: expected a layer index"),
        ({"9" * 5000: {}}, "$.per_layer_config." + "9" * 5000 + ": a layer index is outside"),
        ({"0" * 30 + "7": {"intermediate_size": 8}}, None),
        (
            {"5": {"intermediate_size": 8}, "05": {"intermediate_size": 16}},
            "$.per_layer_config.05: layer 5 is given twice, also as '5'",
        ),
        ({"5": {"skip": "mlp"}}, "$.per_layer_config.5.skip: expected a list of str, got str"),
        ({"5": {"skip": [1]}}, "$.per_layer_config.5.skip[0]: expected str, got int 1"),
        (
            {"5": {"skip": ["mixer"]}},
            "$.per_layer_config.5.skip[0]: llama layers have no subblock 'mixer' to skip "
            "(expected one of: attention, mlp)",
        ),
        ({"5": [8192]}, "$.per_layer_config.5: expected an object of attribute overrides"),
        (
            {"5": {"intermediate_size": "8192"}},
            "$.per_layer_config.5.intermediate_size: expected int, got str '8192'",
        ),
        (
            {"5": {"intermediate_size": 8192.0}},
            "$.per_layer_config.5.intermediate_size: expected int, got float",
        ),
        (
            {"5": {"num_key_value_heads": 5}},
            "$.per_layer_config.5.num_key_value_heads: 5 does not divide num_attention_heads",
        ),
        ([{"intermediate_size": 8}], "$.per_layer_config: expected an object of per-layer"),
    ],
)
def test_what_is_not_read_is_an_error_at_its_path(overrides: Any, expected: str | None) -> None:
    if expected is None:  # read, as transformers reads it
        ModelArchitecture.from_mapping(with_overrides(overrides))
        return
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(with_overrides(overrides))
    assert messages(error)[0].startswith(expected), messages(error)


def test_overrides_outside_the_layers_read_are_refused() -> None:
    scout = config(FAMILIES / "Llama-4-Scout-17B-16E.config.json")
    scout["per_layer_config"] = {"3": {"intermediate_size": 8}}
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(scout)
    assert messages(error) == [
        "$.per_layer_config: per-layer overrides of a multimodal wrapper: its layers are read "
        "from text_config, so they belong in text_config.per_layer_config; nothing is read "
        "while ignoring them"
    ]
    docs = config(DOCS)
    docs["mtp_per_layer_config"] = {"0": {"intermediate_size": 8}}
    with pytest.raises(BlockConfigError, match=r"^\$\.mtp_per_layer_config: per-layer overrides"):
        ModelArchitecture.from_mapping(docs)


def test_every_problem_at_once() -> None:
    overrides = {"05": {"rope_theta": 1.0}, "40": {}, "7": {"skip": "attention"}}
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(with_overrides(overrides))
    assert [m.split(":")[0] for m in messages(error)] == [
        "$.per_layer_config.05.rope_theta",
        "$.per_layer_config.40",
        "$.per_layer_config.7.skip",
    ]


def test_a_layer_with_a_window_and_a_chunk_is_refused() -> None:
    scout = config(FAMILIES / "Llama-4-Scout-17B-16E.config.json")
    text = scout["text_config"]
    # Every layer but the NoPE ones (chunk null) would have both: transformers refuses it.
    text["sliding_window"] = 4096
    text["per_layer_config"] = {
        str(index): {"attention_chunk_size": None} for index in range(0, 48, 2)
    }
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(scout)
    odd = list(range(1, 48, 2))
    assert messages(error) == [
        f"$.text_config.per_layer_config: layers {odd} have both sliding_window and "
        "attention_chunk_size, which exclude each other: set one of them to null for those "
        "layers"
    ]
    text["per_layer_config"] = {"2": {"sliding_window": 4096}}
    with pytest.raises(BlockConfigError, match=r"llama4_text layers are not read with their own"):
        ModelArchitecture.from_mapping(scout)


def test_a_layers_own_head_count_and_width() -> None:
    qwen = config(FAMILIES / "Qwen3-0.6B.config.json")  # 16 heads of 128, 8 KV heads
    qwen["per_layer_config"] = {"3": {"num_attention_heads": 32, "head_dim": 64}}
    model = ModelArchitecture.from_mapping(qwen)
    attention = model.block_configs[3].attention
    assert attention == AttentionConfig(num_key_value_heads=8, num_attention_heads=32, head_dim=64)
    # Overrides equal to the globals change nothing, as transformers drops them.
    qwen["per_layer_config"] = {"3": {"num_attention_heads": 16}}
    same = ModelArchitecture.from_mapping(qwen)
    assert same.block_configs[3] == same.block_configs[4]
    # A layer's own head count keeps the global head_dim (the class derives it once).
    del qwen["head_dim"]
    qwen["per_layer_config"] = {"3": {"num_attention_heads": 8}}
    layer = ModelArchitecture.from_mapping(qwen).block_configs[3].attention
    assert layer is not None
    assert (layer.num_attention_heads, layer.head_dim) == (8, None)


def test_a_layers_own_head_count_where_the_class_refuses_it() -> None:
    # LlamaConfig checks hidden_size against the global head count, which transformers 5.25
    # refuses to read on a config whose layers have their own.
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(with_overrides({"3": {"num_attention_heads": 16}}))
    assert messages(error)[0].startswith(
        "$.per_layer_config.3.num_attention_heads: llama layers are not read with their own "
        "num_attention_heads"
    )
    model = ModelArchitecture.load(DOCS)
    own = AttentionConfig(num_key_value_heads=8, num_attention_heads=16)
    child = model.with_block_configs(
        [BlockConfig(attention=own, ffn=FFNConfig(intermediate_size=8)), *model.block_configs[1:]]
    )
    with pytest.raises(BlockConfigError, match=r"^\$\.block_configs\[0\]: the llama family"):
        child.to_mapping("per-layer")


def test_a_family_that_names_its_mixer() -> None:
    nano = config(FAMILIES / "NVIDIA-Nemotron-3-Nano-30B-A3B.config.json")
    nano["per_layer_config"] = {"0": {"skip": ["mixer"]}, "1": {"num_local_experts": 64}}
    model = ModelArchitecture.from_mapping(nano)
    first = model.block_configs[0]
    assert first.attention == AttentionConfig(no_op=True)
    assert first.ffn == FFNConfig(no_op=True)
    moe = model.block_configs[1].ffn
    assert moe is not None
    assert moe.moe is not None
    assert moe.moe.num_local_experts == 64
    nano["per_layer_config"] = {"0": {"skip": ["attention"]}}
    with pytest.raises(BlockConfigError, match=r"no subblock 'attention' to skip"):
        ModelArchitecture.from_mapping(nano)


class TestWriting:
    def test_the_docs_example_is_written_as_read(self) -> None:
        model = ModelArchitecture.load(DOCS)
        assert model.to_mapping() == config(DOCS)
        fresh = ModelArchitecture(
            hidden_size=model.hidden_size,
            num_attention_heads=model.num_attention_heads,
            vocab_size=model.vocab_size,
            block_configs=model.block_configs,
            model_type="llama",
        )
        out = fresh.to_mapping("per-layer")
        assert out["per_layer_config"] == config(DOCS)["per_layer_config"]
        assert (out["intermediate_size"], out["num_key_value_heads"]) == (14336, 8)
        assert out["architectures"] == ["LlamaForCausalLM"]
        assert ModelArchitecture.from_mapping(out).block_configs == model.block_configs

    @needs_published
    @pytest.mark.parametrize("path", [SUPER, ULTRA], ids=["super", "ultra"])
    def test_a_nemotron_nas_model_becomes_llama(self, path: Path) -> None:
        model = ModelArchitecture.load(path)
        with pytest.warns(ConversionWarning, match="auto_map"):
            out = model.to_mapping("per-layer")
        assert (out["model_type"], out["architectures"]) == ("llama", ["LlamaForCausalLM"])
        assert "block_configs" not in out
        keys = list(out["per_layer_config"])
        assert keys == sorted(keys)
        assert len({len(key) for key in keys}) == 1  # zero-padded to one width
        back = ModelArchitecture.from_mapping(out)
        assert back.dialect == "per-layer"
        assert back.block_configs == model.block_configs
        assert model_stats(back).total_params == model_stats(model).total_params

    def test_what_the_family_cannot_say_is_refused_at_the_layer(self) -> None:
        blocks = [
            BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 14336}),
            BlockConfig(
                attention={"replace_with_linear": True, "num_key_value_heads": 8},
                ffn={"intermediate_size": 14336},
            ),
            BlockConfig(
                attention={"num_key_value_heads": 8},
                ffn={"intermediate_size": 14336},
                parallel_blocks=[BlockConfig(attention={"no_op": True}, ffn={"no_op": True})],
            ),
            BlockConfig(attention={"num_key_value_heads": 8}, ffn={"moe": {}}),
        ]
        model = ModelArchitecture(
            hidden_size=4096,
            num_attention_heads=32,
            vocab_size=32000,
            block_configs=blocks,
            model_type="llama",
        )
        with pytest.raises(BlockConfigError) as error:
            model.to_mapping("per-layer")
        assert [m.split(": ")[0] for m in messages(error)] == [
            "$.block_configs[1].attention.replace_with_linear",
            "$.block_configs[2].parallel_blocks",
        ]
        without = model.with_block_configs([blocks[0], blocks[3]])
        with pytest.raises(BlockConfigError) as error:
            without.to_mapping("per-layer")
        assert messages(error)[0].startswith(
            "$.block_configs[1]: the llama family cannot express this layer"
        )

    def test_a_model_of_no_family_is_refused(self) -> None:
        model = ModelArchitecture(
            hidden_size=64,
            num_attention_heads=4,
            vocab_size=100,
            block_configs=[BlockConfig(attention={"num_key_value_heads": 4}, ffn={"no_op": True})],
        )
        with pytest.raises(BlockConfigError, match=r"^\$\.model_type: cannot write null"):
            model.to_mapping("per-layer")

    def test_a_nemotron_h_model_writes_its_layer_kinds(self) -> None:
        nano = ModelArchitecture.load(FAMILIES / "NVIDIA-Nemotron-3-Nano-30B-A3B.config.json")
        blocks = list(nano.block_configs)
        blocks[0] = BlockConfig(attention={"no_op": True}, ffn={"no_op": True})
        child = nano.with_block_configs(blocks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConversionWarning)
            out = child.to_mapping("per-layer")
        assert "hybrid_override_pattern" not in out
        # Padded to the widest index present, as transformers pads.
        assert out["per_layer_config"] == {"0": {"skip": ["mixer"]}}
        assert out["layers_block_type"][:3] == ["moe", "moe", "linear_attention"]
        assert ModelArchitecture.from_mapping(out).block_configs == child.block_configs


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_transformers_own_configuration_class_reads_what_is_written(family: str) -> None:
    transformers = pytest.importorskip(
        "transformers", reason="transformers is installed by the interop nox session"
    )
    model = ModelArchitecture.load(DOCS)
    if family == "qwen3":
        model = ModelArchitecture.load(FAMILIES / "Qwen3-0.6B.config.json")
    heads, head_dim = model.num_attention_heads, model.head_dim
    child = list(model.block_configs)
    child[3] = BlockConfig(
        attention=AttentionConfig(
            num_key_value_heads=2,
            num_attention_heads=heads * 2 if family == "qwen3" else None,
            head_dim=64,
        ),
        ffn=FFNConfig(intermediate_size=4096),
    )
    child[6] = BlockConfig(attention=AttentionConfig(no_op=True), ffn=FFNConfig(no_op=True))
    out = model.with_block_configs(child).to_mapping("per-layer")
    theirs = transformers.AutoConfig.for_model(**copy.deepcopy(out))
    assert theirs.is_heterogeneous
    for index, block in enumerate(child):
        layer = theirs.per_layer_config[index]
        attention, ffn = block.attention, block.ffn
        assert attention is not None
        assert ffn is not None
        skip = set(layer.skip)
        assert ("attention" in skip) == attention.no_op
        assert ("mlp" in skip) == ffn.no_op
        if not attention.no_op:
            assert layer.num_key_value_heads == attention.num_key_value_heads
            assert layer.num_attention_heads == (attention.num_attention_heads or heads)
            assert layer.head_dim == (attention.head_dim or head_dim)
        if not ffn.no_op:
            assert layer.intermediate_size == ffn.intermediate_size


def test_registry_knows_each_familys_per_layer_attributes() -> None:
    spec = readers.per_layer_of("gpt_oss")
    assert spec is not None
    assert {"num_local_experts", "sliding_window"} <= spec.attributes
    assert readers.per_layer_of("no-such-family") is None
    assert readers.architecture_of("nemotron_h") == "NemotronHForCausalLM"


class TestTheCommandLine:
    def test_convert_to_per_layer_and_show_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from block_config._cli import EXIT_INVALID, EXIT_OK, main

        nas = tmp_path / "nas.json"
        native = ModelArchitecture.load(DOCS)
        nas.write_text(json.dumps(native.to_mapping("legacy")), encoding="utf-8")
        target = tmp_path / "out" / "config.json"
        assert main(["convert", str(nas), "--to", "per-layer", "-o", str(target)]) == EXIT_OK
        assert "per-layer dialect" in capsys.readouterr().out
        written = config(target)
        assert written["model_type"] == "llama"
        assert "block_configs" not in written
        assert ModelArchitecture.load(target).block_configs == native.block_configs
        assert main(["show", str(target), "--json"]) == EXIT_OK
        assert json.loads(capsys.readouterr().out)["dialect"] == "per-layer"
        linear = native.with_block_configs(
            [
                BlockConfig(
                    attention={"replace_with_linear": True, "num_key_value_heads": 8},
                    ffn={"intermediate_size": 14336},
                ),
                *native.block_configs[1:],
            ]
        )
        bad = tmp_path / "linear.json"
        bad.write_text(json.dumps(linear.to_mapping("native")), encoding="utf-8")
        refused = tmp_path / "refused.json"
        assert main(["convert", str(bad), "--to", "per-layer", "-o", str(refused)]) == (
            EXIT_INVALID
        )
        assert "$.block_configs[0].attention.replace_with_linear" in capsys.readouterr().err
        assert not refused.exists()


# --------------------------------------------------------------------------- linear attention

QWEN3_NEXT = FAMILIES / "Qwen3-Next-80B-A3B-Instruct.config.json"
KIMI_LINEAR = FAMILIES / "Kimi-Linear-48B-A3B-Instruct.config.json"


def test_a_linear_attention_layer_reads_its_own_widths_and_a_gated_layer_its_heads() -> None:
    overrides = {
        "3": {"num_key_value_heads": 4, "head_dim": 128},
        "4": {"linear_num_value_heads": 16},
        "5": {"head_dim": 128},  # a Gated DeltaNet layer: its widths are its own
    }
    model = ModelArchitecture.from_mapping(with_overrides(overrides, QWEN3_NEXT))
    gated = model.block_configs[3].attention
    assert gated == AttentionConfig(num_key_value_heads=4, head_dim=128, output_gate=True)
    linear = model.block_configs[4].attention
    assert linear is not None
    assert linear.linear_attention is not None
    assert linear.linear_attention.num_value_heads == 16
    assert model.block_configs[5] == model.block_configs[6]
    stats = model_stats(model)
    plain = model_stats(ModelArchitecture.load(QWEN3_NEXT))
    gqa = plain.kv_cache_bytes_per_token - 2 * 2 * 256 * 2 + 2 * 4 * 128 * 2
    assert stats.kv_cache_bytes_per_token == gqa
    assert stats.layers[3].attention.params != plain.layers[3].attention.params
    state = stats.layers[4].linear_attention_state_bytes_per_sequence
    assert state == ((2 * 16 * 128 + 16 * 128) * 3 + 16 * 128 * 128) * 2


def test_kimi_linear_layers_do_not_take_kda_widths_of_their_own() -> None:
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(with_overrides({"4": {"linear_head_dim": 64}}, KIMI_LINEAR))
    assert messages(error)[0].startswith(
        "$.per_layer_config.4.linear_head_dim: kimi_linear layers are not read with their own "
        "linear_head_dim"
    )
    with pytest.raises(BlockConfigError) as error:
        ModelArchitecture.from_mapping(with_overrides({"4": {"skip": ["mlp"]}}, KIMI_LINEAR))
    assert messages(error)[0].startswith("$.per_layer_config.4.skip")
    model = ModelArchitecture.from_mapping(
        with_overrides({"3": {"kv_lora_rank": 256}}, KIMI_LINEAR)
    )
    latent = model.block_configs[3].attention
    assert latent is not None
    assert latent.mla is not None
    assert latent.mla.kv_lora_rank == 256


@pytest.mark.parametrize("path", [QWEN3_NEXT, KIMI_LINEAR])
def test_linear_attention_families_are_written_per_layer_and_read_back(path: Path) -> None:
    model = ModelArchitecture.load(path)
    blocks = list(model.block_configs)
    first = blocks[0].attention
    assert first is not None
    assert first.linear_attention is not None
    if path == QWEN3_NEXT:
        wider = attrs.evolve(first.linear_attention, num_value_heads=64)
        blocks[0] = attrs.evolve(blocks[0], attention=attrs.evolve(first, linear_attention=wider))
    child = model.with_block_configs(blocks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)  # Kimi's auto_map is kept
        out = child.to_mapping("per-layer")
    assert out["layer_types"] == [
        "linear_attention"
        if block.attention is not None and block.attention.linear_attention is not None
        else "full_attention"
        for block in child.block_configs
    ]
    if path == QWEN3_NEXT:
        assert out["per_layer_config"] == {"0": {"linear_num_value_heads": 64}}
    assert ModelArchitecture.from_mapping(out).block_configs == child.block_configs
