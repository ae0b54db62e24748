"""The one converter: strict structuring, complete error reports, unknown keys, nesting."""

from __future__ import annotations

import math
import warnings
from typing import Any

import attrs
import orjson
import pytest

from block_config import (
    MAX_INT,
    MAX_PARALLEL_DEPTH,
    AttentionConfig,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MoEConfig,
    UnknownKeyWarning,
    converter,
    dumps,
    dumps_yaml,
    loads,
    loads_yaml,
    maybe_cast_block_configs,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._converter import json_default

GQA: dict[str, Any] = {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 28672}}


def messages(data: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(BlockConfigError) as error:
        structure_block_configs(data, **kwargs)
    return [str(p) for p in error.value.problems]


def with_attention(**fields: Any) -> list[dict[str, Any]]:
    return [{"attention": {"num_key_value_heads": 8, **fields}}]


class TestStrictScalars:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            ("8", "str '8'"),
            (3.7, "float 3.7"),
            (8.0, "float 8.0"),
            (True, "bool True"),
            ([8], "list"),
        ],
    )
    def test_ints(self, value: Any, shown: str) -> None:
        assert messages(with_attention(num_key_value_heads=value)) == [
            f"$[0].attention.num_key_value_heads: expected int, got {shown}"
        ]

    @pytest.mark.parametrize(
        ("value", "shown"), [("false", "str 'false'"), (0, "int 0"), (1, "int 1"), (None, "null")]
    )
    def test_bools(self, value: Any, shown: str) -> None:
        assert messages(with_attention(no_op=value)) == [
            f"$[0].attention.no_op: expected bool, got {shown}"
        ]

    def test_strs(self) -> None:
        assert messages(with_attention(weights_precision=5)) == [
            "$[0].attention.weights_precision: expected str, got int 5"
        ]

    @pytest.mark.parametrize("value", [0, -1, MAX_INT + 1, 2**200])
    def test_counts_are_from_1_to_max_int(self, value: int) -> None:
        assert messages(with_attention(num_key_value_heads=value)) == [
            f"$[0].attention.num_key_value_heads: expected int from 1 to {MAX_INT}, got {value}"
        ]

    def test_max_int_itself_is_accepted(self) -> None:
        (block,) = structure_block_configs(with_attention(num_key_value_heads=MAX_INT))
        assert block.attention is not None
        assert block.attention.num_key_value_heads == MAX_INT

    @pytest.mark.parametrize(
        "field", ["num_local_experts", "num_experts_per_tok", "expert_intermediate_dim"]
    )
    def test_moe_counts_are_positive(self, field: str) -> None:
        data = [{"ffn": {"moe": {field: 0}}}]
        assert messages(data)[0].startswith(f"$[0].ffn.moe.{field}: expected int from 1 to")

    def test_shared_expert_may_be_zero(self) -> None:
        (block,) = structure_block_configs(
            [{"ffn": {"moe": {"shared_expert_intermediate_dim": 0}}}]
        )
        assert block.ffn is not None
        assert block.ffn.moe == MoEConfig(shared_expert_intermediate_dim=0)

    @pytest.mark.parametrize("field", ["state_dim", "num_heads", "head_dim", "num_groups"])
    def test_mamba_dims_are_positive(self, field: str) -> None:
        mamba = {"state_dim": 1, "num_heads": 1, "head_dim": 1, "num_groups": 1, field: 0}
        assert messages([{"attention": {"mamba": mamba}}])[0].startswith(
            f"$[0].attention.mamba.{field}: expected int from 1"
        )

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
    def test_floats_are_finite(self, value: float) -> None:
        data = with_attention(llama4={"attn_scale": value})
        (message,) = messages(data)
        assert message.startswith("$[0].attention.llama4.attn_scale: expected a finite float, got")

    def test_int_for_float_becomes_float(self) -> None:
        (block,) = structure_block_configs(with_attention(llama4={"attn_scale": 2}))
        assert block.attention is not None
        assert block.attention.llama4 == Llama4AttentionConfig(attn_scale=2.0)
        assert type(block.attention.llama4.attn_scale) is float

    def test_bool_is_not_a_float(self) -> None:
        assert messages(with_attention(llama4={"attention_dropout": True})) == [
            "$[0].attention.llama4.attention_dropout: expected float, got bool True"
        ]

    def test_chunk_size_is_a_count(self) -> None:
        assert messages(with_attention(llama4={"attention_chunk_size": 0}))[0].startswith(
            "$[0].attention.llama4.attention_chunk_size: expected int from 1"
        )

    def test_sparsify_items_are_str(self) -> None:
        assert messages(with_attention(sparsify=["q", 1])) == [
            "$[0].attention.sparsify[1]: expected str, got int 1"
        ]

    def test_converter_scalar_hooks_are_strict(self) -> None:
        with pytest.raises(BlockConfigError):
            converter.structure("false", bool)
        with pytest.raises(BlockConfigError):
            converter.structure(3.7, int)
        with pytest.raises(BlockConfigError):
            converter.structure(5, str)
        with pytest.raises(BlockConfigError):
            converter.structure(math.nan, float)
        assert converter.structure(3, float) == 3.0


