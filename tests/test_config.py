"""The seed API on attrs: constructors, defaults, normalisation, requirements, comparison."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any, ClassVar

import attrs
import pytest

from block_config import (
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    BlockConfigError,
    FFNConfig,
    LinearAttentionConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MLAConfig,
    MoEConfig,
    SubblockConfig,
    structure_block_configs,
)

MAMBA = {"state_dim": 128, "num_heads": 64, "head_dim": 64, "num_groups": 8}
#: DeepSeek-V3's attention (config.json of deepseek-ai/DeepSeek-V3).
MLA: dict[str, Any] = {
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
}


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
            "$.num_key_value_heads: "
            "required unless the attention is no_op, Mamba, MLA or linear attention"
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
    def test_moe_counts(self, kwargs: dict[str, Any], message: str) -> None:
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
            "$.num_key_value_heads: "
            "required unless the attention is no_op, Mamba, MLA or linear attention",
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


class TestSlidingWindow:
    def test_defaults_to_full_attention(self) -> None:
        attention = AttentionConfig(num_key_value_heads=8)
        assert attention.sliding_window is None

    def test_a_window_is_kept(self) -> None:
        attention = AttentionConfig(num_key_value_heads=8, sliding_window=4096)
        assert attention.sliding_window == 4096
        assert AttentionConfig(mla=MLA, sliding_window=128).sliding_window == 128

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            (0, "$.sliding_window: expected int from 1 to 9223372036854775807, got 0"),
            (-1, "$.sliding_window: expected int from 1 to 9223372036854775807, got -1"),
            ("4096", "$.sliding_window: expected int, got str '4096'"),
            (True, "$.sliding_window: expected int, got bool True"),
            (4096.0, "$.sliding_window: expected int, got float 4096.0"),
        ],
    )
    def test_strict_counts(self, value: Any, message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(num_key_value_heads=8, sliding_window=value)
        assert problems(error) == [message]

    def test_not_on_no_op_or_mamba(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(no_op=True, sliding_window=8)
        assert problems(error) == ["$.sliding_window: must be null when no_op is true"]
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(mamba=MAMBA, sliding_window=8)
        assert problems(error) == ["$.sliding_window: must be null when mamba is set"]

    def test_reported_at_its_path_in_a_list(self) -> None:
        from block_config import structure_block_configs

        data: list[Any] = [{}, {}, {}, {"attention": {"no_op": True, "sliding_window": 8}}]
        with pytest.raises(BlockConfigError) as error:
            structure_block_configs(data)
        assert problems(error) == ["$[3].attention.sliding_window: must be null when no_op is true"]


class TestMLA:
    def test_fields(self) -> None:
        mla = MLAConfig(**MLA)
        assert (
            mla.q_lora_rank,
            mla.kv_lora_rank,
            mla.qk_nope_head_dim,
            mla.qk_rope_head_dim,
            mla.v_head_dim,
        ) == (1536, 512, 128, 64, 128)
        lite = {key: value for key, value in MLA.items() if key != "q_lora_rank"}
        assert MLAConfig(**lite).q_lora_rank is None

    def test_four_fields_are_required(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            MLAConfig.from_dict({"kv_lora_rank": 512})
        assert problems(error) == [
            "$.qk_nope_head_dim: missing required key",
            "$.qk_rope_head_dim: missing required key",
            "$.v_head_dim: missing required key",
        ]

    def test_strict_counts(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            MLAConfig.from_dict({**MLA, "kv_lora_rank": "512", "q_lora_rank": 0})
        assert problems(error) == [
            "$.kv_lora_rank: expected int, got str '512'",
            "$.q_lora_rank: expected int from 1 to 9223372036854775807, got 0",
        ]

    def test_no_rope_slice_is_allowed(self) -> None:
        nope = MLAConfig.from_dict({**MLA, "qk_rope_head_dim": 0, "qk_nope_head_dim": 192})
        assert nope.qk_rope_head_dim == 0
        with pytest.raises(BlockConfigError) as error:
            MLAConfig.from_dict({**MLA, "qk_rope_head_dim": -1})
        assert problems(error) == [
            "$.qk_rope_head_dim: expected int from 0 to 9223372036854775807, got -1"
        ]

    def test_an_mla_attention_drops_its_kv_heads(self) -> None:
        attention = AttentionConfig(mla=MLA, num_key_value_heads=128)
        assert attention.num_key_value_heads is None
        assert attention.is_mla
        assert attention.mla == MLAConfig(**MLA)
        assert AttentionConfig(mla=MLA) == attention
        assert not AttentionConfig(num_key_value_heads=8).is_mla

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"no_op": True}, "$.mla: must be null when no_op is true"),
            ({"mamba": MAMBA}, "$.mla: must be null when mamba is set"),
            ({"llama4": {}}, "$.mla: must be null when llama4 is set"),
        ],
    )
    def test_one_kind_of_attention_at_a_time(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(mla=MLA, **fields)
        assert problems(error) == [message]

    def test_nested_problems_carry_their_path(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(attention={"mla": {**MLA, "v_head_dim": None}})
        assert problems(error) == ["$.attention.mla.v_head_dim: expected int, got null"]


class TestMLAIndexer:
    INDEXER: ClassVar[dict[str, Any]] = {"index_n_heads": 64, "index_head_dim": 128}

    def test_the_indexer_is_set_by_both_fields(self) -> None:
        mla = MLAConfig(**MLA, **self.INDEXER)
        assert mla.has_indexer
        assert (mla.index_n_heads, mla.index_head_dim) == (64, 128)
        assert not MLAConfig(**MLA).has_indexer

    def test_it_is_written_and_shown_only_when_set(self) -> None:
        plain = MLAConfig(**MLA)
        assert "index" not in repr(plain)
        assert "index_n_heads" not in plain.to_dict()
        indexed = MLAConfig(**MLA, **self.INDEXER)
        assert repr(indexed).endswith("q_lora_rank=1536, index_n_heads=64, index_head_dim=128)")
        assert indexed.to_dict() == {**MLA, **self.INDEXER}
        assert MLAConfig.from_dict(indexed.to_dict()) == indexed

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            (
                {"index_n_heads": 64},
                "$.index_head_dim: required with the other indexer field: an indexer has both",
            ),
            (
                {"index_head_dim": 128},
                "$.index_n_heads: required with the other indexer field: an indexer has both",
            ),
            (
                {"index_n_heads": 64, "index_head_dim": 128, "q_lora_rank": None},
                "$.q_lora_rank: required with an indexer that reads the query latent "
                "(index_from_hidden is not set)",
            ),
            (
                {"index_n_heads": 0, "index_head_dim": 128},
                "$.index_n_heads: expected int from 1 to 9223372036854775807, got 0",
            ),
            (
                {"index_n_heads": 64, "index_head_dim": True},
                "$.index_head_dim: expected int, got bool True",
            ),
        ],
    )
    def test_an_indexer_is_whole(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            MLAConfig.from_dict({**MLA, **fields})
        assert problems(error) == [message]

    def test_pooled_keys_are_written_only_when_set_and_need_the_indexer(self) -> None:
        pooled = MLAConfig(**MLA, **self.INDEXER, index_kpool=4)
        assert pooled.index_kpool == 4
        assert MLAConfig(**MLA, **self.INDEXER).index_kpool is None
        assert "index_kpool" not in MLAConfig(**MLA, **self.INDEXER).to_dict()
        assert repr(pooled).endswith("index_head_dim=128, index_kpool=4)")
        assert pooled.to_dict() == {**MLA, **self.INDEXER, "index_kpool": 4}
        assert MLAConfig.from_dict(pooled.to_dict()) == pooled
        with pytest.raises(BlockConfigError) as error:
            MLAConfig.from_dict({**MLA, "index_kpool": 4})
        assert problems(error) == [
            "$.index_kpool: must be null without an indexer: it pools the indexer's keys"
        ]
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(attention={"mla": {**MLA, **self.INDEXER, "index_kpool": 0}})
        assert problems(error) == [
            "$.attention.mla.index_kpool: expected int from 1 to 9223372036854775807, got 0"
        ]

    def test_nested_problems_carry_their_path(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(attention={"mla": {**MLA, "index_n_heads": 8}})
        assert problems(error) == [
            "$.attention.mla.index_head_dim: required with the other indexer field: an indexer "
            "has both"
        ]


class TestGated:
    def test_gated_by_default(self) -> None:
        ffn = FFNConfig(intermediate_size=8)
        assert ffn.gated is None
        assert ffn.is_gated
        assert MoEConfig().gated is None
        assert MoEConfig().is_gated

    def test_true_is_normalised_to_none(self) -> None:
        assert FFNConfig(intermediate_size=8, gated=True).gated is None
        assert FFNConfig(intermediate_size=8, gated=True) == FFNConfig(intermediate_size=8)
        assert MoEConfig(gated=True) == MoEConfig()

    def test_two_matrix_mlps(self) -> None:
        ffn = FFNConfig(intermediate_size=8, gated=False)
        assert ffn.gated is False
        assert not ffn.is_gated
        assert ffn != FFNConfig(intermediate_size=8)
        moe = MoEConfig(gated=False)
        assert not moe.is_gated
        assert not FFNConfig(moe=moe).is_gated
        assert FFNConfig(moe={}).is_gated

    def test_dropped_where_meaningless(self) -> None:
        assert FFNConfig(no_op=True, gated=False).gated is None
        on_moe = FFNConfig(moe={}, gated=False)
        assert on_moe.gated is None
        assert on_moe.is_gated  # the experts say it, and they are gated

    @pytest.mark.parametrize("value", [1, 0, "false", "true", 1.0])
    def test_strict_bools(self, value: Any) -> None:
        with pytest.raises(BlockConfigError) as error:
            FFNConfig(intermediate_size=8, gated=value)
        assert problems(error) == [f"$.gated: expected bool, got {type(value).__name__} {value!r}"]
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(ffn={"moe": {"gated": value}})
        assert problems(error)[0].startswith("$.ffn.moe.gated: expected bool")


#: Qwen3-Next's Gated DeltaNet (its model card and transformers' Qwen3NextConfig).
GDN = {
    "kind": "gdn",
    "num_key_heads": 16,
    "key_head_dim": 128,
    "num_value_heads": 32,
    "value_head_dim": 128,
}
#: Kimi-Linear's Kimi Delta Attention.
KDA = {
    "kind": "kda",
    "num_key_heads": 32,
    "key_head_dim": 128,
    "num_value_heads": 32,
    "value_head_dim": 128,
}


class TestLinearAttention:
    def test_fields_and_defaults(self) -> None:
        linear = LinearAttentionConfig(
            kind="gdn", num_key_heads=16, key_head_dim=128, num_value_heads=32, value_head_dim=128
        )
        assert linear == LinearAttentionConfig.from_dict(GDN)
        assert (linear.conv_kernel, linear.fused_projections) == (4, False)
        assert linear.conv_dim == 2 * 16 * 128 + 32 * 128
        assert LinearAttentionConfig.from_dict(KDA).conv_dim == 3 * 32 * 128

    def test_a_linear_attention_drops_its_kv_heads(self) -> None:
        attention = AttentionConfig(linear_attention=GDN, num_key_value_heads=2)
        assert attention.num_key_value_heads is None
        assert attention.is_linear_attention
        assert not attention.is_mla
        assert AttentionConfig(linear_attention=GDN) == attention
        assert not AttentionConfig(num_key_value_heads=2).is_linear_attention

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"kind": "mamba"}, "$.kind: expected one of gdn, kda, got 'mamba'"),
            (
                {"num_value_heads": 24},
                "$.num_value_heads: must be a multiple of num_key_heads (16), got 24",
            ),
            (
                {"kind": "kda"},
                "$.num_value_heads: must equal num_key_heads (16) for kda, got 32",
            ),
            (
                {"kind": "kda", "num_value_heads": 16, "value_head_dim": 64},
                "$.value_head_dim: must equal key_head_dim (128) for kda, got 64",
            ),
            (
                {"kind": "kda", "num_value_heads": 16, "fused_projections": True},
                "$.fused_projections: must be false for kda",
            ),
        ],
    )
    def test_heads_fit_the_kind(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            LinearAttentionConfig.from_dict({**GDN, **fields})
        assert problems(error) == [message]

    def test_strict_values(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            LinearAttentionConfig.from_dict({**GDN, "conv_kernel": 4.0, "fused_projections": 1})
        assert problems(error) == [
            "$.conv_kernel: expected int, got float 4.0",
            "$.fused_projections: expected bool, got int 1",
        ]
        with pytest.raises(BlockConfigError) as error:
            LinearAttentionConfig.from_dict({"kind": "gdn"})
        assert problems(error)[0] == "$.num_key_heads: missing required key"

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"no_op": True}, "$.linear_attention: must be null when no_op is true"),
            ({"mamba": MAMBA}, "$.linear_attention: must be null when mamba is set"),
            ({"mla": MLA}, "$.linear_attention: must be null when mla is set"),
            ({"llama4": {}}, "$.llama4: must be null when linear_attention is set"),
            ({"sliding_window": 8}, "$.sliding_window: must be null when linear_attention is set"),
            ({"output_gate": True}, "$.output_gate: must be null when linear_attention is set"),
        ],
    )
    def test_one_kind_of_attention_at_a_time(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(linear_attention=GDN, **fields)
        assert problems(error) == [message]

    def test_a_linear_replacement_keeps_what_it_replaces(self) -> None:
        attention = AttentionConfig(replace_with_linear=True, linear_attention=KDA)
        assert attention.linear_attention == LinearAttentionConfig.from_dict(KDA)

    def test_nested_problems_carry_their_path(self) -> None:
        with pytest.raises(BlockConfigError) as error:
            BlockConfig(attention={"linear_attention": {**GDN, "key_head_dim": 0}})
        assert problems(error) == [
            "$.attention.linear_attention.key_head_dim: "
            "expected int from 1 to 9223372036854775807, got 0"
        ]

    def test_written_and_shown_only_when_set(self) -> None:
        attention = AttentionConfig(linear_attention=GDN)
        written = attention.to_dict()
        assert written["linear_attention"] == {**GDN, "conv_kernel": 4, "fused_projections": False}
        assert "output_gate" not in written
        assert "linear_attention=LinearAttentionConfig(kind='gdn'" in repr(attention)
        assert AttentionConfig.from_dict(written) == attention


class TestOutputGate:
    def test_a_gqa_attention_with_a_gate(self) -> None:
        gated = AttentionConfig(num_key_value_heads=2, output_gate=True)
        assert gated.output_gate is True
        assert gated != AttentionConfig(num_key_value_heads=2)
        assert gated.to_dict()["output_gate"] is True
        assert repr(gated).endswith("mamba=None, output_gate=True)")

    def test_false_is_normalised_to_none(self) -> None:
        plain = AttentionConfig(num_key_value_heads=2, output_gate=False)
        assert plain.output_gate is None
        assert plain == AttentionConfig(num_key_value_heads=2)
        assert "output_gate" not in plain.to_dict()
        assert AttentionConfig(no_op=True, output_gate=False).output_gate is None

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"no_op": True}, "$.output_gate: must be null when no_op is true"),
            ({"mamba": MAMBA}, "$.output_gate: must be null when mamba is set"),
            ({"mla": MLA}, "$.output_gate: must be null when mla is set"),
        ],
    )
    def test_only_on_grouped_query_attention(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(output_gate=True, **fields)
        assert problems(error) == [message]

    @pytest.mark.parametrize("value", [1, "true", 0])
    def test_strict_bools(self, value: Any) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig(num_key_value_heads=2, output_gate=value)
        assert problems(error) == [
            f"$.output_gate: expected bool, got {type(value).__name__} {value!r}"
        ]


class TestALayersOwnHeads:
    def test_set_where_the_layer_differs(self) -> None:
        attention = AttentionConfig(num_key_value_heads=4, num_attention_heads=16, head_dim=256)
        assert repr(attention).endswith("num_attention_heads=16, head_dim=256)")
        assert attention.to_dict()["head_dim"] == 256
        assert AttentionConfig(mla={**MLA}, num_attention_heads=16).num_attention_heads == 16

    @pytest.mark.parametrize(
        ("given", "message"),
        [
            (
                {"no_op": True, "num_attention_heads": 8},
                "$.num_attention_heads: must be null when no_op is true",
            ),
            ({"no_op": True, "head_dim": 8}, "$.head_dim: must be null when no_op is true"),
            (
                {"mamba": MAMBA, "num_attention_heads": 8},
                "$.num_attention_heads: must be null when mamba is set",
            ),
            ({"mamba": MAMBA, "head_dim": 8}, "$.head_dim: must be null when mamba is set"),
            ({"mla": MLA, "head_dim": 8}, "$.head_dim: must be null when mla is set"),
            ({"num_key_value_heads": 2, "head_dim": 0}, "$.head_dim: expected int from 1 to"),
            (
                {"num_key_value_heads": 2, "num_attention_heads": 2.0},
                "$.num_attention_heads: expected int",
            ),
        ],
    )
    def test_rules(self, given: dict[str, Any], message: str) -> None:
        with pytest.raises(BlockConfigError) as error:
            AttentionConfig.from_dict(given)
        assert problems(error)[0].startswith(message)
        with pytest.raises(BlockConfigError) as error:
            structure_block_configs([{"attention": given, "ffn": {"no_op": True}}])
        assert problems(error)[0].startswith(message.replace("$.", "$[0].attention.", 1))

    def test_latent_moe(self) -> None:
        moe = MoEConfig(latent_dim=1024)
        assert moe.to_dict()["latent_dim"] == 1024
        assert "latent_dim" not in MoEConfig().to_dict()
        with pytest.raises(BlockConfigError) as error:
            MoEConfig.from_dict({"latent_dim": True})
        assert problems(error) == ["$.latent_dim: expected int, got bool True"]


class TestNewFieldsKeepTheSeedShape:
    def test_positional_order_is_the_seeds_then_the_new_fields(self) -> None:
        assert [f.name for f in attrs.fields(AttentionConfig)] == [
            "no_op",
            "replace_with_linear",
            "sparsify",
            "weights_precision",
            "num_key_value_heads",
            "llama4",
            "mamba",
            "sliding_window",
            "mla",
            "num_attention_heads",
            "head_dim",
            "linear_attention",
            "output_gate",
            "kv_source_layer",
            "compressed_attention",
            "values_from_keys",
        ]
        assert [f.name for f in attrs.fields(FFNConfig)][-1] == "gated"
        assert [f.name for f in attrs.fields(MoEConfig)][-3:] == [
            "gated",
            "latent_dim",
            "hash_routed",
        ]

    def test_unset_fields_are_neither_shown_nor_written(self) -> None:
        block = BlockConfig(attention={"num_key_value_heads": 8}, ffn={"moe": {}})
        assert repr(block) == (
            "BlockConfig(attention=AttentionConfig(no_op=False, replace_with_linear=False, "
            "sparsify=None, weights_precision='bf16', num_key_value_heads=8, llama4=None, "
            "mamba=None), ffn=FFNConfig(no_op=False, replace_with_linear=False, sparsify=None, "
            "weights_precision='bf16', moe=MoEConfig(num_local_experts=8, num_experts_per_tok=1, "
            "expert_intermediate_dim=8192, shared_expert_intermediate_dim=8192), "
            "intermediate_size=None), parallel_blocks=None)"
        )
        written = block.to_dict()
        assert "sliding_window" not in written["attention"]
        assert "mla" not in written["attention"]
        assert "gated" not in written["ffn"]
        assert "gated" not in written["ffn"]["moe"]

    def test_set_fields_are_shown_and_written_after_the_seeds(self) -> None:
        attention = AttentionConfig(num_key_value_heads=8, sliding_window=4096)
        assert repr(attention).endswith("llama4=None, mamba=None, sliding_window=4096)")
        assert list(attention.to_dict())[-1] == "sliding_window"
        ffn = FFNConfig(intermediate_size=8, gated=False)
        assert repr(ffn).endswith("intermediate_size=8, gated=False)")
        assert ffn.to_dict()["gated"] is False

    def test_equality_hash_and_order_agree_with_repr(self) -> None:
        plain = AttentionConfig(num_key_value_heads=8)
        explicit = AttentionConfig(num_key_value_heads=8, sliding_window=None, mla=None)
        windowed = AttentionConfig(num_key_value_heads=8, sliding_window=4096)
        assert plain == explicit
        assert hash(plain) == hash(explicit)
        assert repr(plain) == repr(explicit)
        assert plain != windowed
        assert sorted([windowed, plain]) == [plain, windowed]
        assert sorted([plain, windowed]) == [plain, windowed]
        assert len({plain, explicit, windowed}) == 2

    def test_pickle_keeps_the_new_fields(self) -> None:
        block = BlockConfig(
            attention={"mla": MLA, "sliding_window": 8},
            ffn={"intermediate_size": 8, "gated": False},
        )
        again = pickle.loads(pickle.dumps(block))
        assert again == block
        assert repr(again) == repr(block)
