"""The generated JSON Schema agrees with the converter on field rules and rules between fields."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from block_config import MAX_INT, BlockConfig, BlockConfigError, Problem, structure_block_configs
from block_config._config import _CLASSES
from block_config._converter import field_rules
from block_config._schema import (
    _EXCLUDED_BY,
    _REQUIRED_UNLESS,
    JSON_SCHEMA_DIALECT,
    block_configs_json_schema,
)
from block_config.strategies import block_configs

VALIDATOR = jsonschema.Draft202012Validator(block_configs_json_schema())

MAMBA = {"state_dim": 128, "num_heads": 8, "head_dim": 64, "num_groups": 1}
MLA = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
KV = {"num_key_value_heads": 8}
GDN = {
    "kind": "gdn",
    "num_key_heads": 2,
    "key_head_dim": 8,
    "num_value_heads": 4,
    "value_head_dim": 8,
}


def _converter_accepts(data: Any) -> bool:
    try:
        structure_block_configs(data)
    except BlockConfigError:
        return False
    return True


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = block_configs_json_schema()
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_class_and_field_comes_from_the_field_rules() -> None:
    defs = block_configs_json_schema()["$defs"]
    assert set(defs) == set(_CLASSES)
    for name, cls in _CLASSES.items():
        rules = field_rules(cls)
        assert list(defs[name]["properties"]) == [rule.name for rule in rules]
        assert defs[name].get("required", []) == [rule.name for rule in rules if rule.required]
        assert defs[name]["additionalProperties"] is False
    shared = defs["MoEConfig"]["properties"]["shared_expert_intermediate_dim"]
    assert (shared["minimum"], shared["maximum"], shared["default"]) == (0, MAX_INT, 8192)
    assert defs["MambaConfig"]["required"] == ["state_dim", "num_heads", "head_dim", "num_groups"]


def test_the_rules_between_fields_name_real_fields() -> None:
    defs = block_configs_json_schema()["$defs"]
    for table in (_EXCLUDED_BY, _REQUIRED_UNLESS):
        for cls, rules in table.items():
            names = {rule.name for rule in field_rules(cls)}
            for key, others in rules.items():
                assert {key, *others} <= names
            assert len(defs[cls.__name__]["allOf"]) == len(_EXCLUDED_BY[cls]) + len(
                _REQUIRED_UNLESS[cls]
            )


def test_each_call_returns_a_fresh_copy() -> None:
    first = block_configs_json_schema()
    first["$defs"].clear()
    assert block_configs_json_schema()["$defs"]


@given(st.lists(block_configs(), max_size=4))
def test_every_valid_block_list_validates(blocks: list[BlockConfig]) -> None:
    data = [block.to_dict() for block in blocks]
    assert VALIDATOR.is_valid(data)


def test_sparse_documents_validate_too() -> None:
    assert VALIDATOR.is_valid(
        [
            {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 5632}},
            {"attention": {"mamba": MAMBA}, "ffn": {"moe": {}}},
            {},
            {"parallel_blocks": [{"attention": {"no_op": True}}]},
        ]
    )


INVALID = [
    pytest.param([{"attention": {"num_key_value_heads": "8"}}], id="str for int"),
    pytest.param([{"attention": {"no_op": "false"}}], id="str for bool"),
    pytest.param([{"attention": {"no_op": 1}}], id="int for bool"),
    pytest.param([{"ffn": {"intermediate_size": True}}], id="bool for int"),
    pytest.param([{"ffn": {"intermediate_size": 3.7}}], id="fraction for int"),
    pytest.param([{"ffn": {"intermediate_size": 0}}], id="zero size"),
    pytest.param([{"ffn": {"intermediate_size": -1}}], id="negative size"),
    pytest.param([{"ffn": {"intermediate_size": MAX_INT + 1}}], id="beyond int64"),
    pytest.param([{"ffn": {"moe": {"shared_expert_intermediate_dim": -1}}}], id="negative shared"),
    pytest.param([{"ffn": {"activation": "relu2"}}], id="unknown ffn key"),
    pytest.param([{"mlp": {}}], id="unknown block key"),
    pytest.param([{"attention": {"mamba": {"state_dim": 1}}}], id="missing mamba fields"),
    pytest.param([{"attention": {"mamba": {**MAMBA, "d_conv": 4}}}], id="unknown mamba key"),
    pytest.param([{"attention": {"llama4": {"attn_scale": "0.1"}}}], id="str for float"),
    pytest.param([{"attention": {"sparsify": ["a", 1]}}], id="non-str sparsify item"),
    pytest.param([{"attention": {"sparsify": "a"}}], id="str for list"),
    pytest.param([{"attention": {"no_op": None}}], id="null for bool"),
    pytest.param([{"attention": []}], id="list for object"),
    pytest.param([{"parallel_blocks": {}}], id="object for list"),
    pytest.param([{"parallel_blocks": [{"ffn": {"x": 1}}]}], id="nested unknown key"),
    pytest.param([[]], id="list for block"),
    pytest.param([{"attention": {**KV, "sliding_window": 0}}], id="zero window"),
    pytest.param([{"attention": {**KV, "sliding_window": "4096"}}], id="str for window"),
    pytest.param([{"attention": {**KV, "sliding_window": True}}], id="bool for window"),
    pytest.param([{"attention": {"mla": {**MLA, "kv_lora_rank": 0}}}], id="zero mla rank"),
    pytest.param([{"attention": {"mla": {**MLA, "qk_rope_head_dim": -1}}}], id="negative rope"),
    pytest.param([{"attention": {"mla": {"kv_lora_rank": 512}}}], id="missing mla fields"),
    pytest.param([{"attention": {"mla": {**MLA, "rope_theta": 1.0}}}], id="unknown mla key"),
    pytest.param(
        [
            {
                "attention": {
                    "mla": {**MLA, "q_lora_rank": 8, "index_n_heads": 0, "index_head_dim": 8}
                }
            }
        ],
        id="zero indexer heads",
    ),
    pytest.param(
        [
            {
                "attention": {
                    "mla": {
                        **MLA,
                        "q_lora_rank": 8,
                        "index_n_heads": 4,
                        "index_head_dim": 8,
                        "index_kpool": "4",
                    }
                }
            }
        ],
        id="str for key pool",
    ),
    pytest.param([{"ffn": {"intermediate_size": 5, "gated": "false"}}], id="str for gated"),
    pytest.param([{"ffn": {"moe": {"gated": 0}}}], id="int for moe gated"),
    pytest.param({"attention": {}}, id="object for the list"),
    pytest.param([{"attention": {"linear_attention": {**GDN, "kind": "rwkv"}}}], id="bad kind"),
    pytest.param([{"attention": {"linear_attention": {"kind": "gdn"}}}], id="missing linear"),
    pytest.param([{"attention": {"linear_attention": {**GDN, "d": 1}}}], id="unknown linear key"),
    pytest.param([{"attention": {**KV, "output_gate": "true"}}], id="str for output gate"),
]


@pytest.mark.parametrize("data", INVALID)
def test_the_schema_rejects_what_the_converter_rejects(data: Any) -> None:
    assert not _converter_accepts(data)
    assert not VALIDATOR.is_valid(data)


CROSS_FIELD = [
    pytest.param([{"attention": {}}], id="kv heads required"),
    pytest.param([{"attention": {"num_key_value_heads": None}}], id="kv heads null"),
    pytest.param(
        [{"attention": {"no_op": False, "mamba": None}}], id="kv heads, explicit defaults"
    ),
    pytest.param([{"ffn": {}}], id="intermediate size required"),
    pytest.param([{"ffn": {"moe": None, "intermediate_size": None}}], id="intermediate size null"),
    pytest.param([{"attention": {"no_op": True, "replace_with_linear": True}}], id="no_op+linear"),
    pytest.param([{"ffn": {"no_op": True, "replace_with_linear": True}}], id="ffn no_op+linear"),
    pytest.param([{"attention": {"no_op": True, "mamba": MAMBA}}], id="no_op+mamba"),
    pytest.param([{"attention": {"no_op": True, "llama4": {}}}], id="no_op+llama4"),
    pytest.param([{"attention": {"no_op": True, "sliding_window": 8}}], id="no_op+window"),
    pytest.param([{"attention": {"no_op": True, "mla": MLA}}], id="no_op+mla"),
    pytest.param([{"attention": {"mamba": MAMBA, "sliding_window": 8}}], id="mamba+window"),
    pytest.param([{"attention": {"mamba": MAMBA, "mla": MLA}}], id="mamba+mla"),
    pytest.param([{"attention": {"llama4": {}, "mla": MLA}}], id="llama4+mla"),
    pytest.param([{"attention": {"mla": None}}], id="kv heads required, null mla"),
    pytest.param([{"attention": {"no_op": True, "linear_attention": GDN}}], id="no_op+linear"),
    pytest.param([{"attention": {"mamba": MAMBA, "linear_attention": GDN}}], id="mamba+linear"),
    pytest.param([{"attention": {"mla": MLA, "linear_attention": GDN}}], id="mla+linear"),
    pytest.param([{"attention": {"linear_attention": GDN, "llama4": {}}}], id="linear+llama4"),
    pytest.param(
        [{"attention": {"linear_attention": GDN, "sliding_window": 8}}], id="linear+window"
    ),
    pytest.param([{"attention": {"linear_attention": GDN, "output_gate": True}}], id="linear+gate"),
    pytest.param([{"attention": {"no_op": True, "output_gate": True}}], id="no_op+gate"),
    pytest.param([{"attention": {"mla": MLA, "output_gate": True}}], id="mla+gate"),
    pytest.param([{"attention": {"output_gate": True}}], id="kv heads required, gate"),
    pytest.param(
        [{"parallel_blocks": [{"attention": {"num_key_value_heads": 8}, "ffn": {}}]}],
        id="nested intermediate size required",
    ),
]


@pytest.mark.parametrize("data", CROSS_FIELD)
def test_the_schema_rejects_what_the_rules_between_fields_reject(data: Any) -> None:
    assert not _converter_accepts(data)
    assert not VALIDATOR.is_valid(data)


NORMALISABLE = [
    pytest.param([{"attention": {"mla": {**MLA, "qk_rope_head_dim": 0}}}], id="mla without rope"),
    pytest.param(
        [
            {
                "attention": {
                    "mla": {**MLA, "q_lora_rank": 8, "index_n_heads": 4, "index_head_dim": 8}
                }
            }
        ],
        id="mla with indexer",
    ),
    pytest.param(
        [
            {
                "attention": {
                    "mla": {
                        **MLA,
                        "q_lora_rank": 8,
                        "index_n_heads": 4,
                        "index_head_dim": 8,
                        "index_kpool": 4,
                    }
                }
            }
        ],
        id="mla with pooled indexer keys",
    ),
    pytest.param(
        [{"attention": {"mla": {**MLA, "index_n_heads": None, "index_head_dim": None}}}],
        id="mla, null indexer",
    ),
    pytest.param([{"attention": {"mla": MLA, "num_key_value_heads": 8}}], id="mla with kv"),
    pytest.param([{"attention": {"mla": MLA, "sliding_window": 8}}], id="mla with window"),
    pytest.param([{"attention": {**KV, "sliding_window": None, "mla": None}}], id="null new"),
    pytest.param([{"ffn": {"intermediate_size": 5, "gated": True}}], id="gated true"),
    pytest.param([{"attention": {"linear_attention": GDN, **KV}}], id="linear with kv"),
    pytest.param([{"attention": {**KV, "output_gate": True}}], id="gated attention"),
    pytest.param([{"attention": {"no_op": True, "output_gate": False}}], id="no_op gate false"),
    pytest.param(
        [{"attention": {"linear_attention": GDN, "output_gate": False}}], id="linear gate false"
    ),
    pytest.param(
        [{"attention": {"replace_with_linear": True, **KV, "output_gate": True}}],
        id="linear replacement of a gated attention",
    ),
    pytest.param([{"ffn": {"moe": {"gated": True}, "gated": False}}], id="moe ffn gated"),
    pytest.param([{"ffn": {"no_op": True, "gated": False}}], id="no_op ffn gated"),
    pytest.param([{"ffn": {"no_op": True, "intermediate_size": 5}}], id="no_op ffn with size"),
    pytest.param([{"ffn": {"no_op": True, "moe": {}}}], id="no_op ffn with moe"),
    pytest.param([{"ffn": {"moe": {}, "intermediate_size": 5}}], id="moe with size"),
    pytest.param([{"ffn": {"replace_with_linear": True, "intermediate_size": 5}}], id="linear ffn"),
    pytest.param([{"attention": {"mamba": MAMBA, "num_key_value_heads": 8}}], id="mamba with kv"),
    pytest.param([{"attention": {"no_op": True, "num_key_value_heads": 8}}], id="no_op with kv"),
    pytest.param(
        [{"attention": {"no_op": True, "mamba": None, "llama4": None}}], id="no_op, nulls"
    ),
    pytest.param(
        [{"attention": {"replace_with_linear": True, "num_key_value_heads": 8}}], id="linear attn"
    ),
    pytest.param(
        [
            {
                "attention": {"llama4": {}, "num_key_value_heads": 8},
                "ffn": {"no_op": False, "moe": {}},
            }
        ],
        id="llama4 and moe",
    ),
]


@pytest.mark.parametrize("data", NORMALISABLE)
def test_the_schema_accepts_what_the_converter_normalises(data: Any) -> None:
    assert _converter_accepts(data)
    assert VALIDATOR.is_valid(data)


BEYOND_THE_SCHEMA = [
    pytest.param(
        [{"attention": {"mla": {**MLA, "q_lora_rank": 8, "index_n_heads": 4}}}],
        id="half an indexer",
    ),
    pytest.param(
        [{"attention": {"mla": {**MLA, "index_n_heads": 4, "index_head_dim": 8}}}],
        id="indexer without query latent",
    ),
    pytest.param(
        [{"attention": {"mla": {**MLA, "index_kpool": 4}}}],
        id="key pool without indexer",
    ),
    pytest.param([{"ffn": {"moe": {"num_local_experts": 2, "num_experts_per_tok": 3}}}], id="k>n"),
    pytest.param([{"ffn": {"intermediate_size": 8.0}}], id="integral float"),
    pytest.param(
        [{"attention": {"no_op": True, "weights_precision": "\ud800"}}], id="lone surrogate"
    ),
]


@pytest.mark.parametrize("data", BEYOND_THE_SCHEMA)
def test_what_the_schema_cannot_express_is_left_to_the_converter(data: Any) -> None:
    assert not _converter_accepts(data)
    assert VALIDATOR.is_valid(data)


def _locations(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair in a document, depth first."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((value, key))
            found.extend(_locations(item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            found.extend(_locations(item))
    return found


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.just({"unknown": 1}),
)

# Problems the schema expresses too: field-level ones and the rules between fields.
_EXPRESSED = (
    "expected",
    "unknown key",
    "missing required key",
    "keys must be strings",
    "required unless",
    "cannot be true when no_op is true",
    "must be null when no_op is true",
    "must be null when mamba is set",
    "must be null when llama4 is set",
)


@given(st.lists(block_configs(max_depth=1), min_size=1, max_size=3), st.data())
def test_schema_and_converter_agree_on_mutated_documents(
    blocks: list[BlockConfig], data: st.DataObject
) -> None:
    document = [block.to_dict() for block in blocks]
    mutated = copy.deepcopy(document)
    locations = _locations(mutated)
    container, key = data.draw(st.sampled_from(locations))
    if data.draw(st.booleans()) and isinstance(container, dict):
        container["unknown_" + str(key)] = 1
    else:
        container[key] = data.draw(_ODD_VALUES)
    schema_ok = VALIDATOR.is_valid(mutated)
    try:
        structure_block_configs(mutated)
        problems: tuple[Problem, ...] = ()
    except BlockConfigError as error:
        problems = error.problems
    if not problems:
        # The schema is never stricter than the converter.
        assert schema_ok
    elif any(problem.message.startswith(_EXPRESSED) for problem in problems):
        # Every problem of a kind the schema expresses, the schema finds too.
        assert not schema_ok, problems