class TestErrorReports:
    def test_every_problem_at_once_with_paths(self) -> None:
        data = [
            GQA,
            {"attention": {"num_key_value_heads": "8"}, "ffn": {"intermediate_size": 4}},
            {"attention": {"no_op": True, "replace_with_linear": True}, "ffn": {"bogus": 1}},
            [],
        ]
        assert messages(data) == [
            "$[1].attention.num_key_value_heads: expected int, got str '8'",
            "$[2].attention.replace_with_linear: cannot be true when no_op is true",
            "$[2].ffn.bogus: unknown key (expected one of: no_op, replace_with_linear, "
            "sparsify, weights_precision, moe, intermediate_size, gated)",
            "$[3]: expected BlockConfig object, got list",
        ]

    def test_error_is_a_value_error_with_readable_text(self) -> None:
        with pytest.raises(
            ValueError, match=r"^\$\[0\]\.ffn: expected FFNConfig object, got int 3$"
        ):
            structure_block_configs([{"ffn": 3}])

    def test_root_must_be_a_list(self) -> None:
        assert messages({"attention": None}) == ["$: expected a list of block configs, got dict"]
        assert messages("[]") == ["$: expected a list of block configs, got str '[]'"]

    def test_keys_that_are_not_identifiers_are_quoted(self) -> None:
        assert messages([{"ffn": {"intermediate_size": 4, "a b": 1}}])[0].startswith(
            "$[0].ffn['a b']: unknown key"
        )

    def test_non_string_keys(self) -> None:
        assert messages([{1: 2}]) == ["$[0]['1']: keys must be strings, got int 1"]

    def test_missing_required_key(self) -> None:
        data = [{"attention": {"mamba": {"state_dim": 1, "num_heads": 1, "head_dim": 1}}}]
        assert messages(data) == ["$[0].attention.mamba.num_groups: missing required key"]

    def test_cross_field_rules_carry_the_object_path(self) -> None:
        data = [GQA, {"parallel_blocks": [{"attention": {}}]}]
        assert messages(data) == [
            "$[1].parallel_blocks[0].attention.num_key_value_heads: "
            "required unless the attention is no_op, Mamba, MLA or linear attention"
        ]

    def test_errors_pickle(self) -> None:
        import pickle

        with pytest.raises(BlockConfigError) as error:
            structure_block_configs([{"ffn": {}}])
        copy = pickle.loads(pickle.dumps(error.value))
        assert copy.problems == error.value.problems
        assert str(copy) == str(error.value)


