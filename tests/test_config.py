"""The seed API on attrs: constructors, defaults, normalisation, requirements, comparison."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import attrs
import pytest

from block_config import (
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MoEConfig,
    SubblockConfig,
)

MAMBA = {"state_dim": 128, "num_heads": 64, "head_dim": 64, "num_groups": 8}


def problems(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(p) for p in error.value.problems]


class TestDefaults:
    def test_subblock_defaults_match_the_seed(self) -> None:
        ffn = FFNConfig(intermediate_size=128)
        assert (ffn.no_op, ffn.replace_with_linear, ffn.sparsify, ffn.weights_precision) == (
            False,
            False,
            None,
            "bf16",
        )
        assert (ffn.moe, ffn.intermediate_size) == (None, 128)

    def test_attention_defaults(self) -> None:
        attention = AttentionConfig(num_key_value_heads=8)
        assert (attention.llama4, attention.mamba) == (None, None)
        assert not attention.is_llama4
        assert not attention.is_mamba

    def test_moe_defaults_match_the_seed(self) -> None:
        moe = MoEConfig()
        assert (
            moe.num_local_experts,
            moe.num_experts_per_tok,
            moe.expert_intermediate_dim,
            moe.shared_expert_intermediate_dim,
        ) == (8, 1, 8192, 8192)

    def test_llama4_defaults_are_all_none(self) -> None:
        assert all(v is None for v in attrs.astuple(Llama4AttentionConfig()))

    def test_block_defaults(self) -> None:
        block = BlockConfig()
        assert (block.attention, block.ffn, block.parallel_blocks) == (None, None, None)

    def test_subblock_cls_dict(self) -> None:
        assert {"attention": AttentionConfig, "ffn": FFNConfig} == SUBBLOCK_CLS_DICT

    def test_class_tree_follows_the_seed(self) -> None:
        assert issubclass(AttentionConfig, SubblockConfig)
        assert issubclass(FFNConfig, SubblockConfig)
        for cls in (SubblockConfig, MoEConfig, MambaConfig, Llama4AttentionConfig, BlockConfig):
            assert issubclass(cls, BaseDataclass)

    @pytest.mark.parametrize(
        "cls", [AttentionConfig, FFNConfig, MoEConfig, MambaConfig, BlockConfig]
    )
    def test_constructors_are_keyword_only(self, cls: type[BaseDataclass]) -> None:
        with pytest.raises(TypeError):
            cls(True)  # type: ignore[call-arg]

    def test_mamba_needs_all_four_fields_from_a_mapping(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(mamba={"state_dim": 128})
        assert problems(error) == [
            "$.mamba.num_heads: missing required key",
            "$.mamba.head_dim: missing required key",
            "$.mamba.num_groups: missing required key",
        ]


class TestFrozen:
    def test_fields_cannot_be_assigned(self) -> None:
        block = BlockConfig(ffn={"intermediate_size": 64})
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            block.ffn = None  # type: ignore[misc]

    def test_evolve_runs_the_checks(self) -> None:
        ffn = FFNConfig(intermediate_size=64)
        assert attrs.evolve(ffn, intermediate_size=128).intermediate_size == 128
        with pytest.raises(BlockConfigError, match=r"\$\.intermediate_size: expected int"):
            attrs.evolve(ffn, intermediate_size="128")  # type: ignore[arg-type]

    def test_pickle_round_trip(self) -> None:
        block = BlockConfig(
            attention={"num_key_value_heads": 8, "sparsify": ["q"]},
            ffn={"moe": {"num_local_experts": 4}},
            parallel_blocks=[{"ffn": {"intermediate_size": 4}}],
        )
        copy = pickle.loads(pickle.dumps(block))
        assert copy == block
        assert hash(copy) == hash(block)
        assert repr(copy) == repr(block)


class TestNormalisation:
    def test_no_op_subblock_drops_sparsify(self) -> None:
        assert FFNConfig(no_op=True, sparsify=["a"]).sparsify is None
        assert AttentionConfig(no_op=True, sparsify=["a"]).sparsify is None

    def test_no_op_attention_drops_kv_heads(self) -> None:
        assert AttentionConfig(no_op=True, num_key_value_heads=8).num_key_value_heads is None

    def test_mamba_attention_drops_kv_heads(self) -> None:
        attention = AttentionConfig(mamba=MAMBA, num_key_value_heads=8)
        assert attention.num_key_value_heads is None
        assert attention.is_mamba
        assert attention.mamba == MambaConfig(**MAMBA)

    def test_no_op_ffn_drops_moe_and_size(self) -> None:
        ffn = FFNConfig(no_op=True, moe={}, intermediate_size=5)
        assert (ffn.moe, ffn.intermediate_size) == (None, None)

    def test_moe_ffn_drops_intermediate_size(self) -> None:
        ffn = FFNConfig(moe=MoEConfig(), intermediate_size=5)
        assert ffn.intermediate_size is None
        assert ffn.is_moe

    def test_normalised_objects_compare_equal(self) -> None:
        assert FFNConfig(no_op=True, intermediate_size=5) == FFNConfig(no_op=True)
        assert hash(FFNConfig(no_op=True, intermediate_size=5)) == hash(FFNConfig(no_op=True))

    def test_linear_replacement_keeps_its_sizes(self) -> None:
        attention = AttentionConfig(replace_with_linear=True, num_key_value_heads=8)
        assert attention.num_key_value_heads == 8
        ffn = FFNConfig(replace_with_linear=True, intermediate_size=64)
        assert ffn.intermediate_size == 64


class TestRequirements:
    def test_attention_needs_kv_heads(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig()
        assert problems(error) == [
            "$.num_key_value_heads: required unless the attention is no_op or Mamba"
        ]

    def test_linear_attention_needs_kv_heads_too(self) -> None:
        with pytest.raises(BlockConfigError, match="num_key_value_heads: required"):
            AttentionConfig(replace_with_linear=True)

    def test_ffn_needs_intermediate_size(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            FFNConfig(replace_with_linear=True)
        assert problems(error) == ["$.intermediate_size: required unless the FFN is no_op or MoE"]

    def test_no_op_and_linear_are_exclusive(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            FFNConfig(no_op=True, replace_with_linear=True)
        assert problems(error) == ["$.replace_with_linear: cannot be true when no_op is true"]

    def test_no_op_attention_is_neither_mamba_nor_llama4(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(no_op=True, mamba=MAMBA, llama4={})
        assert problems(error) == [
            "$.mamba: must be null when no_op is true",
            "$.llama4: must be null when no_op is true",
        ]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"num_local_experts": 0}, "$.num_local_experts: expected int from 1 to"),
            ({"num_experts_per_tok": 0}, "$.num_experts_per_tok: expected int from 1 to"),
            ({"expert_intermediate_dim": -1}, "$.expert_intermediate_dim: expected int from 1"),
            (
                {"shared_expert_intermediate_dim": -1},
                "$.shared_expert_intermediate_dim: expected int from 0",
            ),
            (
                {"num_local_experts": 4, "num_experts_per_tok": 5},
                "$.num_experts_per_tok: must not exceed num_local_experts (4), got 5",
            ),
        ],
    )
    def test_moe_counts(self, kwargs: dict[str, int], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            MoEConfig(**kwargs)
        assert problems(error)[0].startswith(message)

    def test_no_shared_expert_is_zero(self) -> None:
        assert MoEConfig(shared_expert_intermediate_dim=0).shared_expert_intermediate_dim == 0

    def test_constructor_type_checks_python_values(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(num_key_value_heads=True, no_op="false", weights_precision=5)  # type: ignore[arg-type]
        assert problems(error) == [
            "$.no_op: expected bool, got str 'false'",
            "$.weights_precision: expected str, got int 5",
            "$.num_key_value_heads: expected int, got bool True",
        ]

    def test_errors_survive_python_dash_o(self) -> None:
        code = (
            "from block_config import AttentionConfig, BlockConfigError\n"
            "try:\n    AttentionConfig()\nexcept BlockConfigError as e:\n    print(e)\n"
            "try:\n    AttentionConfig(no_op=True, replace_with_linear=True)\n"
            "except BlockConfigError as e:\n    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.splitlines() == [
            "$.num_key_value_heads: required unless the attention is no_op or Mamba",
            "$.replace_with_linear: cannot be true when no_op is true",
        ]


class TestToBlockConfig:
    def test_attention_becomes_a_block_with_no_op_ffn(self) -> None:
        attention = AttentionConfig(num_key_value_heads=8)
        assert attention.to_blockconfig() == BlockConfig(
            attention=attention, ffn=FFNConfig(no_op=True)
        )

    def test_ffn_becomes_a_block_with_no_op_attention(self) -> None:
        ffn = FFNConfig(intermediate_size=64)
        assert ffn.to_blockconfig() == BlockConfig(attention=AttentionConfig(no_op=True), ffn=ffn)

    def test_base_subblock_has_no_block(self) -> None:
        with pytest.raises(NotImplementedError):
            SubblockConfig().to_blockconfig()


class TestInitialisationFromDicts:
    def test_nested_mappings_are_structured(self) -> None:
        block = BlockConfig(
            attention={"num_key_value_heads": 8, "llama4": {"attention_chunk_size": 8192}},
            ffn={"moe": {"num_local_experts": 16, "num_experts_per_tok": 1}},
            parallel_blocks=[{"ffn": {"intermediate_size": 4}}],
        )
        assert block.attention == AttentionConfig(
            num_key_value_heads=8, llama4=Llama4AttentionConfig(attention_chunk_size=8192)
        )
        assert block.ffn is not None
        assert block.ffn.moe == MoEConfig(num_local_experts=16, num_experts_per_tok=1)
        assert block.parallel_blocks == (BlockConfig(ffn=FFNConfig(intermediate_size=4)),)

    def test_saved_dict_round_trips_through_the_constructor(self) -> None:
        block = BlockConfig(
            attention={"mamba": MAMBA}, ffn={"intermediate_size": 8}, parallel_blocks=[]
        )
        assert BlockConfig(**block.to_dict()) == block

    def test_nested_mapping_errors_carry_their_path(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(parallel_blocks=[{}, {"attention": {"num_key_value_heads": "8"}}])
        assert problems(error) == [
            "$.parallel_blocks[1].attention.num_key_value_heads: expected int, got str '8'"
        ]

    def test_constructor_reports_every_problem_like_from_dict(self) -> None:
        data: dict[str, Any] = {
            "attention": {"num_key_value_heads": "8"},
            "ffn": {"no_op": "false"},
            "parallel_blocks": [{"ffn": {}}],
        }
        with pytest.raises(BlockConfigError) as from_constructor:
            BlockConfig(**data)
        with pytest.raises(BlockConfigError) as from_dict:
            BlockConfig.from_dict(data)
        assert (
            problems(from_constructor)
            == problems(from_dict)
            == [
                "$.attention.num_key_value_heads: expected int, got str '8'",
                "$.ffn.no_op: expected bool, got str 'false'",
                "$.parallel_blocks[0].ffn.intermediate_size: "
                "required unless the FFN is no_op or MoE",
            ]
        )

    def test_unknown_keys_in_nested_mappings_are_errors(self) -> None:
        with pytest.raises(BlockConfigError, match=r"\$\.ffn\.bogus: unknown key"):
            BlockConfig(ffn={"intermediate_size": 4, "bogus": 1})

    def test_mixed_and_empty_parallel_blocks(self) -> None:
        inner = BlockConfig(ffn={"intermediate_size": 4})
        assert BlockConfig(parallel_blocks=[]).parallel_blocks is None
        mixed = BlockConfig(parallel_blocks=[inner, inner.to_dict()])
        assert mixed.parallel_blocks == (inner, inner)


class TestHashing:
    def test_sequences_are_stored_as_tuples_and_hashable(self) -> None:
        block = BlockConfig(
            attention={"num_key_value_heads": 8, "sparsify": ["q_proj", "k_proj"]},
            parallel_blocks=[{"ffn": {"intermediate_size": 4, "sparsify": ("x",)}}],
        )
        assert block.attention is not None
        assert block.attention.sparsify == ("q_proj", "k_proj")
        assert len({block, BlockConfig(**block.to_dict())}) == 1
        assert {block: 1}[BlockConfig(**block.to_dict())] == 1

    def test_a_string_is_not_a_sequence_of_str(self) -> None:
        with pytest.raises(BlockConfigError, match=r"\$\.sparsify: expected list of str, got str"):
            FFNConfig(intermediate_size=4, sparsify="q_proj")


class TestComparison:
    BLOCKS = (
        BlockConfig(attention={"no_op": True}, ffn={"intermediate_size": 5632}),
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 28672}),
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 2816}),
        BlockConfig(ffn={"moe": {}}),
        BlockConfig(parallel_blocks=[{"ffn": {"intermediate_size": 1}}]),
        BlockConfig(),
    )

    def test_orderings_follow_repr(self) -> None:
        for a in self.BLOCKS:
            for b in self.BLOCKS:
                ra, rb = repr(a), repr(b)
                assert (a == b) == (ra == rb)
                assert (a < b) == (ra < rb)
                assert (a <= b) == (ra <= rb)
                assert (a > b) == (ra > rb)
                assert (a >= b) == (ra >= rb)

    def test_sorted_is_deterministic(self) -> None:
        backwards = list(self.BLOCKS)
        backwards.reverse()
        assert sorted(self.BLOCKS) == sorted(backwards)
        assert [repr(b) for b in sorted(self.BLOCKS)] == sorted(repr(b) for b in self.BLOCKS)

    def test_different_classes_compare_by_repr(self) -> None:
        attention = AttentionConfig(no_op=True)
        ffn = FFNConfig(no_op=True)
        assert attention != ffn  # type: ignore[comparison-overlap]
        assert attention < ffn  # "AttentionConfig(" < "FFNConfig("

    def test_other_types_are_not_comparable(self) -> None:
        block = BlockConfig()
        assert block != repr(block)  # type: ignore[comparison-overlap]
        with pytest.raises(TypeError):
            _ = block < 1  # type: ignore[operator]

    def test_negative_zero_is_stored_as_zero(self) -> None:
        a = Llama4AttentionConfig(attention_dropout=-0.0)
        b = Llama4AttentionConfig(attention_dropout=0.0)
        assert a == b
        assert repr(a) == repr(b)

    def test_ints_for_float_fields_become_floats(self) -> None:
        config = Llama4AttentionConfig(attn_scale=1, floor_scale=8192)
        assert type(config.attn_scale) is float
        assert config == Llama4AttentionConfig(attn_scale=1.0, floor_scale=8192.0)
        assert repr(config) == repr(Llama4AttentionConfig(attn_scale=1.0, floor_scale=8192.0))
