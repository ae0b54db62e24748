"""``family=...`` reads a config as another family only when nothing it says is left out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from block_config import BlockConfigError, ModelArchitecture, UnknownKeyWarning, readers
from block_config._cli import main
from block_config._keys import ConfigReader, recorded_keys
from block_config.readers._family_check import NOT_ARCHITECTURE, check_family_reads

FAMILIES = Path(__file__).parent / "data" / "families"


def _fixture(name: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((FAMILIES / f"{name}.config.json").read_text())
    return config


def _errors(config: dict[str, Any], family: str) -> list[str]:
    with pytest.raises(BlockConfigError) as info:
        ModelArchitecture.from_mapping(config, family=family)
    return [str(problem) for problem in info.value.problems]


def test_a_key_the_family_ignores_and_the_own_family_reads_is_refused() -> None:
    # Mixtral's experts, read as Llama, would vanish from every count.
    assert _errors(_fixture("Mixtral-8x7B-Instruct-v0.1"), "llama") == [
        f"$.{key}: read as llama (family=llama), whose reader does not look at this key; "
        "str 'mixtral' configs (its model_type) are read with it, so the counts would leave "
        "it out"
        for key in ("num_experts_per_tok", "num_local_experts")
    ]
    # Qwen3-Next's linear-attention layers and experts, read as Llama.
    paths = [
        error.split(":")[0] for error in _errors(_fixture("Qwen3-Next-80B-A3B-Instruct"), "llama")
    ]
    assert {"$.full_attention_interval", "$.linear_num_value_heads", "$.num_experts"} <= set(paths)
    assert "$.rope_theta" not in paths  # changes no count in any family
    # Mistral's sliding window, read as Llama, would be a full cache.
    assert [e.split(":")[0] for e in _errors(_fixture("Mistral-7B-v0.1"), "llama")] == [
        "$.sliding_window"
    ]


def test_a_default_of_the_family_a_config_of_another_family_lacks_is_refused() -> None:
    errors = _errors(_fixture("Llama-3.1-8B"), "gemma4_text")
    assert (
        "$.hidden_size_per_layer_input: missing: read as gemma4_text (family=gemma4_text), "
        "its reader takes gemma4_text's default int 256, which str 'llama' configs (its "
        "model_type) do not say; state it, or read the config as its own family"
    ) in errors
    assert {error.split(":")[0] for error in errors} >= {
        "$.hidden_size_per_layer_input",
        "$.vocab_size_per_layer_input",
        "$.sliding_window",
    }
    # Gemma 2 alternates its windows one to one; Gemma 3's default is five to one.
    (error,) = _errors(_fixture("gemma-2-2b"), "gemma3_text")
    assert error.startswith("$.sliding_window_pattern: missing: read as gemma3_text")


def test_a_family_that_reads_everything_the_config_says_reads_it() -> None:
    llama = _fixture("Llama-3.1-8B")
    arch = ModelArchitecture.from_mapping(llama, family="qwen3")
    assert arch.block_configs == ModelArchitecture.from_mapping(llama).block_configs
    # Mistral's class has a 4,096-token window unless the config says null.
    (error,) = _errors(llama, "mistral")
    assert error.startswith("$.sliding_window: missing: read as mistral (family=mistral), its ")
    assert "default int 4096, which str 'llama' configs (its model_type) do not say" in error
    stated = ModelArchitecture.from_mapping({**llama, "sliding_window": None}, family="mistral")
    assert stated.block_configs == ModelArchitecture.from_mapping(llama).block_configs
    # Qwen2 reads every key Llama reads and adds its fixed q/k/v biases, as the user asked.
    assert ModelArchitecture.from_mapping(llama, family="qwen2").qkv_bias is True
    # Olmo-Hybrid reads a (mislabelled) Olmo-Hybrid config whole.
    hybrid = {**_fixture("Olmo-Hybrid-7B"), "model_type": "olmo3"}
    assert ModelArchitecture.from_mapping(hybrid, family="olmo_hybrid").block_configs == (
        ModelArchitecture.load(FAMILIES / "Olmo-Hybrid-7B.config.json").block_configs
    )


def test_an_unknown_model_type_is_checked_against_every_family() -> None:
    config = {**_fixture("Mixtral-8x7B-Instruct-v0.1"), "model_type": "my_mixtral"}
    errors = _errors(config, "llama")
    assert [error.split(":")[0] for error in errors] == [
        "$.num_experts_per_tok",
        "$.num_local_experts",
    ]
    assert "whose reader does not look at this key; the " in errors[1]
    # The readers that look at the most of it come first (gpt-oss's and DeepSeek-V4's, which
    # reads num_local_experts and intermediate_size as its class's attribute map does, tie).
    named = errors[1].split("; the ")[1].split(" readers read it")[0].split(", ")
    assert "mixtral" in named[:3]
    # The right family reads it.
    arch = ModelArchitecture.from_mapping(config, family="mixtral")
    assert (
        arch.block_configs
        == ModelArchitecture.from_mapping(_fixture("Mixtral-8x7B-Instruct-v0.1")).block_configs
    )


@pytest.mark.parametrize(
    "path",
    sorted(FAMILIES.glob("*.config.json")),
    ids=lambda path: path.name.removesuffix(".config.json"),
)
def test_a_published_config_under_an_unknown_name_reads_as_its_family(path: Path) -> None:
    config = json.loads(path.read_text())
    choice = readers.choose(config)
    if choice.text_key is not None:
        pytest.skip("a wrapper: its text part is read with its own text model_type")
    assert choice.model_type is not None
    renamed = {**config, "model_type": "my_model"}
    arch = ModelArchitecture.from_mapping(renamed, family=choice.model_type)
    assert arch.block_configs == ModelArchitecture.from_mapping(config).block_configs


def test_warn_reads_the_config_and_says_what_was_left_out() -> None:
    config = _fixture("Mixtral-8x7B-Instruct-v0.1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arch = ModelArchitecture.from_mapping(config, family="llama", unknown_keys="warn")
    ffn = arch.block_configs[0].ffn
    assert ffn is not None
    assert ffn.moe is None  # read as the user said, with the warnings
    messages = [str(warning.message) for warning in caught]
    assert all(warning.category is UnknownKeyWarning for warning in caught)
    assert [message.split(":")[0] for message in messages] == [
        "$.num_experts_per_tok",
        "$.num_local_experts",
    ]


def test_the_cli_names_the_keys_the_family_leaves_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = FAMILIES / "Mixtral-8x7B-Instruct-v0.1.config.json"
    assert main(["show", str(path), "--family", "llama"]) == 1
    err = capsys.readouterr().err
    assert "$.num_local_experts: read as llama (family=llama), whose reader does not" in err
    assert main(["show", str(path), "--family", "mixtral"]) == 0


def test_recorded_keys_note_each_lookup_with_its_value_and_only_while_active() -> None:
    config = {"a": 1, "b": 2, "c": None}
    with recorded_keys(config) as (recording, log):
        assert recording.get("a") == 1
        assert "z" not in recording
        keys = ConfigReader({**recording})  # a copy a reader makes is recorded too
        assert keys.integer("b") == 2
        assert keys.integer("d", default=7) == 7
    assert log == {"a": 1, "z": None, "b": 2, "d": 7}
    after = ConfigReader(config)
    after.integer("c")
    assert log == {"a": 1, "z": None, "b": 2, "d": 7}


def test_a_value_that_switches_nothing_on_is_not_refused() -> None:
    problems: list[str] = []
    config = {"model_type": "x", "off": False, "none": None, "zero": 0, "empty": [], "on": 8}
    with pytest.raises(BlockConfigError) as info:
        check_family_reads(
            config,
            "llama",
            {},
            {"other": lambda mapping: [mapping.get(key) for key in mapping]},
            own=False,
            unknown_keys="error",
        )
    problems = [str(problem) for problem in info.value.problems]
    assert [problem.split(":")[0] for problem in problems] == ["$.on"]
    assert "model_type" in NOT_ARCHITECTURE


def test_nemotron_h_mamba_biases_it_does_not_count_are_refused() -> None:
    config = _fixture("Nemotron-H-8B-Base-8K")
    for key, value, message in (
        ("use_conv_bias", False, "a Mamba conv1d without bias is not counted"),
        ("mamba_conv_bias", False, "a Mamba conv1d without bias is not counted"),
        ("use_bias", True, "biases on the Mamba in_proj and out_proj are not counted"),
    ):
        with pytest.raises(BlockConfigError) as info:
            ModelArchitecture.from_mapping({**config, key: value})
        assert [str(problem) for problem in info.value.problems] == [
            f"$.{key}: not supported: {message}"
        ]
    # transformers' defaults, stated, read as before.
    stated = {**config, "use_conv_bias": True, "use_bias": False}
    assert (
        ModelArchitecture.from_mapping(stated).block_configs
        == ModelArchitecture.from_mapping(config).block_configs
    )


def test_a_derived_default_that_differs_between_the_families_is_refused() -> None:
    # Gemma's 256-wide heads, Qwen3's 128-wide ones and Gemma's tied embeddings are the
    # family's own defaults, not what the config's own family derives.
    (error,) = _errors(_fixture("Mistral-7B-v0.1"), "gemma2")
    assert error == (
        "$.head_dim: missing: read as gemma2 (family=gemma2), its reader takes gemma2's "
        "default int 256; str 'mistral' configs (its model_type) derive it from the keys "
        "beside it; state it, or read the config as its own family"
    )
    (error,) = _errors(_fixture("Qwen2.5-0.5B"), "qwen3")
    assert error.startswith("$.head_dim: missing: read as qwen3 (family=qwen3), its reader ")
    (error,) = _errors(_fixture("gemma-2-2b"), "mistral")
    assert error.startswith("$.tie_word_embeddings: missing: read as mistral")
    assert "default bool False; str 'gemma2' configs (its model_type) take bool True" in error
    # Where both families derive it alike, nothing is refused.
    assert ModelArchitecture.from_mapping(_fixture("Llama-3.1-8B"), family="qwen3").head_dim == 128


@pytest.mark.parametrize(
    ("name", "family"), [("GLM-5.3-Flash", "glm5_next_text"), ("gemma-3-4b-it", "gemma3_text")]
)
def test_a_wrapper_read_as_its_text_family_reads_its_text_part(name: str, family: str) -> None:
    config = _fixture(name)
    arch = ModelArchitecture.from_mapping(config, family=family)
    assert arch == ModelArchitecture.from_mapping(config)