class TestUnknownKeys:
    DATA = (
        {
            "attention": {"num_key_value_heads": 8, "n_heads_in_group": 8},
            "ffn": {"intermediate_size": 4},
            "extra": True,
        },
    )

    def test_error_is_the_default(self) -> None:
        found = messages(list(self.DATA))
        assert [m.split(":")[0] for m in found] == ["$[0].extra", "$[0].attention.n_heads_in_group"]

    def test_warn_drops_each_key_with_its_path(self) -> None:
        with pytest.warns(UnknownKeyWarning) as record:
            (block,) = structure_block_configs(list(self.DATA), unknown_keys="warn")
        assert sorted(str(w.message) for w in record) == [
            "$[0].attention.n_heads_in_group: unknown key dropped",
            "$[0].extra: unknown key dropped",
        ]
        assert block == BlockConfig(
            attention=AttentionConfig(num_key_value_heads=8), ffn=FFNConfig(intermediate_size=4)
        )

    def test_warn_still_raises_real_problems(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert messages([{"ffn": {"x": 1}}], unknown_keys="warn") == [
                "$[0].ffn.intermediate_size: required unless the FFN is no_op or MoE"
            ]

    def test_from_dict_takes_the_mode(self) -> None:
        data = {"ffn": {"intermediate_size": 4, "ffn_mult": 1.0}}
        with pytest.raises(BlockConfigError, match=r"^\$\.ffn\.ffn_mult: unknown key"):
            BlockConfig.from_dict(data)
        with pytest.warns(UnknownKeyWarning, match=r"\$\.ffn\.ffn_mult"):
            block = BlockConfig.from_dict(data, unknown_keys="warn")
        assert block == BlockConfig(ffn=FFNConfig(intermediate_size=4))

    def test_bad_mode_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown_keys must be 'error' or 'warn'"):
            structure_block_configs([], unknown_keys="ignore")  # type: ignore[arg-type]


class TestNesting:
    @staticmethod
    def chain(levels: int) -> dict[str, Any]:
        block: dict[str, Any] = {"ffn": {"intermediate_size": 1}}
        for _ in range(levels):
            block = {"parallel_blocks": [block]}
        return block

    def test_right_at_the_limit(self) -> None:
        (block,) = structure_block_configs([self.chain(MAX_PARALLEL_DEPTH)])
        depth = 0
        while block.parallel_blocks:
            (block,) = block.parallel_blocks
            depth += 1
        assert depth == MAX_PARALLEL_DEPTH

    @pytest.mark.parametrize("levels", [MAX_PARALLEL_DEPTH + 1, 5000])
    def test_past_the_limit_is_an_error_not_a_recursion_error(self, levels: int) -> None:
        found = messages([self.chain(levels)])
        assert len(found) == 1
        assert found[0].endswith(f"parallel_blocks nest deeper than {MAX_PARALLEL_DEPTH} levels")
        assert found[0].startswith("$[0]" + ".parallel_blocks[0]" * MAX_PARALLEL_DEPTH)

    def test_objects_past_the_limit(self) -> None:
        block = BlockConfig(ffn=FFNConfig(intermediate_size=1))
        for _ in range(MAX_PARALLEL_DEPTH):
            block = BlockConfig(parallel_blocks=[block])
        with pytest.raises(BlockConfigError, match="nest deeper than 64 levels"):
            BlockConfig(parallel_blocks=[block])

    def test_deep_objects_inside_mappings(self) -> None:
        inner = BlockConfig(ffn=FFNConfig(intermediate_size=1))
        for _ in range(MAX_PARALLEL_DEPTH):
            inner = BlockConfig(parallel_blocks=[inner])
        assert messages([{"parallel_blocks": [inner]}]) == [
            "$[0].parallel_blocks: parallel_blocks nest deeper than 64 levels"
        ]
        (fits,) = structure_block_configs([{"parallel_blocks": inner.parallel_blocks}])
        assert fits.parallel_blocks == inner.parallel_blocks

    def test_constructor_with_a_deep_mapping(self) -> None:
        with pytest.raises(BlockConfigError, match="nest deeper than 64 levels"):
            BlockConfig(parallel_blocks=[self.chain(1000)])


class TestConverterApi:
    def test_structure_and_unstructure_each_class(self) -> None:
        mamba = {"state_dim": 128, "num_heads": 64, "head_dim": 64, "num_groups": 8}
        assert converter.structure(mamba, MambaConfig) == MambaConfig(**mamba)
        assert converter.unstructure(MambaConfig(**mamba)) == mamba
        block = converter.structure(GQA, BlockConfig)
        assert converter.unstructure(block) == block.to_dict()

    def test_structure_block_lists(self) -> None:
        assert converter.structure([GQA], list[BlockConfig]) == structure_block_configs([GQA])
        with pytest.raises(BlockConfigError, match=r"^\$\[0\]\.ffn\.intermediate_size"):
            converter.structure([{"ffn": {}}], list[BlockConfig])

    def test_unstructure_is_the_reference_shape(self) -> None:
        block = BlockConfig(
            attention={"num_key_value_heads": 8, "sparsify": ("q",)},
            ffn={"moe": {}},
            parallel_blocks=[{"attention": {"no_op": True}}],
        )
        assert block.to_dict() == {
            "attention": {
                "no_op": False,
                "replace_with_linear": False,
                "sparsify": ["q"],
                "weights_precision": "bf16",
                "num_key_value_heads": 8,
                "llama4": None,
                "mamba": None,
            },
            "ffn": {
                "no_op": False,
                "replace_with_linear": False,
                "sparsify": None,
                "weights_precision": "bf16",
                "moe": {
                    "num_local_experts": 8,
                    "num_experts_per_tok": 1,
                    "expert_intermediate_dim": 8192,
                    "shared_expert_intermediate_dim": 8192,
                },
                "intermediate_size": None,
            },
            "parallel_blocks": [
                {
                    "attention": {
                        "no_op": True,
                        "replace_with_linear": False,
                        "sparsify": None,
                        "weights_precision": "bf16",
                        "num_key_value_heads": None,
                        "llama4": None,
                        "mamba": None,
                    },
                    "ffn": None,
                    "parallel_blocks": None,
                }
            ],
        }
        assert unstructure_block_configs([block]) == [block.to_dict()]

    def test_every_field_appears_in_to_dict(self) -> None:
        # Every field but those added after the seed's, which appear only when set.
        later = {
            AttentionConfig: [
                "sliding_window",
                "mla",
                "num_attention_heads",
                "head_dim",
                "linear_attention",
                "output_gate",
                "kv_source_layer",
                "compressed_attention",
                "values_from_keys",
            ],
            FFNConfig: ["gated"],
            MoEConfig: ["gated", "latent_dim", "hash_routed"],
        }
        for cls in (AttentionConfig, FFNConfig, MoEConfig, Llama4AttentionConfig, BlockConfig):
            names = [f.name for f in attrs.fields(cls) if f.name not in later.get(cls, [])]
            example = {
                AttentionConfig: AttentionConfig(no_op=True),
                FFNConfig: FFNConfig(no_op=True),
                MoEConfig: MoEConfig(),
                Llama4AttentionConfig: Llama4AttentionConfig(),
                BlockConfig: BlockConfig(),
            }[cls]
            assert list(converter.unstructure(example)) == names

    def test_reads_what_the_reference_writes(self) -> None:
        # dataclasses.asdict() of the reference classes: every key, None included, lists.
        written = {
            "attention": {
                "no_op": False,
                "replace_with_linear": False,
                "sparsify": None,
                "weights_precision": "bf16",
                "num_key_value_heads": 8,
                "llama4": None,
                "mamba": None,
            },
            "ffn": {
                "no_op": True,
                "replace_with_linear": False,
                "sparsify": None,
                "weights_precision": "bf16",
                "moe": None,
                "intermediate_size": None,
            },
            "parallel_blocks": None,
        }
        (block,) = structure_block_configs([written])
        assert block.to_dict() == written

    def test_structure_passes_objects_through(self) -> None:
        block = BlockConfig(ffn={"intermediate_size": 4})
        assert structure_block_configs([block, block.to_dict()]) == [block, block]

    def test_unstructure_refuses_other_objects(self) -> None:
        with pytest.raises(TypeError, match="expected BlockConfig objects, got dict"):
            unstructure_block_configs([{}])  # type: ignore[list-item]


class TestMaybeCast:
    def test_none_and_empty_give_none(self) -> None:
        assert maybe_cast_block_configs(None) is None
        assert maybe_cast_block_configs([]) is None

    def test_dicts_objects_and_mixed(self) -> None:
        block = BlockConfig(**GQA)
        assert maybe_cast_block_configs([GQA]) == [block]
        assert maybe_cast_block_configs([block]) == [block]
        assert maybe_cast_block_configs([block, GQA]) == [block, block]
        assert maybe_cast_block_configs([GQA, block]) == [block, block]

    def test_invalid_items_are_errors(self) -> None:
        with pytest.raises(BlockConfigError, match=r"^\$\[1\]: expected BlockConfig object"):
            maybe_cast_block_configs([GQA, "x"])  # type: ignore[list-item]


MLA = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
MAMBA = {"state_dim": 128, "num_heads": 64, "head_dim": 64, "num_groups": 8}

#: Blocks of every shape the new per-layer fields describe.
FAMILY_BLOCKS: list[dict[str, Any]] = [
    {"attention": {"num_key_value_heads": 8, "sliding_window": 4096}, "ffn": GQA["ffn"]},
    {"attention": {"mla": {**MLA, "q_lora_rank": 1536}}, "ffn": {"moe": {"gated": False}}},
    {"attention": {"mla": MLA}, "ffn": {"intermediate_size": 18432}},
    {"attention": {"no_op": True}, "ffn": {"intermediate_size": 21504, "gated": False}},
    {
        "attention": {"num_key_value_heads": 8, "sliding_window": 128},
        "parallel_blocks": [{"ffn": {"intermediate_size": 8, "gated": False}}],
    },
]


class TestFieldsWrittenOnlyWhenSet:
    def test_strict_typing_with_paths(self) -> None:
        data = [
            {"attention": {"num_key_value_heads": 8, "sliding_window": "4096"}},
            {"attention": {"num_key_value_heads": 8, "sliding_window": True}},
            {"attention": {"num_key_value_heads": 8, "sliding_window": 0}},
            {"attention": {"mla": {**MLA, "v_head_dim": 128.0}}},
            {"attention": {"mla": [512]}},
            {"ffn": {"intermediate_size": 8, "gated": "false"}},
            {"ffn": {"moe": {"gated": 0}}},
        ]
        assert messages(data) == [
            "$[0].attention.sliding_window: expected int, got str '4096'",
            "$[1].attention.sliding_window: expected int, got bool True",
            f"$[2].attention.sliding_window: expected int from 1 to {MAX_INT}, got 0",
            "$[3].attention.mla.v_head_dim: expected int, got float 128.0",
            "$[4].attention.mla: expected MLAConfig object, got list",
            "$[5].ffn.gated: expected bool, got str 'false'",
            "$[6].ffn.moe.gated: expected bool, got int 0",
        ]

    def test_rules_between_fields_with_paths(self) -> None:
        data = [
            {"attention": {"no_op": True, "sliding_window": 8, "mla": MLA}},
            {"attention": {"mamba": MAMBA, "sliding_window": 8}},
            {"attention": {"mla": MLA, "llama4": {}}},
        ]
        assert messages(data) == [
            "$[0].attention.sliding_window: must be null when no_op is true",
            "$[0].attention.mla: must be null when no_op is true",
            "$[1].attention.sliding_window: must be null when mamba is set",
            "$[2].attention.mla: must be null when llama4 is set",
        ]

    def test_unknown_keys_list_the_new_fields(self) -> None:
        assert messages([{"attention": {"mla": {**MLA, "n_heads": 1}}}]) == [
            "$[0].attention.mla.n_heads: unknown key (expected one of: kv_lora_rank, "
            "qk_nope_head_dim, qk_rope_head_dim, v_head_dim, q_lora_rank, index_n_heads, "
            "index_head_dim, index_kpool, index_from_hidden)"
        ]

    def test_round_trips_through_every_writer(self) -> None:
        blocks = structure_block_configs(FAMILY_BLOCKS)
        assert structure_block_configs(unstructure_block_configs(blocks)) == blocks
        assert loads(dumps(blocks)) == blocks
        assert loads(dumps(blocks, indent=4)) == blocks
        assert loads_yaml(dumps_yaml(blocks)) == blocks
        assert [converter.structure(converter.unstructure(b), BlockConfig) for b in blocks] == (
            blocks
        )

    def test_written_only_when_set(self) -> None:
        blocks = structure_block_configs(FAMILY_BLOCKS)
        written = unstructure_block_configs(blocks)
        assert written[0]["attention"]["sliding_window"] == 4096
        assert "mla" not in written[0]["attention"]
        assert written[1]["attention"]["mla"] == {**MLA, "q_lora_rank": 1536}
        assert "sliding_window" not in written[1]["attention"]
        assert written[1]["ffn"]["moe"]["gated"] is False
        assert written[2]["attention"]["mla"]["q_lora_rank"] is None  # MLAConfig writes all
        assert "gated" not in written[2]["ffn"]
        assert written[3]["ffn"]["gated"] is False
        assert written[4]["parallel_blocks"][0]["ffn"]["gated"] is False
        # dumps hands the objects to orjson with its own hook: the same text.
        assert orjson.loads(dumps(blocks)) == written
        # The classes carry the dataclass protocol, which orjson would serialise itself (every
        # field): the hook needs them passed through.
        option = orjson.OPT_PASSTHROUGH_DATACLASS
        assert orjson.dumps(blocks, default=json_default, option=option) == orjson.dumps(written)

    def test_seed_shaped_blocks_are_written_as_before(self) -> None:
        # Every key, in the seed's order, and not one more (the fields added since are unset).
        block = BlockConfig(
            attention={"num_key_value_heads": 8, "sliding_window": None, "mla": None},
            ffn={"moe": {"gated": True}, "gated": False},
        )
        assert dumps([block]) == (
            '[{"attention":{"no_op":false,"replace_with_linear":false,"sparsify":null,'
            '"weights_precision":"bf16","num_key_value_heads":8,"llama4":null,"mamba":null},'
            '"ffn":{"no_op":false,"replace_with_linear":false,"sparsify":null,'
            '"weights_precision":"bf16","moe":{"num_local_experts":8,"num_experts_per_tok":1,'
            '"expert_intermediate_dim":8192,"shared_expert_intermediate_dim":8192},'
            '"intermediate_size":null},"parallel_blocks":null}]'
        )
        assert "gated" not in dumps_yaml([block])
        assert "sliding_window" not in dumps_yaml([block])
